"""A throwaway PostgreSQL cluster: initdb into a temp dir, logical WAL, a free loopback port.

PostgreSQL refuses to run as root, so when this process is root the cluster is created and run
as the ``postgres`` system user.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from workers.services import lifeline
from workers.services.ports import free_port, wait_for_port

SERVER_SETTINGS = {
    "wal_level": "logical",
    "max_replication_slots": "20",
    "max_wal_senders": "20",
    "fsync": "off",
    # synchronous_commit stays on: a walsender only sends WAL that is flushed, so with it off
    # every change would wait for the WAL writer's next round (wal_writer_delay, 200 ms).
    "full_page_writes": "off",
    "listen_addresses": "'127.0.0.1'",
    "max_connections": "200",
    "shared_buffers": "256MB",
    "unix_socket_directories": "''",
}


class PostgresNotFound(RuntimeError):
    pass


def find_pg_bindir() -> Path:
    """Locate the server binaries: $PG_BINDIR, then Debian's layout, then PATH."""
    explicit = os.environ.get("PG_BINDIR")
    candidates = [Path(explicit)] if explicit else []
    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(Path(on_path).resolve().parent)
    for candidate in candidates:
        if (candidate / "initdb").exists() and (candidate / "pg_ctl").exists():
            return candidate
    raise PostgresNotFound(
        "PostgreSQL server binaries (initdb, pg_ctl) not found. Install them "
        "(Debian: apt-get install postgresql) or set PG_BINDIR, or point DATABASE_URL at a server."
    )


@dataclass
class PostgresCluster:
    """A running throwaway cluster; ``dsn`` connects as the superuser ``postgres``."""

    datadir: Path
    port: int
    bindir: Path
    run_as: str | None
    postmaster_pid: int | None = None

    @property
    def dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def cmd(self, *args: str) -> list[str]:
        if self.run_as is None:
            return list(args)
        return ["runuser", "-u", self.run_as, "--", *args]

    def stop_server(self, mode: str = "fast") -> None:
        """Stop the server and keep its data (``mode``: fast, a clean shutdown; immediate, as
        in a crash); ``start_server`` brings it back on the same port."""
        subprocess.run(
            self.cmd(
                str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-m", mode, "-w", "stop"
            ),
            check=True,
            capture_output=True,
        )
        if self.postmaster_pid is not None:
            lifeline.forget(self.postmaster_pid)
            self.postmaster_pid = None

    def start_server(self) -> None:
        # The log file keeps the server off pg_ctl's stdout, which subprocess.run would wait on.
        subprocess.run(
            self.cmd(
                str(self.bindir / "pg_ctl"),
                "-D",
                str(self.datadir),
                "-l",
                str(self.datadir.parent / "server.log"),
                "-w",
                "-t",
                "60",
                "start",
            ),
            check=True,
            capture_output=True,
        )
        # pg_ctl makes the postmaster a session leader, so its group is the whole server.
        self.postmaster_pid = int((self.datadir / "postmaster.pid").read_text().split()[0])
        lifeline.watch(self.postmaster_pid)
        wait_for_port(self.port, 30, "PostgreSQL")

    def stop(self) -> None:
        if (self.datadir / "postmaster.pid").exists():
            subprocess.run(
                self.cmd(
                    str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-m", "immediate", "stop"
                ),
                check=False,
                capture_output=True,
            )
        if self.postmaster_pid is not None:
            lifeline.forget(self.postmaster_pid)
        shutil.rmtree(self.datadir.parent, ignore_errors=True)
        lifeline.forget_path(self.datadir.parent)


def start_postgres(log: bool = False) -> PostgresCluster:
    bindir = find_pg_bindir()
    run_as = "postgres" if os.geteuid() == 0 else None
    base = Path(tempfile.mkdtemp(prefix="pulse-pg-"))
    lifeline.watch_path(base)
    datadir = base / "data"
    if run_as is not None:
        uid = pwd.getpwnam(run_as).pw_uid
        os.chown(base, uid, -1)
    cluster = PostgresCluster(datadir=datadir, port=free_port(), bindir=bindir, run_as=run_as)
    try:
        subprocess.run(
            cluster.cmd(
                str(bindir / "initdb"),
                "-D",
                str(datadir),
                "-U",
                "postgres",
                "--auth=trust",
                "--no-sync",
                "-E",
                "UTF8",
                "--locale=C",
            ),
            check=True,
            capture_output=True,
        )
        with (datadir / "postgresql.conf").open("a") as conf:
            for key, value in {**SERVER_SETTINGS, "port": str(cluster.port)}.items():
                conf.write(f"{key} = {value}\n")
        cluster.start_server()
    except subprocess.CalledProcessError as exc:
        cluster.stop()
        detail = (exc.stderr or b"").decode(errors="replace").strip()
        raise RuntimeError(f"starting the throwaway PostgreSQL failed: {detail}") from exc
    except BaseException:
        cluster.stop()
        raise
    return cluster


@contextlib.contextmanager
def throwaway_postgres() -> Iterator[PostgresCluster]:
    cluster = start_postgres()
    try:
        yield cluster
    finally:
        cluster.stop()
