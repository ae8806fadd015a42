"""The dedup table stays bounded by its horizon, also after a restart with a wiped data dir.

Changes are published straight to ``supabase_changes`` (as the ingest would) with commit times
spread over many hours, so the horizon (event time) is crossed many times in a few seconds. The
bound is checked on the dedup changelog, i.e. on what any restore would load. Budget: ~35 s.
"""

from __future__ import annotations

import shutil
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from schemas.changes import ChangeRecord
from tests.integration.stream.harness import (
    WorkerProcess,
    fold_changelog,
    read_raw,
    start_worker,
    wait_for_progress,
)
from workers.changes.keying import build_change
from workers.ingest.publisher import ChangePublisher, make_producer
from workers.kafka.partitioner import partition_for
from workers.settings import KafkaSettings

pytestmark = pytest.mark.integration

HORIZON_S = 3600
SITES = [str(uuid.UUID(int=n + 1)) for n in range(4)]
START = datetime(2026, 11, 1, tzinfo=UTC)


def session_changes(first_hour: int, hours: int, per_hour: int) -> list[ChangeRecord]:
    changes = []
    for hour in range(first_hour, first_hour + hours):
        for n in range(per_hour):
            moment = START + timedelta(hours=hour, seconds=n * 3600 // per_hour)
            stamp = moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            site = SITES[n % len(SITES)]
            change = build_change(
                op="INSERT",
                schema="public",
                table="sessions",
                record={
                    "id": str(uuid.uuid4()),
                    "site_id": site,
                    "started_at": stamp,
                    "last_seen_at": stamp,
                    "updated_at": stamp,
                },
                old_record=None,
                commit_ms=int(moment.timestamp() * 1000),
                source="wal",
                lsn=hour * 10_000 + n,
            )
            assert isinstance(change, ChangeRecord)
            changes.append(change)
    return changes


async def publish(kafka: KafkaSettings, changes: list[ChangeRecord]) -> None:
    assert kafka.bootstrap_servers
    producer = make_producer(kafka.bootstrap_servers)
    await producer.start()
    try:
        publisher = ChangePublisher(producer, kafka)
        for change in changes:
            publisher.add(change)
        await (await publisher.publish()).wait()
    finally:
        await producer.stop()


def within_horizon(changes: list[ChangeRecord], partitions: int) -> set[bytes]:
    """The IDs a purge keeps: those within the horizon of their partition's newest change."""

    def partition(change: ChangeRecord) -> int:
        return partition_for(change.site_id.encode(), partitions)

    newest: dict[int, int] = {}
    for change in changes:
        ms = int(change.commit_timestamp.timestamp() * 1000)
        newest[partition(change)] = max(newest.get(partition(change), 0), ms)
    return {
        change.event_id.encode()
        for change in changes
        if int(change.commit_timestamp.timestamp() * 1000)
        >= newest[partition(change)] - HORIZON_S * 1000
    }


async def live_dedup_ids(kafka: KafkaSettings, app_id: str) -> set[bytes]:
    assert kafka.bootstrap_servers
    table = fold_changelog(await read_raw(kafka.bootstrap_servers, f"{app_id}-dedup-changelog"))
    return set(table)


async def test_dedup_ids_expire_after_the_horizon_and_stay_expired_after_a_restore(
    topics: KafkaSettings, app_id: str, data_root: Path, workers: list[WorkerProcess]
) -> None:
    env = {
        "PULSE_DEDUP_HORIZON_S": str(HORIZON_S),
        "PULSE_DEDUP_PURGE_INTERVAL_S": "1",
        "PULSE_PROGRESS_INTERVAL_S": "0.5",
    }
    data_dir = data_root / "w"
    worker = start_worker(topics, app_id=app_id, data_dir=data_dir, database_url=None, env=env)
    workers.append(worker)
    first = session_changes(0, 12, 200)
    await publish(topics, first)
    await wait_for_progress(worker, lambda p: p["changes"] >= len(first))
    expected = within_horizon(first, topics.partitions)
    assert len(expected) < len(first) / 5
    await wait_for_purge(worker, topics, app_id, expected)

    worker.kill()
    shutil.rmtree(data_dir)
    restarted = start_worker(topics, app_id=app_id, data_dir=data_dir, database_url=None, env=env)
    workers.append(restarted)
    second = session_changes(12, 6, 200)
    await publish(topics, second)
    await wait_for_progress(restarted, lambda p: p["changes"] >= len(second), timeout_s=60)
    expected = within_horizon(first + second, topics.partitions)
    await wait_for_purge(restarted, topics, app_id, expected)
    # The restored store itself (not only the changelog) holds just these IDs after its purge.
    kept: dict[int, int] = {}
    for line in restarted.log().splitlines():
        if line.startswith("{") and '"dedup purge"' in line:
            record = orjson.loads(line)
            kept[record["partition"]] = record["kept"]
    assert sum(kept.values()) == len(expected)


async def wait_for_purge(
    worker: WorkerProcess, kafka: KafkaSettings, app_id: str, expected: set[bytes]
) -> None:
    import asyncio
    import time

    deadline = time.monotonic() + 30
    live: set[bytes] = set()
    while time.monotonic() < deadline:
        live = await live_dedup_ids(kafka, app_id)
        if live == expected:
            return
        await asyncio.sleep(1)
    raise AssertionError(f"dedup changelog holds {len(live)} IDs, expected exactly {len(expected)}")
