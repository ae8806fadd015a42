"""The Realtime source's connection status: transitions, logs, metrics, ``pulse_status`` updates.

The channel states are the client's (SUBSCRIBED, CHANNEL_ERROR, TIMED_OUT, CLOSED). SUBSCRIBED
only means the join was accepted; the stream is LIVE once the server says "Subscribed to
PostgreSQL", and OFFLINE when the source stops.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

import structlog

from schemas.updates import PulseStatus
from workers.observability.metrics import REALTIME_STATE, SOURCE_LIVE

log = structlog.get_logger("pulse.ingest.realtime.status")

Status = Literal["SUBSCRIBED", "CHANNEL_ERROR", "TIMED_OUT", "CLOSED", "LIVE", "OFFLINE"]
CHANNEL_STATES: tuple[Status, ...] = ("SUBSCRIBED", "CHANNEL_ERROR", "TIMED_OUT", "CLOSED")
SOURCE = "realtime"
HISTORY = 1000  # transitions kept for inspection; a flapping source must not grow memory


@dataclass(frozen=True)
class Transition:
    status: Status
    live: bool
    detail: str | None
    at: datetime
    generation: int


def _sequence_start() -> int:
    # Microseconds since the epoch: status updates of a restarted worker still sort after the
    # previous run's, and other producers' per-site counters stay far below.
    return time.time_ns() // 1000


@dataclass
class StatusTracker:
    history: deque[Transition] = field(default_factory=lambda: deque(maxlen=HISTORY))
    live: bool = False
    _seq: int = field(default_factory=_sequence_start)

    def record(self, status: Status, generation: int, detail: str | None = None) -> Transition:
        live = status == "LIVE"
        self.live = live
        transition = Transition(status, live, detail, datetime.now(UTC), generation)
        self.history.append(transition)
        if status in CHANNEL_STATES:
            for state in CHANNEL_STATES:
                REALTIME_STATE.labels(state).set(1 if state == status else 0)
        SOURCE_LIVE.labels(SOURCE).set(1 if live else 0)
        log.info("realtime status", status=status, live=live, detail=detail, generation=generation)
        return transition

    def updates(self, transition: Transition, sites: list[str]) -> list[PulseStatus]:
        self._seq += 1
        return [
            PulseStatus(
                site_id=site,
                seq=self._seq,
                emitted_at=transition.at,
                status=transition.status,
                live=transition.live,
                source=SOURCE,
                detail=transition.detail,
            )
            for site in sites
        ]
