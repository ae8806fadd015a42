"""The group stage of ``pulse bench``: two workers in one consumer group.

- Rate: one worker, then two in one group, each over ``changes`` synthetic changes produced once
  the group is stable (so no rebalance falls inside the timed span); the two workers' combined
  rate against the one's, from the updates' producer timestamps as in the stream stage.
- Join: a worker processes a steady feed while a second one joins its group; the pause is the
  longest time without an update (``join_pause``) from the second's start until it has processed
  for a while, overall and on the worst partition of the updates topic.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from dataclasses import dataclass

import orjson

from workers.bench.feeder import feed
from workers.bench.group_watch import GroupWatch
from workers.bench.join_pause import JoinPause, join_pause
from workers.bench.passthrough import assign_all
from workers.bench.produce import produce_all
from workers.bench.results import BenchFigures
from workers.bench.run import SITES, Say, fresh_topics
from workers.bench.synthetic import synthetic_batches
from workers.bench.timing import StageRate
from workers.bench.update_span import TIMER_TYPES, read_until_quiet, span_seconds
from workers.bench.worker_process import WorkerProcess, running_worker
from workers.kafka.clients import new_consumer
from workers.kafka.topics import ensure_project_topics
from workers.services.embedded import Endpoints
from workers.settings import KafkaSettings

JOIN_FEED_RATE = 1000.0
# How long the joined group keeps processing the feed before the window closes.
AFTER_JOIN_S = 10.0
STABLE_TIMEOUT_S = 180.0


@dataclass(frozen=True)
class GroupRun:
    rate: StageRate
    cpu_per_change_us: float | None  # all of the group's workers together


def group_note(one: GroupRun, two: GroupRun, pause: JoinPause) -> str:
    ratio = two.rate.rate / one.rate.rate if one.rate.rate else 0.0
    cpu = (
        f"; CPU per change {one.cpu_per_change_us:.1f} us alone, "
        f"{two.cpu_per_change_us:.1f} us in two"
        if one.cpu_per_change_us and two.cpu_per_change_us
        else ""
    )
    return (
        f"group: one worker {one.rate.rate:,.0f} changes/s, two {two.rate.rate:,.0f} "
        f"(ratio {ratio:.2f}){cpu}; second worker's join: no update for {pause.overall_s:.1f} s, "
        f"worst partition {pause.worst_partition} for {pause.worst_partition_s:.1f} s"
    )


async def group_stage(services: Endpoints, changes: int, figures: BenchFigures, say: Say) -> None:
    say(f"group: one worker, then two in one group, over {changes:,} changes each ...")
    one = await timed_group(services, _topics(services, "group_one", figures), changes, 1)
    say(f"  one worker: {one.rate.rate:,.0f} changes/s")
    two = await timed_group(services, _topics(services, "group_two", figures), changes, 2)
    say(f"  two workers: {two.rate.rate:,.0f} changes/s")
    say(f"group: a second worker joins while the first reads {JOIN_FEED_RATE:,.0f} changes/s ...")
    pause = await measure_join(services, _topics(services, "group_join", figures))
    figures.group_one_rate = one.rate.rate
    figures.group_rate = two.rate.rate
    figures.group_ratio = two.rate.rate / one.rate.rate if one.rate.rate else None
    figures.group_pause_s = pause.overall_s
    figures.group_partition_pause_s = pause.worst_partition_s
    note = group_note(one, two, pause)
    figures.add_note(note)
    say(f"  {note}")


def _topics(services: Endpoints, stage: str, figures: BenchFigures) -> KafkaSettings:
    return fresh_topics(services.bootstrap_servers, stage, figures.partitions)


async def wait_stable(watch: GroupWatch, members: int, timeout_s: float = STABLE_TIMEOUT_S) -> None:
    """Until the group is stable with ``members`` members, twice a second apart."""
    deadline = time.monotonic() + timeout_s
    seen = 0
    while time.monotonic() < deadline:
        view = await watch.view()
        seen = seen + 1 if view.state == "Stable" and len(view.members) == members else 0
        if seen == 2:
            return
        await asyncio.sleep(1.0)
    raise TimeoutError(f"the group was not stable with {members} members in {timeout_s:.0f} s")


def _wait_total(workers: list[WorkerProcess], changes: int, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while sum(worker.processed() for worker in workers) < changes:
        for worker in workers:
            if worker.process.poll() is not None:
                raise RuntimeError(f"a group worker exited; its log: {worker.logfile}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"the group did not read {changes:,} changes in {timeout_s:.0f} s")
        time.sleep(0.25)


async def timed_group(
    services: Endpoints, kafka: KafkaSettings, changes: int, count: int
) -> GroupRun:
    """``count`` workers in one group, stable before their input is produced."""
    bootstrap = services.bootstrap_servers
    await ensure_project_topics(bootstrap, kafka)
    messages = await asyncio.to_thread(synthetic_batches, changes, SITES)
    app_id = f"pulse-bench-group-{uuid.uuid4().hex[:8]}"
    with contextlib.ExitStack() as stack:
        workers = [
            stack.enter_context(running_worker(services.dsn, kafka, app_id=app_id))
            for _ in range(count)
        ]
        async with GroupWatch(bootstrap, app_id, kafka.changes_topic, range(kafka.partitions)) as w:
            await wait_stable(w, count)
        cpu_start = sum(worker.cpu_seconds() for worker in workers)
        await produce_all(bootstrap, kafka.changes_topic, messages)
        await asyncio.to_thread(_wait_total, workers, changes, 600)
        cpu = sum(worker.cpu_seconds() for worker in workers) - cpu_start
        records = await read_until_quiet(bootstrap, kafka.updates_topic)
    return GroupRun(StageRate(changes, span_seconds(records)), cpu / changes * 1e6)


async def measure_join(services: Endpoints, kafka: KafkaSettings) -> JoinPause:
    bootstrap = services.bootstrap_servers
    await ensure_project_topics(bootstrap, kafka)
    app_id = f"pulse-bench-join-{uuid.uuid4().hex[:8]}"
    stop = asyncio.Event()
    arrivals: list[tuple[int, float]] = []
    partitions = range(kafka.partitions)
    with running_worker(services.dsn, kafka, app_id=app_id) as first:
        feeding = asyncio.create_task(
            feed(bootstrap, kafka.changes_topic, JOIN_FEED_RATE, SITES, stop)
        )
        reading = asyncio.create_task(
            _read_arrivals(bootstrap, kafka.updates_topic, arrivals, stop)
        )
        try:
            async with GroupWatch(bootstrap, app_id, kafka.changes_topic, partitions) as watch:
                await wait_stable(watch, 1)
                # Steady before the join: the first worker is processing the feed.
                await asyncio.to_thread(first.wait_processed, int(2 * JOIN_FEED_RATE), 120)
                joined_at = time.time()
                with running_worker(services.dsn, kafka, app_id=app_id) as second:
                    await wait_stable(watch, 2)
                    await asyncio.to_thread(second.wait_processed, 1, STABLE_TIMEOUT_S)
                    await asyncio.sleep(AFTER_JOIN_S)
                    until = time.time()
        finally:
            stop.set()
            await asyncio.gather(feeding, reading)
    return join_pause(arrivals, partitions, joined_at, until)


async def _read_arrivals(
    bootstrap: str, topic: str, arrivals: list[tuple[int, float]], stop: asyncio.Event
) -> None:
    """``(partition, arrival time)`` of every update readable on ``topic`` until ``stop``, but
    for the timers' updates, which do not show that changes are being processed."""
    consumer = new_consumer(bootstrap, fetch_max_wait_ms=20)
    await consumer.start()
    try:
        await assign_all(consumer, bootstrap, topic)
        while not stop.is_set():
            batch = await consumer.getmany(timeout_ms=50, max_records=10_000)
            received = time.time()
            for tp, records in batch.items():
                arrivals.extend(
                    (tp.partition, received)
                    for record in records
                    if orjson.loads(record.value).get("type") not in TIMER_TYPES
                )
    finally:
        await consumer.stop()
