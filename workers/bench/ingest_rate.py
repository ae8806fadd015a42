"""Measuring the WAL ingest rate: changes per second from Postgres commit to Kafka acknowledgement.

The ingest runs live while a writer commits ``rows`` inserts as fast as Postgres takes them, in
transactions of 1,000 rows over 10 sites. The clock starts before the first commit and stops when
Kafka has acknowledged the last change, so the figure covers decoding, keying, batching and acks.
"""

from __future__ import annotations

import asyncio
import uuid

import psycopg

from workers.bench.rate_load import SITES, SourceRate, time_acknowledged
from workers.ingest.settings import WalIngestSettings
from workers.ingest.wal.replication import drop_slot
from workers.ingest.wal.runner import IngestProgress, run_wal_ingest
from workers.settings import KafkaSettings

ROWS_PER_TRANSACTION = 1000


async def measure_ingest_rate(dsn: str, kafka: KafkaSettings, rows: int) -> SourceRate:
    """Run the WAL ingest on its own slot, commit ``rows`` events, time until all are acked."""
    name = f"pulse_rate_{uuid.uuid4().hex[:8]}"
    options = WalIngestSettings(
        PULSE_SLOT_NAME=name, PULSE_PUBLICATION=name, PULSE_INITIAL_SNAPSHOT=False
    )
    stop = asyncio.Event()
    progress = IngestProgress()
    task = asyncio.create_task(run_wal_ingest(dsn, kafka, options, stop, progress))
    # the 10 sites and 10 sessions written first are changes too
    target = rows + 2 * SITES
    try:
        await asyncio.wait_for(progress.streaming.wait(), 60)
        elapsed = await time_acknowledged(
            dsn, rows, ROWS_PER_TRANSACTION, "rate", task, lambda: progress.changes_acked, target
        )
    finally:
        stop.set()
        await asyncio.wait_for(task, 60)
        with psycopg.connect(dsn, autocommit=True) as conn:
            drop_slot(conn, name)
            conn.execute(f'DROP PUBLICATION IF EXISTS "{name}"')
    return SourceRate(rows=target, seconds=elapsed)
