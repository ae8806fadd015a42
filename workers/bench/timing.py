"""A measured stage: how many changes moved in how many seconds."""

from __future__ import annotations

from dataclasses import dataclass

from workers.bench.site_day_totals import SiteDay, Totals


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


@dataclass(frozen=True)
class ProcessRun:
    """A process measured over the input: the worker, a floor, stock Faust or the peer."""

    rate: StageRate
    cpu_per_change_us: float | None  # from the process's /proc figures
    totals: dict[SiteDay, Totals]  # per-site-per-day KPI totals it published
