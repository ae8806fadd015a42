"""CPU time and resident memory of a process the benchmark started, from /proc."""

from __future__ import annotations

import os
from pathlib import Path

from workers.services.processes import STIME, UTIME, stat_fields


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time the process has used so far."""
    fields = stat_fields(pid)
    if fields is None:
        raise RuntimeError(f"process {pid} exited")
    return (int(fields[UTIME]) + int(fields[STIME])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> tuple[float, float]:
    """(current RSS, peak RSS) in MiB."""
    fields: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = float(value.split()[0]) / 1024
    return fields.get("VmRSS", 0.0), fields.get("VmHWM", 0.0)


def cpu_wait_seconds(pid: int) -> float:
    """Time the process's threads have spent runnable but waiting for a CPU (schedstat): on a
    shared machine it tells a starved process from a busy one."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            total += int((task / "schedstat").read_text().split()[1])
        except (OSError, IndexError, ValueError):
            continue
    return total / 1e9
