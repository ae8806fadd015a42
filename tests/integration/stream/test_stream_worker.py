"""The stream worker end to end: real Postgres, real WAL ingest, real broker, ``pulse worker``.

Budget: about 25 s for the exactness test, 45 s for the SIGKILL test and 50 s for the recovery
test on the 2-core machine (mostly consumer-group session timeouts and quiet spells).
"""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from typing import Any

import psycopg
import pytest

from schemas.updates import dashboard_update_adapter
from tests.integration.stream.harness import (
    TopicReader,
    WorkerProcess,
    kpi_mismatches,
    repeated_updates,
    start_worker,
    wait_for_progress,
)
from workers.ingest.wal.runner import IngestProgress
from workers.settings import KafkaSettings
from workers.traffic import generate, read_all_changes, redeliver

pytestmark = pytest.mark.integration

FAST = {"PULSE_PROGRESS_INTERVAL_S": "0.5", "PULSE_BATCH_WITHIN_S": "0.05"}


def assert_scoped(
    updates: list[dict[str, Any]], site_of_event: dict[str, str], forged: set[str]
) -> None:
    """Every update is keyed by its site and derives only from that site's own, verified rows."""
    for update in updates:
        assert update["_key"] == update["site_id"]
        dashboard_update_adapter.validate_python({k: v for k, v in update.items() if k != "_key"})
        for event_id in update["event_ids"]:
            assert site_of_event[event_id] == update["site_id"], update
            assert event_id not in forged


async def converge(
    dsn: str, updates: TopicReader, rejected: TopicReader, forged: int, timeout_s: float = 120
) -> None:
    await rejected.wait_for(
        lambda values: len({v["event_id"] for v in values}) >= forged, timeout_s=timeout_s
    )
    try:
        await updates.wait_for(
            lambda values: not kpi_mismatches(dsn, values), quiet_s=2.5, timeout_s=timeout_s
        )
    except TimeoutError:
        problems = kpi_mismatches(dsn, updates.values)
        raise AssertionError(f"{len(problems)} site-days differ, e.g. {problems[:3]}") from None


async def test_kpis_equal_sql_with_duplicates_and_forged_sites(
    fresh_db: str,
    topics: KafkaSettings,
    wal_ingest: IngestProgress,
    updates: TopicReader,
    rejected: TopicReader,
    app_id: str,
    data_root: Path,
    workers: list[WorkerProcess],
) -> None:
    assert topics.bootstrap_servers
    workers.append(
        start_worker(
            topics, app_id=app_id, data_dir=data_root / "w1", database_url=fresh_db, env=FAST
        )
    )
    summary = await asyncio.to_thread(
        generate, fresh_db, sites=10, changes=20_000, forged_ratio=0.01, seed=7
    )
    assert summary.forged == 200
    duplicates = await redeliver(
        topics.bootstrap_servers, topics.changes_topic, ratio=0.1, seed=7, expected=summary.changes
    )
    assert len(duplicates) == 2_000
    await converge(fresh_db, updates, rejected, summary.forged)
    progress = await wait_for_progress(workers[0], lambda p: p["changes"] >= 22_000)
    assert progress["rejected"] == summary.forged

    assert len(rejected.values) == summary.forged
    assert {r["reason"] for r in rejected.values} == {"site_mismatch"}
    changes = await read_all_changes(
        topics.bootstrap_servers, topics.changes_topic, expected=22_000
    )
    site_of_event = {c["event_id"]: c["site_id"] for c in changes}
    # A row set back to an earlier state in one transaction gives two changes one event ID (see
    # workers.changes.event_id); their WAL positions differ, and dedup admits each position once.
    # Every consumed change was applied, rejected or dropped as a duplicate: exactly the distinct
    # (ID, position) pairs got through (a batch processed twice after a rebalance only adds
    # duplicates).
    distinct = {(c["event_id"], c["lsn"]) for c in changes}
    assert progress["changes"] - progress["duplicates"] == len(distinct)
    assert progress["duplicates"] >= 2_000
    forged_ids = {r["event_id"] for r in rejected.values}
    assert len(forged_ids) == summary.forged
    for record in rejected.values:
        assert record["_key"] == record["site_id"] == site_of_event[record["event_id"]]
    assert_scoped(updates.values, site_of_event, forged_ids)
    kinds = {u["type"] for u in updates.values}
    assert kinds >= {
        "intent_created",
        "intent_updated",
        "call_created",
        "call_updated",
        "event_created",
        "session_heartbeat",
        "conversion_sealed",
        "data_freshness",
        "kpi_updated",
    }
    for site in summary.site_ids:
        seqs = [u["seq"] for u in updates.values if u["site_id"] == site]
        assert seqs == sorted(seqs)
    assert repeated_updates(updates.values, changes) == []


