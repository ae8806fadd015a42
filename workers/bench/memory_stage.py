"""The memory stage of ``pulse bench``: one worker's RSS as its tables grow by distinct event IDs.

The worker reads ``ids`` distinct changes, then more in steps of at most ``ids`` until it has
read ``final_ids``; its RSS and peak RSS are read after each step, which shows whether memory
stays flat as the stores grow.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from workers.bench.produce import produce_all
from workers.bench.results import BenchFigures
from workers.bench.run import SITES, Say, fresh_topics
from workers.bench.synthetic import synthetic_batches
from workers.bench.worker_process import running_worker
from workers.kafka.topics import ensure_project_topics
from workers.services.embedded import Endpoints

# How long one step may take: the worker reads a step of up to ``ids`` IDs from scratch.
STEP_TIMEOUT_S = 1800


@dataclass(frozen=True)
class RssReading:
    ids: int  # distinct event IDs the worker had read
    rss_mb: float
    peak_mb: float


def steps(ids: int, final_ids: int) -> list[int]:
    """The cumulative ID counts at which RSS is read: ``ids``, then steps of at most ``ids``
    up to ``final_ids`` (``ids`` alone when ``final_ids`` is not above it)."""
    counts = [ids]
    while counts[-1] < final_ids:
        counts.append(min(final_ids, counts[-1] + ids))
    return counts


def describe(readings: list[RssReading]) -> str:
    return "rss by ids: " + ", ".join(
        f"{reading.ids:,} {reading.rss_mb:,.0f} MiB (peak {reading.peak_mb:,.0f})"
        for reading in readings
    )


async def memory_stage(
    services: Endpoints, ids: int, final_ids: int, figures: BenchFigures, say: Say
) -> None:
    say(f"memory: worker RSS after {ids:,} distinct event IDs, read until {final_ids:,} ...")
    kafka = fresh_topics(services.bootstrap_servers, "memory", figures.partitions)
    await ensure_project_topics(services.bootstrap_servers, kafka)
    readings: list[RssReading] = []
    with running_worker(services.dsn, kafka) as worker:
        read = 0
        for target in steps(ids, final_ids):
            # A fresh commit time per step keeps every step's event IDs apart.
            batch = await asyncio.to_thread(
                synthetic_batches, target - read, SITES, int(time.time() * 1000)
            )
            await produce_all(services.bootstrap_servers, kafka.changes_topic, batch)
            del batch
            await asyncio.to_thread(worker.wait_processed, target, STEP_TIMEOUT_S)
            read = target
            rss, peak = worker.rss_mb()
            readings.append(RssReading(target, rss, peak))
            say(f"  after {target:,} IDs: RSS {rss:,.0f} MiB, peak {peak:,.0f} MiB")
    record(readings, figures)


def record(readings: list[RssReading], figures: BenchFigures) -> None:
    """The first reading's peak is ``worker_rss_mb``; the last one's are the ``_final`` figures."""
    figures.worker_rss_mb = readings[0].peak_mb
    last = readings[-1]
    figures.memory_final_ids = last.ids
    figures.worker_rss_final_mb = last.rss_mb
    figures.worker_rss_peak_final_mb = last.peak_mb
    figures.add_note(describe(readings))
