"""``pulse audit`` and ``pulse rebuild`` on the whole pipeline: real Postgres, the WAL ingest
in-process, ``pulse worker`` subprocesses, the real broker.

Budget: about 60 s on the 2-core machine (two Faust worker start-ups, 3,000 changes twice).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from workers.cli.main import main
from workers.ingest.settings import WalIngestSettings
from workers.ingest.wal.runner import IngestProgress, run_wal_ingest
from workers.services.processes import terminate
from workers.settings import KafkaSettings
from workers.tools.audit import audit
from workers.tools.reading import TopicReader
from workers.tools.rebuild import rebuild, wait_for_groups
from workers.traffic.generator import generate

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]


@pytest.fixture
def live_app_id() -> str:
    return f"pulse-live-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def live_worker(
    topics: KafkaSettings, fresh_db: str, live_app_id: str, tmp_path: Path
) -> Iterator[subprocess.Popen[bytes]]:
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": str(topics.bootstrap_servers),
        "PULSE_CHANGES_TOPIC": topics.changes_topic,
        "PULSE_UPDATES_TOPIC": topics.updates_topic,
        "PULSE_REJECTED_TOPIC": topics.rejected_topic,
        "PULSE_PARTITIONS": str(topics.partitions),
        "PULSE_APP_ID": live_app_id,
        "PULSE_DATA_DIR": str(tmp_path / "live"),
        "PULSE_WEB_PORT": "0",
        "PULSE_STANDBY_REPLICAS": "0",
        "PULSE_LOG_FORMAT": "json",
        "DATABASE_URL": fresh_db,
    }
    with (tmp_path / "live.log").open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "workers.cli.main", "worker"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield process
    finally:
        terminate(process)


@pytest.fixture
async def ingest(
    fresh_db: str, topics: KafkaSettings
) -> AsyncIterator[tuple[IngestProgress, asyncio.Event, asyncio.Task[Any]]]:
    stop = asyncio.Event()
    progress = IngestProgress()
    task = asyncio.create_task(
        run_wal_ingest(
            fresh_db, topics, WalIngestSettings(PULSE_HEARTBEAT_INTERVAL_S=1.0), stop, progress
        )
    )
    streaming = asyncio.ensure_future(progress.streaming.wait())
    done, _ = await asyncio.wait({streaming, task}, timeout=60, return_when=asyncio.FIRST_COMPLETED)
    if task in done:
        task.result()
    assert streaming in done, "the WAL ingest did not start streaming"
    try:
        yield progress, stop, task
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


async def test_audit_passes_clean_fails_behind_the_back_and_rebuild_reproduces(
    fresh_db: str,
    topics: KafkaSettings,
    ingest: tuple[IngestProgress, asyncio.Event, asyncio.Task[Any]],
    live_worker: subprocess.Popen[bytes],
    live_app_id: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    progress, stop_ingest, ingest_task = ingest
    bootstrap = str(topics.bootstrap_servers)
    summary = await asyncio.to_thread(
        generate, fresh_db, sites=4, changes=3_000, forged_ratio=0.01, seed=11
    )
    deadline = time.monotonic() + 120
    while progress.changes_acked < summary.changes:
        assert time.monotonic() < deadline, f"ingest acked {progress.changes_acked}"
        await asyncio.sleep(0.2)
    # Converged by the live group's committed offsets, not by polling the audit itself.
    async with TopicReader(bootstrap, topics.changes_topic) as changes:
        await wait_for_groups(
            changes,
            bootstrap,
            {live_app_id: None},
            list(range(topics.partitions)),
            time.monotonic() + 120,
        )

    with psycopg.connect(fresh_db, autocommit=True) as conn:
        async with TopicReader(bootstrap, topics.updates_topic) as reader:
            clean, invalid = await audit(conn, reader)
            # One site alone: read from its partition only, as the worker's producer placed it.
            one_site, _ = await audit(conn, reader, site_id=summary.site_ids[0])
    assert invalid == 0 and clean.differences == [] and clean.row_differences == []
    assert one_site.differences == [] and one_site.compared >= 1
    assert one_site.row_differences == [] and 0 < one_site.rows_compared < clean.rows_compared
    assert clean.compared >= len(summary.site_ids)

    report = await rebuild(
        topics,
        bootstrap,
        f"pulse-rebuild-{uuid.uuid4().hex[:8]}",
        live_app_id,
        data_dir=tmp_path / "rebuild",
        timeout_s=180,
    )
    assert report.differences == []
    assert report.compared == clean.compared
    assert report.worker_log.is_relative_to(tmp_path)

    stop_ingest.set()
    await asyncio.wait_for(ingest_task, 30)
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        changed = conn.execute(
            "UPDATE intents SET sealed_at = NULL WHERE id = (SELECT id FROM intents "
            "WHERE sealed_at IS NOT NULL ORDER BY id LIMIT 1) RETURNING site_id::text"
        ).fetchone()
    assert changed is not None
    site = changed[0]

    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", bootstrap)
    monkeypatch.setenv("PULSE_UPDATES_TOPIC", topics.updates_topic)
    monkeypatch.setenv("PULSE_CHANGES_TOPIC", topics.changes_topic)
    monkeypatch.setenv("DATABASE_URL", fresh_db)
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        async with TopicReader(bootstrap, topics.updates_topic) as reader:
            tampered, _ = await audit(conn, reader)
    assert {d.site_id for d in tampered.differences} == {site}
    assert "conversions" in {d.kpi for d in tampered.differences}
    assert {(d.site_id, d.table, d.field) for d in tampered.row_differences} == {
        (site, "intents", "sealed_at"),
        (site, "intents", "updated_at"),
        (site, "intents", "row_version"),
    }
    capsys.readouterr()
    status = await asyncio.to_thread(main, ["audit", "--site", site])
    out = capsys.readouterr().out
    assert status == 1
    assert site in out and "conversions" in out and "audit failed" in out

    # A rebuild refuses an app id that already has state.
    status = await asyncio.to_thread(
        main, ["rebuild", "--app-id", live_app_id, "--live-app-id", "someone-else"]
    )
    assert status == 2
    assert f"app id '{live_app_id}' already consumed" in capsys.readouterr().err
