"""The demo's worker processes: each in its own process group, its output in a log file.

A child gets its own session so that a Ctrl-C in the terminal reaches only the demo, which then
stops the children in order (ingest drains before the stream worker goes). Stopping signals the
whole group, so anything a child spawned goes with it.
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from workers.services import lifeline
from workers.services.processes import signal_group

STOP_TIMEOUT_S = 15.0


@dataclass
class Child:
    name: str
    process: subprocess.Popen[bytes]
    logfile: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def running(self) -> bool:
        return self.process.poll() is None

    def log_tail(self, lines: int = 20) -> str:
        try:
            text = self.logfile.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> int | None:
        """SIGTERM to the group, SIGKILL after ``timeout``; returns the exit status."""
        if self.running():
            signal_group(self.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                signal_group(self.pid, signal.SIGKILL)
                self.process.wait()
        # The leader may be gone while something it started still holds the group.
        signal_group(self.pid, signal.SIGKILL)
        lifeline.forget(self.pid)
        return self.process.returncode


def spawn(name: str, argv: Sequence[str], env: Mapping[str, str], logdir: Path) -> Child:
    logfile = logdir / f"{name}.log"
    with logfile.open("wb") as out:
        process = subprocess.Popen(
            list(argv),
            env=dict(env),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    lifeline.watch(process.pid)
    return Child(name=name, process=process, logfile=logfile)


def wait_for_log_line(child: Child, needle: str, timeout: float) -> bool:
    """Whether ``needle`` shows up in the child's log before ``timeout`` (False if it exits)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if needle in child.logfile.read_text(errors="replace"):
                return True
        except OSError:
            pass
        if not child.running():
            return False
        time.sleep(0.1)
    return False
