"""Fails liveness when the event loop stops running its callbacks for longer than a limit.

``/healthz`` is served on the loop it would report on, and a stalled loop cannot answer at all.
So the loop only beats (a callback that stamps the time and schedules itself again), and a
thread of its own compares that stamp with the clock. When the loop has not beaten for longer
than ``PULSE_LOOP_STALL_LIMIT_S``, the thread logs it and fails the process's ``Readiness``
for good: while the stall lasts the probes get no answer (a timeout, which the orchestrator
counts as a failure), and once the loop runs again every answer is a 503. A loop that stalled
that long has missed the timing the process relies on, so it is restarted rather than trusted.

How to wire it:

    async with LoopWatchdog(readiness, limit_s=settings.loop_stall_limit_s):   # on the loop
        ...
    LoopWatchdog(readiness, limit_s=...).start(loop)   # a loop that runs later (the Faust worker)

The thread starts with the first beat, so no stall is seen before the loop runs; while the loop
is not running (between Faust's start and stop phases) there is nothing to judge.
"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass
from types import TracebackType

import structlog

from workers.observability.readiness import Readiness

log = structlog.get_logger("pulse.health")

LIMIT_VARIABLE = "PULSE_LOOP_STALL_LIMIT_S"
# How often the loop beats and the thread looks, as a share of the limit: a stall is seen at
# most this share of the limit late.
CHECKS_PER_LIMIT = 4
LONGEST_CHECK_S = 1.0


def check_interval(limit_s: float) -> float:
    return min(LONGEST_CHECK_S, limit_s / CHECKS_PER_LIMIT)


@dataclass
class StallClock:
    """How long a running loop has gone without a beat (pure: the thread feeds it readings)."""

    limit_s: float
    # When the loop was last seen starting to run again; a beat older than this is no stall.
    resumed_at: float = 0.0
    was_running: bool = False

    def stalled_for(self, now: float, running: bool, last_beat: float) -> float | None:
        """Seconds without a beat when that exceeds the limit, else None."""
        if not running:
            self.was_running = False
            return None
        if not self.was_running:
            self.was_running = True
            self.resumed_at = now
        silent = now - max(last_beat, self.resumed_at)
        return silent if silent > self.limit_s else None


class LoopWatchdog:
    def __init__(self, readiness: Readiness, *, limit_s: float) -> None:
        if limit_s <= 0:
            raise ValueError("the loop stall limit must be positive")
        self._readiness = readiness
        self._limit_s = limit_s
        self._interval_s = check_interval(limit_s)
        self._last_beat = time.monotonic()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._beating: asyncio.TimerHandle | asyncio.Handle | None = None
        self._thread: threading.Thread | None = None
        self._stopped = threading.Event()

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        """Beat on ``loop`` from its first turn on (it need not run yet)."""
        self._loop = loop
        self._beating = loop.call_soon_threadsafe(self._beat)

    def stop(self) -> None:
        self._stopped.set()
        if self._beating is not None:
            self._beating.cancel()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()

    def _beat(self) -> None:
        self._last_beat = time.monotonic()
        if self._thread is None:
            self._thread = threading.Thread(target=self._watch, name="pulse-loop-watchdog")
            self._thread.daemon = True
            self._thread.start()
        assert self._loop is not None
        self._beating = self._loop.call_later(self._interval_s, self._beat)

    def _watch(self) -> None:
        loop = self._loop
        assert loop is not None
        clock = StallClock(self._limit_s)
        while not self._stopped.wait(self._interval_s):
            if loop.is_closed():
                return
            silent = clock.stalled_for(time.monotonic(), loop.is_running(), self._last_beat)
            if silent is None:
                continue
            # Recorded before it is logged: a broken log stream must not keep the stall unseen.
            self._readiness.fail(
                f"event loop stalled for more than {self._limit_s:g} s ({LIMIT_VARIABLE})"
            )
            log.error(
                "event loop stalled; failing liveness",
                stalled_s=round(silent, 1),
                limit_s=self._limit_s,
            )
            return

    async def __aenter__(self) -> LoopWatchdog:
        self.start(asyncio.get_running_loop())
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
