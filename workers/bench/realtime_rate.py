"""Measuring the Realtime source's rate: changes per second from commit to Kafka acknowledgement.

The emulator serves Realtime from the database's WAL (a temporary slot polled like Realtime's,
100 changes per poll); the source runs live with periodic catch-ups off, so the figure covers the
push path: emulator poll and rendering, websocket, the client's validation, keying and Kafka acks.
The emulator runs in the same process, so the figure is a floor for the source alone.
"""

from __future__ import annotations

import asyncio

from workers.bench.rate_load import SITES, SourceRate, time_acknowledged
from workers.ingest.realtime.runner import RealtimeProgress, run_realtime_ingest
from workers.ingest.settings import RealtimeIngestSettings
from workers.settings import KafkaSettings

ROWS_PER_TRANSACTION = 100


async def measure_realtime_rate(dsn: str, kafka: KafkaSettings, rows: int) -> SourceRate:
    """Serve the emulator on ``dsn``, run the source, commit ``rows`` events, time the acks."""
    # Imported here: `pulse` imports every subcommand at start, and the emulator's PyJWT is an
    # extra that the runtime image leaves out.
    from workers.emulator.config import EmulatorConfig
    from workers.emulator.server import Emulator

    emulator = Emulator(EmulatorConfig(dsn=dsn))
    await emulator.start()
    options = RealtimeIngestSettings(
        PULSE_REALTIME_INITIAL_CATCHUP="none", PULSE_REALTIME_CATCHUP_INTERVAL_S=86_400
    )
    stop = asyncio.Event()
    progress = RealtimeProgress()
    task = asyncio.create_task(
        run_realtime_ingest(emulator.url, "any-key", kafka, options, stop, progress=progress)
    )
    target = rows + SITES  # the sessions written first are pushed too
    try:
        while not progress.caught_up.is_set():
            if task.done():
                task.result()
            await asyncio.sleep(0.01)
        elapsed = await time_acknowledged(
            dsn, rows, ROWS_PER_TRANSACTION, "rt-rate", task, lambda: progress.changes_acked, target
        )
    finally:
        stop.set()
        await asyncio.wait_for(task, 60)
        await emulator.stop()
    return SourceRate(rows=target, seconds=elapsed)
