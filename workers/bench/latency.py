"""End-to-end latency: Postgres commit to the update a subscriber reads on ``dashboard_updates``.

A subscriber positioned at the end of the topic before the load starts records, for every update
that derives from one change, its receive time minus the change's commit time (both clocks are
this machine's). Updates that aggregate or run on timers (``kpi_updated``, ``chart_refresh``,
``data_freshness``) are left out: their commit time is the newest of many changes.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import orjson
from aiokafka import TopicPartition

from workers.changes.values import parse_timestamp
from workers.kafka.clients import new_consumer, partitions_of

# The bundled broker's fetches slow down as partitions fill (README, Performance), so the
# figures also say how p99 moved through the run.
WINDOW_S = 10.0
PER_CHANGE_TYPES = frozenset(
    {
        "event_created",
        "call_created",
        "call_updated",
        "intent_created",
        "intent_updated",
        "session_heartbeat",
        "conversion_sealed",
    }
)


@dataclass(frozen=True)
class Latency:
    samples: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    p99_by_window_ms: tuple[float, ...] = ()


def percentile(sorted_values: list[float], fraction: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(fraction * (len(sorted_values) - 1))))
    return sorted_values[index]


def summarise(samples: list[tuple[float, float]], window_s: float = WINDOW_S) -> Latency:
    """Percentiles of ``(commit time s, latency ms)`` samples, and p99 per ``window_s`` of commit
    time from the first sample (a window without samples is left out)."""
    ordered = sorted(latency for _committed, latency in samples)
    windows: dict[int, list[float]] = {}
    if samples:
        start = min(committed for committed, _latency in samples)
        for committed, latency in samples:
            windows.setdefault(int((committed - start) // window_s), []).append(latency)
    return Latency(
        samples=len(ordered),
        p50_ms=percentile(ordered, 0.50),
        p95_ms=percentile(ordered, 0.95),
        p99_ms=percentile(ordered, 0.99),
        p99_by_window_ms=tuple(
            percentile(sorted(windows[index]), 0.99) for index in sorted(windows)
        ),
    )


@dataclass(frozen=True)
class Legs:
    """Where the time goes: Postgres commit to the worker's send of the update (the record's
    create time: ingest, the changes topic, processing) and that send to the subscriber's read
    (the produce, the updates topic, the fetch)."""

    publish_p50_ms: float
    publish_p99_ms: float
    deliver_p50_ms: float
    deliver_p99_ms: float

    def describe(self) -> str:
        return (
            f"commit to worker send p50/p99 {self.publish_p50_ms:.0f}/{self.publish_p99_ms:.0f} ms, "
            f"send to subscriber {self.deliver_p50_ms:.0f}/{self.deliver_p99_ms:.0f} ms"
        )


def split_legs(legs: list[tuple[float, float]]) -> Legs:
    """Percentiles of ``(commit to send ms, send to read ms)`` pairs, each leg on its own."""
    publish = sorted(first for first, _second in legs)
    deliver = sorted(second for _first, second in legs)
    return Legs(
        publish_p50_ms=percentile(publish, 0.50),
        publish_p99_ms=percentile(publish, 0.99),
        deliver_p50_ms=percentile(deliver, 0.50),
        deliver_p99_ms=percentile(deliver, 0.99),
    )


class LatencyProbe:
    """Collects per-change latencies from ``dashboard_updates`` while ``run`` is active."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self._bootstrap = bootstrap
        self._topic = topic
        self.samples: list[tuple[float, float]] = []  # (commit time s, latency ms)
        self.legs: list[tuple[float, float]] = []  # (commit to send ms, send to read ms)
        self._since = 0.0
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run())
        await asyncio.wait_for(self._ready.wait(), 60)

    async def stop(self) -> Latency:
        self._stop.set()
        if self._task is not None:
            await self._task
        return summarise(self.samples)

    async def _run(self) -> None:
        consumer = new_consumer(self._bootstrap, fetch_max_wait_ms=5)
        await consumer.start()
        try:
            partitions = await partitions_of(self._bootstrap, self._topic, wait_s=30)
            if not partitions:
                raise RuntimeError(f"topic {self._topic} does not exist")
            consumer.assign([TopicPartition(self._topic, p) for p in sorted(partitions)])
            await consumer.seek_to_end()
            # The bundled broker under-reports end offsets, so the seek can land before the last
            # batch of earlier updates; changes committed before the probe started are not timed.
            self._since = time.time()
            self._ready.set()
            while not self._stop.is_set():
                batches = await consumer.getmany(timeout_ms=50, max_records=5000)
                received = time.time()
                for records in batches.values():
                    for record in records:
                        update = orjson.loads(record.value)
                        if update.get("type") in PER_CHANGE_TYPES and update.get(
                            "commit_timestamp"
                        ):
                            committed = parse_timestamp(update["commit_timestamp"]).timestamp()
                            if committed < self._since:
                                continue
                            self.samples.append((committed, (received - committed) * 1000))
                            sent = record.timestamp / 1000
                            self.legs.append(((sent - committed) * 1000, (received - sent) * 1000))
        finally:
            await consumer.stop()
