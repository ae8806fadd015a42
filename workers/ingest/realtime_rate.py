"""Measuring the Realtime source's rate: changes per second from commit to Kafka acknowledgement.

The emulator serves Realtime from the database's WAL (a temporary slot polled like Realtime's,
100 changes per poll); the source runs live with periodic catch-ups off, so the figure covers the
push path: emulator poll and rendering, websocket, the client's validation, keying and Kafka acks.
The emulator runs in the same process, so the figure is a floor for the source alone.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass

import psycopg

from workers.emulator.config import EmulatorConfig
from workers.emulator.server import Emulator
from workers.ingest.realtime_options import RealtimeIngestOptions
from workers.ingest.realtime_runner import RealtimeProgress, run_realtime_ingest
from workers.settings import KafkaSettings

SITES = 10
ROWS_PER_TRANSACTION = 100


@dataclass(frozen=True)
class RealtimeRate:
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
            conn.execute("INSERT INTO sites (id, name) VALUES (%s, %s)", (site, f"rt-rate-{index}"))
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


async def measure_realtime_rate(dsn: str, kafka: KafkaSettings, rows: int) -> RealtimeRate:
    """Serve the emulator on ``dsn``, run the source, commit ``rows`` events, time the acks."""
    emulator = Emulator(EmulatorConfig(dsn=dsn))
    await emulator.start()
    options = RealtimeIngestOptions(
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
        start = time.perf_counter()
        writer = asyncio.create_task(asyncio.to_thread(_write_rows, dsn, rows))
        while progress.changes_acked < target:
            if task.done():
                task.result()
                raise RuntimeError("the source stopped before every row was acknowledged")
            await asyncio.sleep(0.002)
        elapsed = time.perf_counter() - start
        await writer
    finally:
        stop.set()
        await asyncio.wait_for(task, 60)
        await emulator.stop()
    return RealtimeRate(rows=target, seconds=elapsed)
