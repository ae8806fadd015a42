"""Drops a library's line while the very same line was already shown within a window.

While a broker is away, aiokafka's clients retry in tight loops and log the same error each
time ("Unable connect to node with id 1: ..."), which buries the one line per outage of ours.
The first of a run of identical lines is shown, then at most one per window, carrying in
``repeated`` how many were dropped since the last one shown. Lines that differ in any way
(other arguments, a timestamp) are never merged.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

WINDOW_S = 10.0
# Distinct lines remembered before those whose window has passed are forgotten.
REMEMBERED = 1000


@dataclass
class _Shown:
    at: float
    dropped: int = 0


class RepeatedLines(logging.Filter):
    def __init__(
        self, window_s: float = WINDOW_S, clock: Callable[[], float] = time.monotonic
    ) -> None:
        super().__init__()
        self._window_s = window_s
        self._clock = clock
        self._shown: dict[tuple[str, int, str], _Shown] = {}

    @property
    def remembered(self) -> int:
        """Distinct lines held; bounded, since those past their window are forgotten."""
        return len(self._shown)

    def filter(self, record: logging.LogRecord) -> bool:
        now = self._clock()
        key = (record.name, record.levelno, record.getMessage())
        shown = self._shown.get(key)
        if shown is not None and now - shown.at < self._window_s:
            shown.dropped += 1
            return False
        if shown is not None and shown.dropped:
            record.repeated = shown.dropped
        self._shown[key] = _Shown(now)
        if len(self._shown) > REMEMBERED:
            self._forget_before(now - self._window_s)
        return True

    def _forget_before(self, moment: float) -> None:
        self._shown = {key: shown for key, shown in self._shown.items() if shown.at >= moment}