async def test_two_workers_share_partitions_and_one_is_killed_mid_run(
    fresh_db: str,
    topics: KafkaSettings,
    wal_ingest: IngestProgress,
    updates: TopicReader,
    rejected: TopicReader,
    app_id: str,
    data_root: Path,
    workers: list[WorkerProcess],
) -> None:
    assert topics.bootstrap_servers
    first = start_worker(
        topics, app_id=app_id, data_dir=data_root / "a", database_url=fresh_db, env=FAST
    )
    second = start_worker(
        topics, app_id=app_id, data_dir=data_root / "b", database_url=fresh_db, env=FAST
    )
    workers += [first, second]
    split_a = await wait_for_progress(first, lambda p: 0 < len(p["assigned"]) < topics.partitions)
    split_b = await wait_for_progress(second, lambda p: 0 < len(p["assigned"]) < topics.partitions)
    assert set(split_a["assigned"]) | set(split_b["assigned"]) == set(range(topics.partitions))
    assert not set(split_a["assigned"]) & set(split_b["assigned"])

    traffic = asyncio.create_task(
        asyncio.to_thread(
            generate, fresh_db, sites=10, changes=12_000, forged_ratio=0.01, seed=3, rate=2_000
        )
    )
    await wait_for_progress(first, lambda p: p["changes"] > 2_000)
    first.kill()
    summary = await traffic
    await redeliver(
        topics.bootstrap_servers, topics.changes_topic, ratio=0.1, seed=3, expected=summary.changes
    )
    await wait_for_progress(second, lambda p: len(p["assigned"]) == topics.partitions, timeout_s=60)
    await converge(fresh_db, updates, rejected, summary.forged)
    assert len({r["event_id"] for r in rejected.values}) == summary.forged
    changes = await read_all_changes(
        topics.bootstrap_servers, topics.changes_topic, expected=summary.changes
    )
    assert_scoped(
        updates.values,
        {c["event_id"]: c["site_id"] for c in changes},
        {r["event_id"] for r in rejected.values},
    )


async def test_a_worker_with_a_wiped_data_dir_restores_its_tables_from_the_changelogs(
    fresh_db: str,
    topics: KafkaSettings,
    wal_ingest: IngestProgress,
    updates: TopicReader,
    rejected: TopicReader,
    app_id: str,
    data_root: Path,
    workers: list[WorkerProcess],
) -> None:
    assert topics.bootstrap_servers
    data_dir = data_root / "w"
    workers.append(
        start_worker(topics, app_id=app_id, data_dir=data_dir, database_url=fresh_db, env=FAST)
    )
    summary = await asyncio.to_thread(
        generate, fresh_db, sites=6, changes=8_000, forged_ratio=0.01, seed=5
    )
    await converge(fresh_db, updates, rejected, summary.forged)
    await wait_for_progress(workers[0], lambda p: p["changes"] >= summary.changes)
    workers[0].kill()
    shutil.rmtree(data_dir)

    restarted = start_worker(
        topics, app_id=app_id, data_dir=data_dir, database_url=fresh_db, env=FAST
    )
    workers.append(restarted)
    # Every change again (a replay from offset 0): a fully restored dedup table drops them all.
    replayed = await redeliver(
        topics.bootstrap_servers, topics.changes_topic, ratio=1.0, seed=1, expected=summary.changes
    )
    # Changes to old rows: their KPI effect depends on the restored row states.
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute(
            "UPDATE intents SET sealed_at = created_at + interval '1 hour' WHERE id IN "
            "(SELECT id FROM intents WHERE sealed_at IS NULL ORDER BY id LIMIT 40)"
        )
        conn.execute("DELETE FROM calls WHERE id IN (SELECT id FROM calls ORDER BY id LIMIT 30)")
        conn.execute(
            "UPDATE sessions SET last_seen_at = now() WHERE id IN (SELECT id FROM sessions LIMIT 20)"
        )
    # The restarted worker may also re-read source messages whose offsets the killed one never
    # committed: those are duplicates too. Only the 90 new changes may get through dedup.
    await wait_for_progress(restarted, lambda p: p["changes"] - p["duplicates"] >= 90, timeout_s=90)
    await converge(fresh_db, updates, rejected, summary.forged)
    progress = await wait_for_progress(restarted, lambda p: p["changes"] >= len(replayed) + 90)
    assert progress["changes"] - progress["duplicates"] == 90
    assert len(rejected.values) == summary.forged
