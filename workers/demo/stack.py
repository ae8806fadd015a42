"""Everything the demo starts, and the guarantee that it all stops and its temp files go.

Each start registers its own undo on one ``ExitStack`` right away, so whatever point a failure,
a Ctrl-C or a SIGTERM interrupts, closing the stack stops exactly what was started, newest first
(workers before the broker and Postgres they talk to), and removes the run directory.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import tempfile
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg import sql
from rich.console import Console

from workers.demo.children import Child, spawn
from workers.demo.progress import step
from workers.kafka.clients import new_admin
from workers.services import lifeline
from workers.services.broker import start_broker
from workers.services.database import apply_schema, create_database
from workers.services.postgres import start_postgres

DEMO_DATABASE = "pulse_demo"
POSTGRES_EXIT_TIMEOUT_S = 15.0


@dataclass
class Stopped:
    what: str
    pid: int | None


@dataclass
class DemoStack:
    console: Console
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    exit: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)
    stopped: list[Stopped] = field(default_factory=list)
    removed: list[Path] = field(default_factory=list)
    rundir: Path | None = None
    external_database: bool = False
    external_kafka: bool = False

    def open(self) -> Path:
        rundir = Path(tempfile.mkdtemp(prefix="pulse-demo-"))
        lifeline.watch_path(rundir)
        self.rundir = rundir
        self.exit.callback(self._remove_tree, rundir)
        return rundir

    def close(self) -> None:
        self.exit.close()

    def _remove_tree(self, path: Path) -> None:
        shutil.rmtree(path, ignore_errors=True)
        if not path.exists():
            self.removed.append(path)
            lifeline.forget_path(path)

    def database(self, database_url: str | None) -> str:
        """The DSN the demo writes to: DATABASE_URL with the schema applied, or a throwaway one."""
        if database_url:
            self.external_database = True
            with step(self.console, "applying the schema to DATABASE_URL") as outcome:
                apply_schema(database_url)
                outcome.result = "tables, triggers and publication in place"
            return database_url
        with step(self.console, "starting a throwaway PostgreSQL") as outcome:
            cluster = start_postgres()
            postmaster_pid = _postmaster_pid(cluster.datadir)
            self.exit.callback(
                self._stop_postgres, cluster.stop, cluster.datadir.parent, postmaster_pid
            )
            outcome.result = f"127.0.0.1:{cluster.port}, pid {postmaster_pid}"
        with step(self.console, f"creating database {DEMO_DATABASE} and applying the schema"):
            return create_database(cluster.dsn, DEMO_DATABASE)

    def _stop_postgres(self, stop: Callable[[], None], base: Path, pid: int | None) -> None:
        stop()
        if pid is not None:
            _wait_until_gone(pid, POSTGRES_EXIT_TIMEOUT_S)
        self.stopped.append(Stopped("postgres", pid))
        if not base.exists():
            self.removed.append(base)

    def broker(self, bootstrap_servers: str | None) -> str:
        if bootstrap_servers:
            self.external_kafka = True
            return bootstrap_servers
        with step(self.console, "starting a throwaway broker") as outcome:
            broker = start_broker(say=self.console.print, tansu_fallback=True)

            def stop_broker() -> None:
                broker.stop()
                self.stopped.append(Stopped("broker", broker.pid))
                self.removed.append(broker.files)

            self.exit.callback(stop_broker)
            outcome.result = f"{broker.name} on {broker.bootstrap_servers}, pid {broker.pid}"
        return broker.bootstrap_servers

    def spawn(self, name: str, argv: Sequence[str], env: Mapping[str, str]) -> Child:
        assert self.rundir is not None, "open() first"
        child = spawn(name, argv, env, self.rundir)

        def stop_child() -> None:
            child.stop()
            self.stopped.append(Stopped(name, child.pid))

        self.exit.callback(stop_child)
        return child

    def on_close(self, what: str, undo: Callable[[], None]) -> None:
        """Registers an extra undo (a replication slot, topics) run when the stack closes."""

        def run() -> None:
            try:
                undo()
            except Exception as exc:
                self.console.print(
                    f"[yellow]cleanup of {what} failed: {exc}[/yellow]", highlight=False
                )

        self.exit.callback(run)


def _wait_until_gone(pid: int, within_s: float) -> None:
    """pg_ctl returns once the pid file is gone, a moment before the postmaster has exited."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        except PermissionError:
            pass
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, signal.SIGKILL)


def _postmaster_pid(datadir: Path) -> int | None:
    try:
        return int((datadir / "postmaster.pid").read_text().splitlines()[0])
    except (OSError, ValueError, IndexError):
        return None


def child_environment(extra: Mapping[str, str]) -> dict[str, str]:
    env = dict(os.environ)
    env.update(extra)
    return env


def drop_slot_and_publication(dsn: str, name: str) -> None:
    """Removes the run's replication slot and publication from a database the demo did not start."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
            "WHERE slot_name = %s AND NOT active",
            (name,),
        )
        conn.execute(sql.SQL("DROP PUBLICATION IF EXISTS {}").format(sql.Identifier(name)))


def delete_run_topics(bootstrap: str, run_id: str) -> None:
    """Deletes the run's topics (its own and the stream worker's changelogs) from a broker the
    demo did not start; every one of them has the run id in its name."""
    asyncio.run(_delete_run_topics(bootstrap, run_id))


async def _delete_run_topics(bootstrap: str, run_id: str) -> None:
    admin = new_admin(bootstrap)
    await admin.start()
    try:
        ours = [name for name in await admin.list_topics() if run_id in name]
        if ours:
            await admin.delete_topics(ours)
    finally:
        await admin.close()
