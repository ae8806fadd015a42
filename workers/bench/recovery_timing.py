"""When a recovery is complete, judged from what the broker shows; and where its time went.

Pure: ``workers/bench/recovery.py`` polls the broker and the workers and feeds these.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

# The milestones of a recovery, in the order they are usually reached.
MEMBER_GONE = "dead member gone"
WORKER_UP = "new process up"
REBALANCE = "rebalance began"
STABLE = "group stable"
RESTORED = "tables restored"
PROCESSING = "processing"


def all_advanced(baseline: Mapping[int, int | None], current: Mapping[int, int | None]) -> bool:
    """Whether every partition's committed offset has moved past its value at the fault."""
    for partition, before in baseline.items():
        now = current.get(partition)
        if now is None or (before is not None and now <= before):
            return False
    return True


def member_gone(at_fault: Collection[str], now: Collection[str]) -> bool:
    """Whether a member ID of the group at the fault has left it: the dead worker's session
    expired, or its static restart replaced it. (The broker's descriptions that aiokafka reads
    carry no instance IDs, so which member was the dead one is not known.)"""
    return bool(set(at_fault) - set(now))


@dataclass
class Timeline:
    """Seconds from the fault to each milestone, the first time it was seen."""

    marks: dict[str, float] = field(default_factory=dict)

    def mark(self, milestone: str, seconds: float) -> None:
        self.marks.setdefault(milestone, seconds)

    @property
    def total_s(self) -> float | None:
        return self.marks.get(PROCESSING)

    def describe(self) -> str:
        """The milestones in the order reached, e.g. ``dead member gone 5.9 s, processing 7.2 s``."""
        if not self.marks:
            return "no milestone reached"
        ordered = sorted(self.marks.items(), key=lambda item: item[1])
        return ", ".join(f"{name} {seconds:.1f} s" for name, seconds in ordered)
