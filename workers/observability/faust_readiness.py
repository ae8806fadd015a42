"""Keeps a stream worker's ``Readiness`` in step with its Faust app, by polling the app's state.

How to wire it (next to ``install_web_views``):

    readiness = Readiness()
    install_web_views(app, readiness)
    track_faust_readiness(app, readiness, source_topics=[kafka.changes_topic])

- ``recovered``: the first table recovery has finished and no re-recovery (after a rebalance)
  is running;
- ``source_live``: no rebalance is in progress and the worker holds at least one partition of a
  source topic.

Polling rather than Faust's rebalance signals: the state is read as it is, so a missed or
reordered signal cannot leave the probe stuck. Faust starts app timers only after the first
recovery, so both conditions stay false (``/readyz`` 503) until then.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import cast

import faust
from faust.tables.manager import TableManager

from workers.observability.readiness import RECOVERED, SOURCE_LIVE, Readiness


@dataclass(frozen=True)
class FaustState:
    recovery_completed: bool
    in_recovery: bool
    rebalancing: bool
    assigned_topics: frozenset[str]


def conditions_of(state: FaustState, source_topics: Collection[str]) -> dict[str, bool]:
    return {
        RECOVERED: state.recovery_completed and not state.in_recovery,
        SOURCE_LIVE: not state.rebalancing and bool(state.assigned_topics & set(source_topics)),
    }


def _topics(assignment: Iterable[object]) -> frozenset[str]:
    return frozenset(str(getattr(tp, "topic", "")) for tp in assignment)


def read_state(app: faust.App) -> FaustState:
    return FaustState(
        recovery_completed=cast(TableManager, app.tables).recovery.completed.is_set(),
        in_recovery=bool(app.in_recovery),
        rebalancing=bool(app.rebalancing),
        assigned_topics=_topics(app.consumer.assignment()),
    )


def track_faust_readiness(
    app: faust.App, readiness: Readiness, source_topics: Collection[str], interval_s: float = 1.0
) -> None:
    topics = frozenset(source_topics)

    async def refresh_readiness() -> None:
        for name, holds in conditions_of(read_state(app), topics).items():
            readiness.set(name, holds)

    app.timer(interval_s, name="pulse_readiness")(refresh_readiness)
