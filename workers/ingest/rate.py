"""Measuring the WAL ingest rate: changes per second from Postgres commit to Kafka acknowledgement.

The ingest runs live while a writer commits ``rows`` inserts as fast as Postgres takes them, in
transactions of 1,000 rows over 10 sites. The clock starts before the first commit and stops when
Kafka has acknowledged the last change, so the figure covers decoding, keying, batching and acks.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass

import psycopg

from workers.ingest.replication import drop_slot
from workers.ingest.wal_options import WalIngestOptions
from workers.ingest.wal_runner import IngestProgress, run_wal_ingest
from workers.settings import KafkaSettings

SITES = 10
ROWS_PER_TRANSACTION = 1000


@dataclass(frozen=True)
class IngestRate:
    rows: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else 0.0


def _write_rows(dsn: str, rows: int) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        sessions = []
        for index in range(SITES):
            site = str(uuid.uuid4())
            conn.execute("INSERT INTO sites (id, name) VALUES (%s, %s)", (site, f"rate-{index}"))
            session = conn.execute(
                "INSERT INTO sessions (site_id) VALUES (%s) RETURNING id::text", (site,)
            ).fetchone()
            assert session is not None
            sessions.append((session[0], site))
        written = 0
        while written < rows:
            count = min(ROWS_PER_TRANSACTION, rows - written)
            session, site = sessions[(written // ROWS_PER_TRANSACTION) % SITES]
            conn.execute(
                "INSERT INTO events (session_id, site_id, name) "
                "SELECT %s, %s, 'rate' FROM generate_series(1, %s)",
                (session, site, count),
            )
            written += count


async def measure_ingest_rate(dsn: str, kafka: KafkaSettings, rows: int) -> IngestRate:
    """Run the WAL ingest on its own slot, commit ``rows`` events, time until all are acked."""
    name = f"pulse_rate_{uuid.uuid4().hex[:8]}"
    options = WalIngestOptions(
        PULSE_SLOT_NAME=name, PULSE_PUBLICATION=name, PULSE_INITIAL_SNAPSHOT=False
    )
    stop = asyncio.Event()
    progress = IngestProgress()
    task = asyncio.create_task(run_wal_ingest(dsn, kafka, options, stop, progress))
    # the 10 sites and 10 sessions written first are changes too
    target = rows + 2 * SITES
    try:
        await asyncio.wait_for(progress.streaming.wait(), 60)
        start = time.perf_counter()
        writer = asyncio.create_task(asyncio.to_thread(_write_rows, dsn, rows))
        while progress.changes_acked < target:
            if task.done():
                task.result()
                raise RuntimeError("the ingest stopped before every row was acknowledged")
            await asyncio.sleep(0.002)
        elapsed = time.perf_counter() - start
        await writer
    finally:
        stop.set()
        await asyncio.wait_for(task, 60)
        with psycopg.connect(dsn, autocommit=True) as conn:
            drop_slot(conn, name)
            conn.execute(f'DROP PUBLICATION IF EXISTS "{name}"')
    return IngestRate(rows=target, seconds=elapsed)
