"""The recovery stage of ``pulse bench``: how soon partitions are processed again after a fault.

Each case is timed from the SIGKILL of a worker to the moment every partition's committed offset
(as the broker has it) has moved past its value at the kill, while new changes keep arriving on
every partition (``feeder``). The milestones in between (``recovery_timing``) say where the time
went. The workers join as static members (``CONSUMER_GROUP_INSTANCE_ID``), as the chart's do.

- restart: one of two workers is killed and started again at once, same identity and state;
- takeover: one of two workers is killed for good; the survivor takes its partitions;
- wiped: the only worker, holding the tables of ``keys`` distinct changes, is killed, its state
  directory deleted, and started again under the same identity: it restores every table from
  its changelog first.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import signal
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import TopicPartition

from workers.bench.feeder import feed
from workers.bench.group_watch import GroupView, GroupWatch
from workers.bench.produce import produce_all
from workers.bench.recovery_timing import (
    MEMBER_GONE,
    PROCESSING,
    REBALANCE,
    RESTORED,
    STABLE,
    WORKER_UP,
    Timeline,
    all_advanced,
    member_gone,
)
from workers.bench.synthetic import synthetic_batches
from workers.bench.worker_process import WorkerProcess, start_worker, stop_worker, worker_env
from workers.kafka.clients import new_consumer
from workers.kafka.topics import ensure_project_topics
from workers.services import lifeline
from workers.services.ports import free_port
from workers.settings import KafkaSettings

Say = Callable[[str], None]
FEED_RATE = 1000.0
FEED_SITES = 50
POLL_S = 0.1
RECOVERY_TIMEOUT_S = 300.0
# A wiped worker restores every table record by record through Faust first.
WIPED_TIMEOUT_S = 3600.0


@dataclass
class WorkerSlot:
    """One worker identity (group instance ID, state directory, ports) that can be killed and
    started again as the same member."""

    env: dict[str, str]
    logfile: Path
    data_dir: Path
    process: WorkerProcess | None = None

    def start(self) -> WorkerProcess:
        self.process = start_worker(self.env, self.logfile)
        return self.process

    def kill(self) -> None:
        if self.process is not None:
            stop_worker(self.process, signal.SIGKILL)

    def stop(self) -> None:
        if self.process is not None:
            stop_worker(self.process)


@dataclass
class RecoveryFigures:
    restart: Timeline | None = None
    takeover: Timeline | None = None
    wiped: Timeline | None = None
    wiped_changelog_records: int = 0


@contextlib.contextmanager
def _slots(
    dsn: str, kafka: KafkaSettings, app_id: str, names: list[str]
) -> Iterator[list[WorkerSlot]]:
    root = Path(tempfile.mkdtemp(prefix="pulse-bench-recovery-"))
    lifeline.watch_path(root)
    slots = []
    for name in names:
        data_dir = root / name
        env = worker_env(dsn, kafka, app_id, data_dir, free_port())
        env["CONSUMER_GROUP_INSTANCE_ID"] = f"{app_id}-{name}"
        slots.append(WorkerSlot(env, root / f"{name}.log", data_dir))
    try:
        yield slots
    finally:
        for slot in slots:
            slot.stop()
        shutil.rmtree(root, ignore_errors=True)
        lifeline.forget_path(root)


@contextlib.asynccontextmanager
async def _feeding(bootstrap: str, topic: str) -> AsyncIterator[None]:
    stop = asyncio.Event()
    task = asyncio.create_task(feed(bootstrap, topic, FEED_RATE, FEED_SITES, stop))
    try:
        yield
    finally:
        stop.set()
        await task


async def _settled(watch: GroupWatch, members: int, timeout_s: float = 180.0) -> GroupView:
    """The group once it is stable with ``members`` members and every partition advancing."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        before = await watch.view()
        await asyncio.sleep(1.0)
        after = await watch.view()
        if (
            after.state == "Stable"
            and len(after.members) == members
            and after.members == before.members
            and all_advanced(before.committed, after.committed)
        ):
            return after
    raise TimeoutError(f"the group did not settle with {members} members in {timeout_s:.0f} s")


def _readiness(worker: WorkerProcess, condition: str) -> bool | None:
    """The worker's readiness condition, or None while its /metrics does not answer."""
    try:
        return worker.counter("pulse_readiness_condition", condition=condition) > 0
    except OSError:
        return None


async def _recovery(
    watch: GroupWatch,
    at_fault: GroupView,
    killed_at: float,
    restarted: WorkerProcess | None,
    timeout_s: float = RECOVERY_TIMEOUT_S,
) -> Timeline:
    timeline = Timeline()
    while True:
        view = await watch.view()
        now = time.monotonic() - killed_at
        if member_gone(at_fault.members, view.members):
            timeline.mark(MEMBER_GONE, now)
        if view.state != "Stable":
            timeline.mark(REBALANCE, now)
        elif REBALANCE in timeline.marks:
            timeline.mark(STABLE, now)
        if restarted is not None:
            recovered = await asyncio.to_thread(_readiness, restarted, "recovered")
            if recovered is not None:
                timeline.mark(WORKER_UP, now)
            if recovered:
                timeline.mark(RESTORED, now)
            if restarted.process.poll() is not None:
                raise RuntimeError(f"the restarted worker exited; its log: {restarted.logfile}")
        if all_advanced(at_fault.committed, view.committed):
            timeline.mark(PROCESSING, now)
            return timeline
        if now > timeout_s:
            raise TimeoutError(f"not recovered in {timeout_s:.0f} s: {timeline.describe()}")
        await asyncio.sleep(POLL_S)


