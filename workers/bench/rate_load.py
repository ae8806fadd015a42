"""The load both source-rate measurements commit (``events`` inserts spread over 10 new sites),
and how they time it until the source has every change acknowledged by Kafka."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psycopg

SITES = 10


@dataclass(frozen=True)
class SourceRate:
    """Changes acknowledged by Kafka, and the seconds from the first commit to the last ack."""

    rows: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else 0.0


async def time_acknowledged(
    dsn: str,
    rows: int,
    rows_per_transaction: int,
    label: str,
    source: asyncio.Task[Any],
    acked: Callable[[], int],
    target: int,
) -> float:
    """Seconds from the first commit of ``write_event_rows`` until ``acked()`` reaches
    ``target``; the source task ending first is an error."""
    start = time.perf_counter()
    writer = asyncio.create_task(
        asyncio.to_thread(write_event_rows, dsn, rows, rows_per_transaction, label)
    )
    while acked() < target:
        if source.done():
            source.result()
            raise RuntimeError("the source stopped before every row was acknowledged")
        await asyncio.sleep(0.002)
    elapsed = time.perf_counter() - start
    await writer
    return elapsed


def write_event_rows(dsn: str, rows: int, rows_per_transaction: int, label: str) -> None:
    """One site and one session per site first, then ``rows`` events in bulk transactions."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        sessions = []
        for index in range(SITES):
            site = str(uuid.uuid4())
            conn.execute("INSERT INTO sites (id, name) VALUES (%s, %s)", (site, f"{label}-{index}"))
            session = conn.execute(
                "INSERT INTO sessions (site_id) VALUES (%s) RETURNING id::text", (site,)
            ).fetchone()
            assert session is not None
            sessions.append((session[0], site))
        written = 0
        while written < rows:
            count = min(rows_per_transaction, rows - written)
            session, site = sessions[(written // rows_per_transaction) % SITES]
            conn.execute(
                "INSERT INTO events (session_id, site_id, name) "
                "SELECT %s, %s, 'rate' FROM generate_series(1, %s)",
                (session, site, count),
            )
            written += count
