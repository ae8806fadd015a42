"""Stopping a process's children when it dies without stopping them (SIGKILL, the OOM killer).

The broker, the throwaway PostgreSQL and the workers the demo, the bench and ``pulse rebuild``
start each run in a session of their own, so a terminal's Ctrl-C reaches only their parent, which
stops them in order. Nothing stops them when the parent is killed outright: they would keep their
ports, their memory and their temporary files. So the first child registered starts a watcher
process that reads a pipe only the parent writes to. The kernel closes that pipe whenever the
parent exits, however it exits; the watcher then stops every process group still registered,
newest first, since the later children use the earlier ones (the workers use the broker): a
SIGCONT (a test may have paused it) and a SIGINT, which every one of these children takes as
"shut down", then SIGKILL if the group is still there after a grace period. A parent forgets a
group once it has stopped it, so the watcher never signals a group whose id has been reused.
Temporary files and directories registered the same way (a PostgreSQL data directory, a worker's
state, the broker's log) are removed once the groups are stopped.

The watcher is this module: ``python -m workers.services.lifeline``, one line per change on its
standard input: ``+group <pgid>``, ``-group <pgid>``, ``+path <path>``, ``-path <path>``. It runs
in a session of its own, so the signals of the parent's terminal do not reach it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import structlog

from workers.services.processes import PGRP, is_zombie, signal_group, stat_fields

GRACE_S = 10.0
POLL_S = 0.1

log = structlog.get_logger("pulse.lifeline")


class Lifeline:
    """The parent's side: registers process groups with a watcher started on first use."""

    def __init__(self, grace_s: float = GRACE_S) -> None:
        self._grace_s = grace_s
        self._lock = threading.Lock()
        self._pipe: IO[bytes] | None = None
        self._watcher: subprocess.Popen[bytes] | None = None
        self._broken = False

    def watch(self, pgid: int) -> None:
        """Stop group ``pgid`` (SIGINT, then SIGKILL) if this process dies before ``forget``."""
        self._send(f"+group {pgid}\n")

    def forget(self, pgid: int) -> None:
        self._send(f"-group {pgid}\n")

    def watch_path(self, path: Path) -> None:
        """Remove ``path`` (after the groups) if this process dies before ``forget_path``."""
        self._send(f"+path {path}\n")

    def forget_path(self, path: Path) -> None:
        self._send(f"-path {path}\n")

    @property
    def watcher_pid(self) -> int | None:
        return None if self._watcher is None else self._watcher.pid

    def _send(self, line: str) -> None:
        with self._lock:
            if self._broken:
                return
            try:
                if self._pipe is None:
                    self._pipe = self._start_watcher()
                self._pipe.write(line.encode())
                self._pipe.flush()
            except OSError as exc:
                # Children are still stopped on every orderly exit; only a killed parent's
                # children are left running, which is what the warning says.
                self._broken = True
                log.warning(
                    "cannot watch child processes; if this process is killed they keep running",
                    error=repr(exc),
                )

    def _start_watcher(self) -> IO[bytes]:
        self._watcher = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "workers.services.lifeline",
                str(self._grace_s),
                str(os.getpid()),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            start_new_session=True,
        )
        assert self._watcher.stdin is not None
        return self._watcher.stdin


_default = Lifeline()


def watch(pgid: int) -> None:
    """Register ``pgid`` with this process's watcher (see the module's docstring)."""
    _default.watch(pgid)


def forget(pgid: int) -> None:
    """Unregister ``pgid``, once this process has stopped that group itself."""
    _default.forget(pgid)


def watch_path(path: Path) -> None:
    """Register a temporary file or directory with this process's watcher."""
    _default.watch_path(path)


def forget_path(path: Path) -> None:
    """Unregister ``path``, once this process has removed it itself."""
    _default.forget_path(path)


@dataclass
class Registered:
    """What the parent left registered, each list oldest first."""

    groups: list[int] = field(default_factory=list)
    paths: list[Path] = field(default_factory=list)


def registered(lines: Iterable[bytes]) -> Registered:
    """What is still registered after the parent's lines; lines of no known form are skipped."""
    groups: dict[int, None] = {}
    paths: dict[Path, None] = {}
    for raw in lines:
        op, _, arg = raw.decode(errors="replace").rstrip("\n").partition(" ")
        sign, kind = op[:1], op[1:]
        entries: dict[Any, None]
        key: Any
        if kind == "group" and arg.isdigit():
            entries, key = groups, int(arg)
        elif kind == "path" and arg:
            entries, key = paths, Path(arg)
        else:
            continue
        if sign == "+":
            entries[key] = None
        elif sign == "-":
            entries.pop(key, None)
    return Registered(list(groups), list(paths))


def group_running(pgid: int) -> bool:
    """Whether a member of group ``pgid`` is still running.

    A signal reaches a zombie too, so signalling cannot tell: an exited child stays a zombie
    until whoever inherited it reaps it, which some container init processes never do.
    """
    try:
        entries = os.listdir("/proc")
    except OSError:
        return signal_group(pgid, signal.SIGCONT)
    for entry in entries:
        fields = stat_fields(int(entry)) if entry.isdigit() else None
        if fields is not None and int(fields[PGRP]) == pgid and not is_zombie(fields):
            return True
    return False


def stop_group(pgid: int, grace_s: float) -> bool:
    """SIGCONT and SIGINT, then SIGKILL if still running after ``grace_s``; True if killed."""
    if not group_running(pgid):
        return False
    signal_group(pgid, signal.SIGCONT)
    signal_group(pgid, signal.SIGINT)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        time.sleep(POLL_S)
        if not group_running(pgid):
            return False
    signal_group(pgid, signal.SIGKILL)
    return True


def stop_groups(groups: list[int], grace_s: float) -> list[int]:
    """Stops ``groups`` one at a time, the last registered first; returns those killed."""
    return [pgid for pgid in reversed(groups) if stop_group(pgid, grace_s)]


def main(argv: list[str]) -> int:
    grace_s, parent = float(argv[0]), argv[1]
    left = registered(sys.stdin.buffer)
    if not left.groups and not left.paths:
        return 0
    killed = stop_groups(left.groups, grace_s)
    for path in left.paths:
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                path.unlink(missing_ok=True)
    done = []
    if left.groups:
        done.append(f"stopped process groups {list(reversed(left.groups))}")
    if killed:
        done.append(f"killed {killed} after {grace_s:.0f} s")
    if left.paths:
        done.append(f"removed {', '.join(str(p) for p in left.paths)}")
    with contextlib.suppress(OSError):
        sys.stderr.write(
            f"pulse: process {parent} went away without stopping what it started; "
            + "; ".join(done)
            + "\n"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
