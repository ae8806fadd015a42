"""Reprocess ``supabase_changes`` from offset 0 into fresh state under a new app ID, then compare
the rebuilt KPIs with the live ones.

The rebuild runs the real stream worker (``pulse worker``) as a subprocess, so it is the same
code as production, with:
- ``PULSE_APP_ID`` = the new app ID: a new consumer group, which starts at offset 0 (the worker
  resets to earliest), and new changelog topics, so the rebuilt tables stay usable afterwards
  (start workers with that app ID to switch over);
- its own updates and quarantine topics (``<topic>.rebuild.<app id>``), so dashboards and the
  live quarantine never see the replayed output;
- an empty data directory.

"To completion" is decided from the consumer group's committed offsets: the worker commits an
offset only after the batch's updates were acknowledged and its state persisted, so once every
partition's committed offset reaches the partition's real end (found by reading, never from the
under-reported end offsets), the rebuilt topic holds the final KPIs. The live worker's group must
have reached the same ends, and the ends are read again afterwards; if changes arrived meanwhile
both must catch up again, so the two sides compare the same input.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from aiokafka import TopicPartition

from workers.kafka.clients import new_consumer
from workers.kafka.topics import ensure_topics
from workers.services import lifeline
from workers.settings import KafkaSettings
from workers.tools.audit import KpiDifference, compare, published_state
from workers.tools.errors import ToolError
from workers.tools.reading import PartitionBounds, TopicReader, stop_consumer

POLL_SECONDS = 1.0
PROGRESS_SECONDS = 10.0

Progress = Callable[[str], None]


def quiet(_message: str) -> None:
    """The default ``progress``: say nothing."""


STOP_SECONDS = 30.0


@dataclass(frozen=True)
class RebuildReport:
    app_id: str
    updates_topic: str
    ends: dict[int, int]
    compared: int
    differences: list[KpiDifference]
    seconds: float
    worker_log: Path


def rebuild_topic(topic: str, app_id: str) -> str:
    return f"{topic}.rebuild.{app_id}"


def consumed(committed: Mapping[int, int | None], bounds: Mapping[int, PartitionBounds]) -> bool:
    """Whether every partition that holds records is committed up to its real end."""
    for partition, bound in bounds.items():
        if bound.end <= bound.beginning:
            continue
        offset = committed.get(partition)
        if offset is None or offset < bound.end:
            return False
    return True


def lag(committed: Mapping[int, int | None], bounds: Mapping[int, PartitionBounds]) -> int:
    return sum(max(0, b.end - (committed.get(p) or b.beginning)) for p, b in bounds.items())


async def committed_offsets(
    bootstrap: str, group: str, topic: str, partitions: list[int]
) -> dict[int, int | None]:
    """The group's committed offsets, read like a member would (the bundled broker does not
    answer the admin client's group-offsets request)."""
    consumer = new_consumer(bootstrap, group_id=group)
    await consumer.start()
    try:
        return {p: await consumer.committed(TopicPartition(topic, p)) for p in partitions}
    finally:
        await stop_consumer(consumer)


@dataclass
class WorkerProcess:
    process: subprocess.Popen[bytes]
    log: Path

    def running(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        if self.running():
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(STOP_SECONDS)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        lifeline.forget(self.process.pid)

    def tail(self, lines: int = 15) -> str:
        text = self.log.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])


def start_worker(
    kafka: KafkaSettings, bootstrap: str, app_id: str, partitions: int, data_dir: Path
) -> WorkerProcess:
    data_dir.mkdir(parents=True, exist_ok=True)
    log = data_dir.parent / f"{data_dir.name}.log"
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "PULSE_CHANGES_TOPIC": kafka.changes_topic,
        "PULSE_UPDATES_TOPIC": rebuild_topic(kafka.updates_topic, app_id),
        "PULSE_REJECTED_TOPIC": rebuild_topic(kafka.rejected_topic, app_id),
        "PULSE_PARTITIONS": str(partitions),
        "PULSE_APP_ID": app_id,
        "PULSE_DATA_DIR": str(data_dir),
        "PULSE_WEB_PORT": "0",
        "PULSE_WORKER_METRICS_PORT": "0",
        "PULSE_STANDBY_REPLICAS": "0",
        "PULSE_LOG_FORMAT": "json",
    }
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "workers.cli.main", "worker"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    lifeline.watch(process.pid)
    return WorkerProcess(process, log)


