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

# Tansu's fetches slowed down as partitions filled (bench/RESULTS.md), so the figures also
# say how p99 moves through the run.
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
class Timing:
    """One change's update, timed at each hop (seconds on this machine's clock)."""

    committed: float  # the Postgres commit
    ingested: float | None  # the ingest's send of the change (its record's create time)
    sent: float  # the worker's send of the update (its record's create time)
    received: float  # the subscriber's read


LEGS: tuple[str, ...] = ("ingest", "worker", "delivery")


def leg_times(timing: Timing) -> tuple[float, float, float] | None:
    """Milliseconds of each leg: commit to ingest send (decoding, the ingest's batching and
    produce), ingest send to worker send (the changes topic, the fetch, processing) and worker
    send to read (the transaction's commit, the updates topic, the subscriber's fetch)."""
    if timing.ingested is None:
        return None
    return (
        (timing.ingested - timing.committed) * 1000,
        (timing.sent - timing.ingested) * 1000,
        (timing.received - timing.sent) * 1000,
    )


@dataclass(frozen=True)
class Legs:
    """Per leg (``LEGS``): p50 and p99, and p99 per window of commit time."""

    p50_ms: tuple[float, ...]
    p99_ms: tuple[float, ...]
    p99_by_window_ms: tuple[tuple[float, ...], ...]

    def describe(self) -> str:
        overall = ", ".join(
            f"{leg} {p50:.0f}/{p99:.0f}"
            for leg, p50, p99 in zip(LEGS, self.p50_ms, self.p99_ms, strict=True)
        )
        windows = "; ".join(
            f"{leg} " + ", ".join(f"{p99:.0f}" for p99 in by_window)
            for leg, by_window in zip(LEGS, self.p99_by_window_ms, strict=True)
        )
        return f"legs p50/p99 ms: {overall}; leg p99 per {WINDOW_S:.0f} s: {windows}"


def split_legs(timings: list[Timing], window_s: float = WINDOW_S) -> Legs:
    """Each leg's percentiles on its own (a slow leg and a slow total need not coincide)."""
    timed = [(t.committed, legs) for t in timings if (legs := leg_times(t)) is not None]
    per_leg = [summarise([(c, legs[i]) for c, legs in timed], window_s) for i in range(len(LEGS))]
    return Legs(
        p50_ms=tuple(leg.p50_ms for leg in per_leg),
        p99_ms=tuple(leg.p99_ms for leg in per_leg),
        p99_by_window_ms=tuple(leg.p99_by_window_ms for leg in per_leg),
    )


class LatencyProbe:
    """Collects per-change latencies from ``dashboard_updates`` while ``run`` is active, and
    when the ingest sent each change, from the changes topic."""

    def __init__(self, bootstrap: str, topic: str, changes_topic: str) -> None:
        self._bootstrap = bootstrap
        self._topic = topic
        self._changes_topic = changes_topic
        self.samples: list[tuple[float, float]] = []  # (commit time s, latency ms)
        self._hops: list[tuple[str, float, float, float]] = []  # event ID, commit, sent, read
        self._ingested: dict[str, float] = {}  # event ID -> the ingest's send
        self._since = 0.0
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run())
        self._changes_task = asyncio.create_task(self._read_changes())
        await asyncio.wait_for(self._ready.wait(), 60)

    async def stop(self) -> Latency:
        self._stop.set()
        if self._task is not None:
            await asyncio.gather(self._task, self._changes_task)
        return summarise(self.samples)

    def timings(self) -> list[Timing]:
        return [
            Timing(committed, self._ingested.get(event_id), sent, received)
            for event_id, committed, sent, received in self._hops
        ]

    async def _read_changes(self) -> None:
        consumer = new_consumer(self._bootstrap, fetch_max_wait_ms=50)
        await consumer.start()
        try:
            partitions = await partitions_of(self._bootstrap, self._changes_topic, wait_s=30)
            consumer.assign([TopicPartition(self._changes_topic, p) for p in sorted(partitions)])
            await consumer.seek_to_end()
            while not self._stop.is_set():
                batches = await consumer.getmany(timeout_ms=50, max_records=5000)
                for records in batches.values():
                    for record in records:
                        sent = record.timestamp / 1000
                        for change in orjson.loads(record.value)["changes"]:
                            self._ingested[change["event_id"]] = sent
        finally:
            await consumer.stop()

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
                            event_id = update["event_ids"][0]
                            self._hops.append((event_id, committed, sent, received))
        finally:
            await consumer.stop()
