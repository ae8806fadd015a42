"""The state of one process's link to one dependency (Postgres, Kafka).

A link is up or away. Each change is one log line, the ``pulse_dependency_up`` gauge, the
readiness (``/readyz`` names the dependencies away) and, on the way back, one count in
``pulse_reconnects_total``; repeated failures while away change nothing, so an outage costs two
log lines however many attempts it takes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from workers.observability.metrics import DEPENDENCY_UP, RECONNECTS
from workers.observability.readiness import Readiness


def one_line_error(error: BaseException) -> str:
    name = type(error).__name__
    text = " ".join(str(error).split())
    # aiokafka's errors name their class in their text already.
    if not text or text == name or text.startswith(f"{name}: "):
        return text or name
    return f"{name}: {text}"


class DependencyLink:
    def __init__(
        self,
        component: str,
        dependency: str,
        readiness: Readiness,
        log: Any,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.component = component
        self.dependency = dependency
        self._readiness = readiness
        self._log = log
        self._clock = clock
        self._away_since: float | None = None
        self._failed_attempts = 0
        DEPENDENCY_UP.labels(component, dependency).set(1)

    @property
    def up(self) -> bool:
        return self._away_since is None

    def lost(self, error: BaseException) -> None:
        if self._away_since is not None:
            self._failed_attempts += 1
            return
        self._away_since = self._clock()
        self._failed_attempts = 0
        DEPENDENCY_UP.labels(self.component, self.dependency).set(0)
        self._readiness.dependency_away(self.dependency)
        self._log.warning(f"{self.dependency} lost; reconnecting", error=one_line_error(error))

    def restored(self) -> None:
        if self._away_since is None:
            return
        away_s = self._clock() - self._away_since
        self._away_since = None
        RECONNECTS.labels(self.component, self.dependency).inc()
        DEPENDENCY_UP.labels(self.component, self.dependency).set(1)
        self._readiness.dependency_back(self.dependency)
        self._log.info(
            f"{self.dependency} reconnected",
            away_s=round(away_s, 3),
            failed_attempts=self._failed_attempts,
        )
