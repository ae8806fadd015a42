"""The benchmark's input: generated traffic through the real WAL ingest into ``supabase_changes``.

10 % of the changes are then published again (re-deliveries), as in the baseline measurements.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from workers.ingest.settings import WalIngestSettings
from workers.ingest.wal.runner import IngestProgress, run_wal_ingest
from workers.settings import KafkaSettings
from workers.traffic import TrafficSummary, generate_in_thread, redeliver

DUPLICATE_RATIO = 0.1


@dataclass(frozen=True)
class BenchInput:
    traffic: TrafficSummary
    duplicates: int

    @property
    def changes(self) -> int:
        return self.traffic.changes + self.duplicates


async def prepare_input(dsn: str, kafka: KafkaSettings, changes: int, sites: int) -> BenchInput:
    stop = asyncio.Event()
    progress = IngestProgress()
    options = WalIngestSettings(
        PULSE_SLOT_NAME="pulse_bench_input", PULSE_PUBLICATION="pulse_bench_input"
    )
    task = asyncio.create_task(run_wal_ingest(dsn, kafka, options, stop, progress))
    try:
        await asyncio.wait_for(progress.streaming.wait(), 60)
        traffic = await generate_in_thread(dsn, sites=sites, changes=changes, seed=11)
        deadline = time.monotonic() + 300
        while progress.changes_acked < traffic.changes:
            if task.done():
                task.result()
            if time.monotonic() > deadline:
                raise TimeoutError("the ingest did not publish the benchmark's input in 300 s")
            await asyncio.sleep(0.05)
    finally:
        stop.set()
        await asyncio.wait_for(task, 60)
    assert kafka.bootstrap_servers
    again = await redeliver(
        kafka.bootstrap_servers,
        kafka.changes_topic,
        ratio=DUPLICATE_RATIO,
        expected=traffic.changes,
    )
    return BenchInput(traffic=traffic, duplicates=len(again))
