"""Readiness and liveness of one worker process, shared by its code and its HTTP probes.

How to wire it (either worker):

    readiness = Readiness()                  # conditions "recovered" and "source_live"
    ...                                      # hand it to the HTTP side (health_server or faust_views)
    readiness.set(RECOVERED)                 # once tables are restored / the slot position is known
    readiness.set(SOURCE_LIVE)               # once the source streams (and again after a reconnect)
    readiness.clear(SOURCE_LIVE)             # when the source drops; /readyz answers 503 meanwhile
    readiness.dependency_away("postgres")    # a dependency is reconnecting; /readyz says which
    readiness.dependency_back("postgres")
    readiness.fail("wal reader died: ...")   # unrecoverable: /healthz answers 503 so the pod restarts
    readiness.stalled("fetch", "...")        # a stall: /healthz answers 503 while it lasts
    readiness.stalled("fetch", None)         # the stall is over

``/readyz`` is 200 only while every condition holds, no dependency is away and the process is
alive; ``/healthz`` is 200 until ``fail`` is called, and not while a stall is reported.
Each condition is also exported as the gauge ``pulse_readiness_condition{condition=...}``.
"""

from __future__ import annotations

from collections.abc import Iterable

from workers.observability.metrics import READINESS

RECOVERED = "recovered"
SOURCE_LIVE = "source_live"
DEFAULT_CONDITIONS = (RECOVERED, SOURCE_LIVE)


class Readiness:
    """Named boolean conditions, all false at start; the process is ready when all hold."""

    def __init__(self, conditions: Iterable[str] = DEFAULT_CONDITIONS) -> None:
        self._conditions: dict[str, bool] = dict.fromkeys(conditions, False)
        if not self._conditions:
            raise ValueError("a Readiness needs at least one condition")
        self._failure: str | None = None
        self._stalls: dict[str, str] = {}
        self._away: set[str] = set()
        for name in self._conditions:
            READINESS.labels(name).set(0)

    def set(self, name: str, value: bool = True) -> None:
        if name not in self._conditions:
            known = ", ".join(self._conditions)
            raise KeyError(f"unknown readiness condition {name!r} (known: {known})")
        self._conditions[name] = value
        READINESS.labels(name).set(1 if value else 0)

    def clear(self, name: str) -> None:
        self.set(name, False)

    def dependency_away(self, name: str) -> None:
        self._away.add(name)

    def dependency_back(self, name: str) -> None:
        self._away.discard(name)

    def dependencies_away(self) -> list[str]:
        return sorted(self._away)

    def fail(self, reason: str) -> None:
        """Mark the process broken for good: liveness fails, so the orchestrator restarts it."""
        self._failure = reason

    def stalled(self, name: str, reason: str | None) -> None:
        """Report (a reason) or clear (None) a stall: liveness fails only while one is reported.

        Unlike ``fail``, a stall may end by itself; the orchestrator restarts the process only
        if it lasts through its probe's failure threshold.
        """
        if reason is None:
            self._stalls.pop(name, None)
        else:
            self._stalls[name] = reason

    @property
    def ready(self) -> bool:
        return self.alive and not self._away and all(self._conditions.values())

    @property
    def alive(self) -> bool:
        return self._failure is None and not self._stalls

    @property
    def failure(self) -> str | None:
        """Why the process is not alive: the failure, else the stalls reported; None if alive."""
        if self._failure is not None:
            return self._failure
        if self._stalls:
            return "; ".join(self._stalls[name] for name in sorted(self._stalls))
        return None

    def conditions(self) -> dict[str, bool]:
        return dict(self._conditions)

    def missing(self) -> list[str]:
        return [name for name, holds in self._conditions.items() if not holds]