async def _kill(watch: GroupWatch, slot: WorkerSlot) -> tuple[float, GroupView]:
    """SIGKILL the slot's worker: the moment, and the group as the broker has it just after."""
    killed_at = time.monotonic()
    await asyncio.to_thread(slot.kill)
    return killed_at, await watch.view()


async def restart_and_takeover(
    dsn: str, kafka: KafkaSettings, figures: RecoveryFigures, say: Say
) -> None:
    bootstrap = kafka.bootstrap_servers
    assert bootstrap
    app_id = f"pulse-bench-recovery-{uuid.uuid4().hex[:6]}"
    partitions = range(kafka.partitions)
    with _slots(dsn, kafka, app_id, ["a", "b"]) as (first, second):
        async with (
            _feeding(bootstrap, kafka.changes_topic),
            GroupWatch(bootstrap, app_id, kafka.changes_topic, partitions) as watch,
        ):
            for slot in (first, second):
                await asyncio.to_thread(slot.start().wait_until_serving)
            await _settled(watch, 2)
            say("  restart: one of two workers SIGKILLed and started again at once ...")
            killed_at, at_fault = await _kill(watch, second)
            restarted = second.start()
            figures.restart = await _recovery(watch, at_fault, killed_at, restarted)
            say(f"    {figures.restart.describe()}")
            await _settled(watch, 2)
            say("  takeover: one of two workers SIGKILLed for good ...")
            killed_at, at_fault = await _kill(watch, second)
            figures.takeover = await _recovery(watch, at_fault, killed_at, None)
            say(f"    {figures.takeover.describe()}")


async def wiped_state(
    dsn: str, kafka: KafkaSettings, keys: int, figures: RecoveryFigures, say: Say
) -> None:
    bootstrap = kafka.bootstrap_servers
    assert bootstrap
    app_id = f"pulse-bench-wiped-{uuid.uuid4().hex[:6]}"
    say(f"  wiped: {keys:,} distinct changes into one worker's tables ...")
    messages = await asyncio.to_thread(synthetic_batches, keys, FEED_SITES)
    await produce_all(bootstrap, kafka.changes_topic, messages)
    with _slots(dsn, kafka, app_id, ["w"]) as (only,):
        worker = only.start()
        await asyncio.to_thread(worker.wait_until_serving)
        await asyncio.to_thread(worker.wait_processed, keys, 1800)
        async with (
            _feeding(bootstrap, kafka.changes_topic),
            GroupWatch(bootstrap, app_id, kafka.changes_topic, range(kafka.partitions)) as watch,
        ):
            await _settled(watch, 1)
            figures.wiped_changelog_records = await changelog_records(bootstrap, app_id)
            say(
                f"  wiped: the worker SIGKILLed, its state directory deleted "
                f"({figures.wiped_changelog_records:,} changelog records), started again ..."
            )
            killed_at, at_fault = await _kill(watch, only)
            shutil.rmtree(only.data_dir)
            restarted = only.start()
            figures.wiped = await _recovery(watch, at_fault, killed_at, restarted, WIPED_TIMEOUT_S)
            say(f"    {figures.wiped.describe()}")


async def changelog_records(bootstrap: str, app_id: str) -> int:
    """Records (and commit markers) in the app's changelog topics: what a restore reads."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        topics = [
            topic
            for topic in await admin.list_topics()
            if topic.startswith(f"{app_id}-") and topic.endswith("-changelog")
        ]
        described = await admin.describe_topics(topics)
    finally:
        await admin.close()
    tps = [
        TopicPartition(found["topic"], int(partition["partition"]))
        for found in described
        for partition in found["partitions"]
    ]
    consumer = new_consumer(bootstrap)
    await consumer.start()
    try:
        starts = await consumer.beginning_offsets(tps)
        ends = await consumer.end_offsets(tps)
    finally:
        await consumer.stop()
    return sum(ends[tp] - starts[tp] for tp in tps)


async def measure_recovery(
    dsn: str, kafka_of: Callable[[str], KafkaSettings], keys: int, say: Say
) -> RecoveryFigures:
    """The three cases; restart and takeover share topics, wiped has its own (``kafka_of``)."""
    figures = RecoveryFigures()
    shared = kafka_of("restart")
    assert shared.bootstrap_servers
    await ensure_project_topics(shared.bootstrap_servers, shared)
    await restart_and_takeover(dsn, shared, figures, say)
    own = kafka_of("wiped")
    await ensure_project_topics(shared.bootstrap_servers, own)
    await wiped_state(dsn, own, keys, figures, say)
    return figures
