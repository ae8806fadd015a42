"""Looking at and signalling processes by pid and process group, from /proc and killpg."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

# Positions in /proc/<pid>/stat after the command name (see proc(5)).
STATE, PGRP, UTIME, STIME = 0, 2, 11, 12


def stat_fields(pid: int) -> list[str] | None:
    """The fields of /proc/<pid>/stat after the command name; None when there is no such pid.

    The command name is cut off first: it is in parentheses and may hold spaces.
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return stat.rsplit(")", 1)[1].split()


def is_zombie(fields: list[str]) -> bool:
    return fields[STATE] == "Z"


def signal_group(pgid: int, signum: signal.Signals) -> bool:
    """Send ``signum`` to group ``pgid``; False when the group does not exist."""
    try:
        os.killpg(pgid, signum)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def terminate(process: subprocess.Popen[bytes], grace_s: float = 30.0) -> None:
    """SIGTERM ``process`` and wait up to ``grace_s`` for it to drain, then SIGKILL it."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(grace_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)
