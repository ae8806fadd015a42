"""A measured stage: how many changes moved in how many seconds."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class StageRate:
    changes: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.changes / self.seconds if self.seconds > 0 else 0.0
