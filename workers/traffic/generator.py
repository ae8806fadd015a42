"""Writing a traffic plan into Postgres, as fast as possible or at a given rate.

``generate`` is the entry point the tests, ``pulse demo`` and the benchmark share::

    summary = generate(dsn, sites=10, changes=20_000, forged_ratio=0.01, seed=7)
    summary.forged          # events rows that claim a site other than their session's
    summary.changes         # row changes written (= changes the WAL carries)

Statements go in transactions of ``transaction_size`` rows, each transaction's statements in one
pipeline; every statement changes exactly one row, so ``changes`` is exact.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg

from workers.traffic.plan import Statement, plan_traffic


@dataclass(frozen=True)
class TrafficSummary:
    site_ids: list[str]
    changes: int
    forged: int
    by_table_op: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        return self.changes / self.seconds if self.seconds > 0 else 0.0


def generate(
    dsn: str,
    *,
    sites: int = 10,
    changes: int = 20_000,
    forged_ratio: float = 0.01,
    seed: int = 0,
    rate: float | None = None,
    days: int = 2,
    transaction_size: int = 100,
    stop: threading.Event | None = None,
    deletes: bool = True,
) -> TrafficSummary:
    """Write ``changes`` row changes for ``sites`` new sites into the database at ``dsn``.

    ``rate`` (changes per second) paces the writes; ``None`` writes as fast as possible. Once
    ``stop`` is set no further transaction starts, and the summary counts only what was committed.
    ``deletes=False`` writes no DELETE (``plan_traffic``).
    """
    stop = stop or threading.Event()
    plan = plan_traffic(
        sites=sites,
        changes=changes,
        forged_ratio=forged_ratio,
        seed=seed,
        days=days,
        deletes=deletes,
    )
    counts: Counter[str] = Counter()
    forged = 0
    started = time.monotonic()
    written = 0
    with psycopg.connect(dsn, autocommit=False) as conn:
        for first in range(0, len(plan.statements), transaction_size):
            if stop.is_set():
                break
            chunk = plan.statements[first : first + transaction_size]
            write_transaction(conn, chunk)
            for statement in chunk:
                counts[f"{statement.table}.{statement.op}"] += 1
                forged += statement.forged
            written += len(chunk)
            if rate:
                ahead = written / rate - (time.monotonic() - started)
                if ahead > 0:
                    stop.wait(ahead)
    return TrafficSummary(
        site_ids=plan.site_ids,
        changes=written,
        forged=forged,
        by_table_op=dict(counts),
        seconds=time.monotonic() - started,
    )


def write_transaction(conn: psycopg.Connection[Any], statements: Sequence[Statement]) -> None:
    """Run ``statements`` and commit them; raises, with nothing committed, if one of them did not
    change exactly one row.

    The statements go out in one pipeline, without a round trip each: that costs the writer and
    its Postgres backend far less CPU at the bench's high rates.
    """
    with conn.pipeline():
        cursors = [conn.cursor() for _ in statements]
        for statement, cursor in zip(statements, cursors, strict=True):
            cursor.execute(statement.sql, statement.params)
    for statement, cursor in zip(statements, cursors, strict=True):
        if cursor.rowcount != 1:
            conn.rollback()
            raise RuntimeError(f"{statement.sql!r} changed {cursor.rowcount} rows, not 1")
    conn.commit()


async def generate_in_thread(dsn: str, **options: Any) -> TrafficSummary:
    """``generate`` on a worker thread. Cancelling the caller stops it after the transaction in
    progress: ``asyncio.run`` waits for its threads, so an unstoppable one would hold Ctrl-C
    for as long as the whole plan takes."""
    stop = threading.Event()
    try:
        return await asyncio.to_thread(generate, dsn, stop=stop, **options)
    finally:
        stop.set()
