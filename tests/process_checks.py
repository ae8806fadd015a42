"""Whether a process is still running, for tests that stop or kill processes."""

from __future__ import annotations

import time
from pathlib import Path


def gone(pid: int) -> bool:
    """No such process, or a zombie its (new) parent has not reaped yet."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


def wait_gone(pid: int, within_s: float = 5.0) -> bool:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if gone(pid):
            return True
        time.sleep(0.05)
    return False
