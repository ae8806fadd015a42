"""A measured stage: how many changes moved in how many seconds."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class StageRate:
    changes: int
    seconds: float
    cpu_seconds: float | None = None  # CPU time the stage's own process used, when known

    @property
    def rate(self) -> float:
        return self.changes / self.seconds if self.seconds > 0 else 0.0

    @property
    def cpu_per_change_us(self) -> float | None:
        if self.cpu_seconds is None or not self.changes:
            return None
        return self.cpu_seconds / self.changes * 1e6
