"""The WAL ingest running in the bench's process while a stage writes into Postgres."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from workers.ingest.settings import WalIngestSettings
from workers.ingest.wal.runner import IngestProgress, run_wal_ingest
from workers.settings import KafkaSettings

STREAMING_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 60.0


@contextlib.asynccontextmanager
async def running_wal_ingest(dsn: str, kafka: KafkaSettings, name: str) -> AsyncIterator[None]:
    """The ingest on slot and publication ``name``, without an initial snapshot: streaming when
    the block starts, stopped when it ends."""
    stop = asyncio.Event()
    progress = IngestProgress()
    options = WalIngestSettings(
        PULSE_SLOT_NAME=name, PULSE_PUBLICATION=name, PULSE_INITIAL_SNAPSHOT=False
    )
    ingest = asyncio.create_task(run_wal_ingest(dsn, kafka, options, stop, progress))
    try:
        await asyncio.wait_for(progress.streaming.wait(), STREAMING_TIMEOUT_S)
        yield
    finally:
        stop.set()
        await asyncio.wait_for(ingest, STOP_TIMEOUT_S)
