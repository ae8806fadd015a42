"""Whether a process is still running, for tests that stop or kill processes."""

from __future__ import annotations

import time

from workers.services.processes import is_zombie, stat_fields


def gone(pid: int) -> bool:
    """No such process, or a zombie its (new) parent has not reaped yet."""
    fields = stat_fields(pid)
    return fields is None or is_zombie(fields)


def wait_gone(pid: int, within_s: float = 5.0) -> bool:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if gone(pid):
            return True
        time.sleep(0.05)
    return False