async def ensure_fresh(reader: TopicReader, bootstrap: str, app_id: str, partitions: int) -> None:
    """Refuses an app ID that already has state: the rebuild must start from nothing."""
    committed = await committed_offsets(bootstrap, app_id, reader.topic, list(range(partitions)))
    if any(offset is not None for offset in committed.values()):
        raise ToolError(f"app id {app_id!r} already consumed {reader.topic}; pick a new one")
    used = sorted(
        t
        for t in await reader.topic_names()
        if t.startswith(f"{app_id}-") and t.endswith("-changelog")
    )
    if used:
        raise ToolError(f"app id {app_id!r} already has changelog topics: {', '.join(used)}")


async def wait_for_groups(
    reader: TopicReader,
    bootstrap: str,
    groups: dict[str, WorkerProcess | None],
    partitions: list[int],
    deadline: float,
    progress: Progress = quiet,
) -> dict[int, PartitionBounds]:
    """Waits until every group has committed up to the real ends, and the ends held still."""
    bounds = await reader.bounds(partitions)
    idle: set[str] = set()
    next_progress = time.monotonic() + PROGRESS_SECONDS
    while True:
        behind: dict[str, int] = {}
        for group, worker in groups.items():
            if worker is not None and not worker.running():
                raise ToolError(
                    f"the rebuild worker exited with status {worker.process.returncode}; "
                    f"its log ({worker.log}) ends with:\n{worker.tail()}"
                )
            committed = await committed_offsets(bootstrap, group, reader.topic, partitions)
            if all(offset is None for offset in committed.values()):
                idle.add(group)
            else:
                idle.discard(group)
            if not consumed(committed, bounds):
                behind[group] = lag(committed, bounds)
        if not behind:
            again = await reader.bounds(partitions)
            if again == bounds:
                return bounds
            bounds = again
            continue
        if time.monotonic() >= next_progress:
            progress(
                "waiting for " + ", ".join(f"{g} ({n} record(s) behind)" for g, n in behind.items())
            )
            next_progress = time.monotonic() + PROGRESS_SECONDS
        if time.monotonic() > deadline:
            detail = ", ".join(
                f"{g}: {n} record(s) behind" + (", nothing committed yet" if g in idle else "")
                for g, n in behind.items()
            )
            hint = ""
            if idle & {g for g, w in groups.items() if w is None}:
                hint = "; is --live-app-id the live workers' app id?"
            raise ToolError(f"the groups did not catch up in time ({detail}){hint}")
        await asyncio.sleep(POLL_SECONDS)


async def rebuild(
    kafka: KafkaSettings,
    bootstrap: str,
    app_id: str,
    live_app_id: str,
    *,
    data_dir: Path | None = None,
    timeout_s: float = 900.0,
    progress: Progress = quiet,
) -> RebuildReport:
    if app_id == live_app_id:
        raise ToolError(f"the new app id must differ from the live one ({live_app_id!r})")
    started = time.monotonic()
    async with TopicReader(bootstrap, kafka.changes_topic) as changes:
        count = await changes.partition_count()
        partitions = list(range(count))
        await ensure_fresh(changes, bootstrap, app_id, count)
        updates_topic = rebuild_topic(kafka.updates_topic, app_id)
        await ensure_topics(
            bootstrap,
            [updates_topic, rebuild_topic(kafka.rejected_topic, app_id)],
            count,
            kafka.replication_factor,
        )
        own_dir = data_dir is None
        directory = data_dir or Path(tempfile.mkdtemp(prefix=f"pulse-rebuild-{app_id}-"))
        worker = start_worker(kafka, bootstrap, app_id, count, directory / "state")
        progress(f"rebuild worker started under {app_id!r}, publishing to {updates_topic}")
        try:
            bounds = await wait_for_groups(
                changes,
                bootstrap,
                {app_id: worker, live_app_id: None},
                partitions,
                started + timeout_s,
                progress,
            )
        finally:
            await asyncio.to_thread(worker.stop)
    async with TopicReader(bootstrap, updates_topic) as rebuilt_reader:
        rebuilt = await published_state(rebuilt_reader)
    async with TopicReader(bootstrap, kafka.updates_topic) as live_reader:
        live = await published_state(live_reader)
    live_kpis = {key: entry.kpis for key, entry in live.kpis.items()}
    rebuilt_kpis = {key: entry.kpis for key, entry in rebuilt.kpis.items()}
    worker_log = worker.log
    if own_dir:
        worker_log = Path(tempfile.gettempdir()) / f"pulse-rebuild-{app_id}.log"
        shutil.copyfile(worker.log, worker_log)
        shutil.rmtree(directory, ignore_errors=True)
    return RebuildReport(
        app_id=app_id,
        updates_topic=updates_topic,
        ends={p: b.end for p, b in bounds.items()},
        compared=len(live_kpis.keys() | rebuilt_kpis.keys()),
        differences=compare(live_kpis, rebuilt_kpis),
        seconds=time.monotonic() - started,
        worker_log=worker_log,
    )
