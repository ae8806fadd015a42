"""Waiting, after a fault and its round's traffic, until the pipeline has converged again.

Converged means: the ingest and both workers answer ``/readyz`` (a restarted worker has restored
its tables), the topic holds every change the generator committed, every partition's committed
tally counts exactly the changes on the topic, and every KPI snapshot the dashboards hold equals
the SQL figures. Readiness counts because the rest can hold while a restoring worker's partitions
simply got no input in the round, which would leave its restore to the next round's figure.
Meanwhile, any child that exits on its own is started again and reported.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date

import psycopg
from psycopg import OperationalError

from schemas.updates import KpiSnapshot
from workers.chaos.accounting import Observed, Segment, caught_up, published_all
from workers.chaos.observer import TopicObserver
from workers.chaos.pipeline import Pipeline
from workers.demo.catch_up import differing_site_days
from workers.demo.dashboard_state import DashboardState, site_kpis
from workers.kpis.sql import recompute_kpis

POLL_S = 1.0


def sql_kpis(dsn: str) -> dict[tuple[str, date], KpiSnapshot]:
    with psycopg.connect(dsn, connect_timeout=5) as conn:
        return recompute_kpis(conn)


@dataclass(frozen=True)
class Convergence:
    """How a round ended. The round's findings are taken from ``observed``: a later reading
    would also count changes published after the check (an ingest re-publishing what it sent
    before a PostgreSQL restart) that no worker has had the time to count yet."""

    seconds: float | None
    observed: Observed


def supervise(pipeline: Pipeline, say: Callable[[str], None]) -> None:
    for exit_ in pipeline.supervise():
        say(f"{exit_.name} exited on its own (status {exit_.status}); started again")


async def converge(
    pipeline: Pipeline,
    observer: TopicObserver,
    dashboard: DashboardState,
    segments: Sequence[Segment],
    since: float,
    timeout_s: float,
    say: Callable[[str], None],
) -> Convergence:
    """Seconds from ``since`` until converged (None when not within ``timeout_s``), with the
    reading of the topics that converged, or the last one."""
    observed = observer.observed()
    while time.monotonic() - since < timeout_s:
        supervise(pipeline, say)
        observed = observer.observed()
        if (
            published_all(segments, observed.distinct_by_site)
            and caught_up(observed.on_topic, observed.tallies)
            and not await asyncio.to_thread(pipeline.not_ready)
        ):
            try:
                sql = await asyncio.to_thread(sql_kpis, pipeline.dsn)
            except OperationalError:
                sql = None
            if sql is not None and not differing_site_days(site_kpis(dashboard), sql):
                return Convergence(time.monotonic() - since, observed)
        await asyncio.sleep(POLL_S)
    return Convergence(None, observed)
