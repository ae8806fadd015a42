"""The broker paused for 20 s, or restarted, in the middle of the worker's rounds: nothing is lost
or repeated.

The broker here is the test's own (an Apache Kafka in place of the session's
``bootstrap_servers``), paused with SIGSTOP or restarted with its data, so the session's shared
broker never stops. Budget: about 60 s a test on the 2-core machine. A worker reports the
outage meanwhile (``/readyz``, ``pulse_dependency_up``, ``pulse_reconnects_total``).
"""

from __future__ import annotations

import asyncio
import subprocess
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from tests.integration.probing import metric, readyz, wait_until
from tests.integration.stream.harness import (
    TopicReader,
    WorkerProcess,
    committed_tally,
    kpi_mismatches,
    repeated_updates,
    start_worker,
    wait_for_progress,
)
from workers.ingest.settings import WalIngestSettings
from workers.ingest.wal.runner import IngestProgress, run_wal_ingest
from workers.services.apache_kafka import ApacheKafka
from workers.services.ports import free_port
from workers.settings import KafkaSettings
from workers.traffic import generate, read_all_changes

pytestmark = pytest.mark.integration

# Small rounds, one run each: the worker publishes and persists many times over the input, so
# the pause lands in the middle of a round.
SLOW_ROUNDS = {
    "PULSE_PROGRESS_INTERVAL_S": "0.5",
    "PULSE_BATCH_WITHIN_S": "0.01",
    "PULSE_BATCH_MAX_RUNS": "1",
    "PULSE_BATCH_MAX_BYTES": "20000",
    "PULSE_PRODUCER_REQUEST_TIMEOUT_S": "2",
}
PAUSE_S = 20
DOWN_S = 12.0


@pytest.fixture
def bootstrap_servers(own_broker: ApacheKafka) -> str:
    """The topics, readers and workers of this module use the broker that the test pauses."""
    return own_broker.bootstrap_servers


async def ingest_all(dsn: str, kafka: KafkaSettings) -> int:
    """Rows written and their changes in ``supabase_changes`` before any worker runs."""
    assert kafka.bootstrap_servers
    stop = asyncio.Event()
    progress = IngestProgress()
    task = asyncio.create_task(
        run_wal_ingest(
            dsn, kafka, WalIngestSettings(PULSE_HEARTBEAT_INTERVAL_S=1.0), stop, progress
        )
    )
    await asyncio.wait_for(progress.streaming.wait(), 60)
    summary = await asyncio.to_thread(
        generate, dsn, sites=6, changes=15_000, forged_ratio=0.01, seed=13
    )
    await read_all_changes(kafka.bootstrap_servers, kafka.changes_topic, expected=summary.changes)
    stop.set()
    await asyncio.wait_for(task, 30)
    return summary.changes


def exit_code(worker: WorkerProcess, timeout_s: float) -> int | None:
    try:
        return worker.process.wait(timeout_s)
    except subprocess.TimeoutExpired:
        return None


async def run_through_a_fault(
    fault: Callable[[], Awaitable[None]],
    fresh_db: str,
    topics: KafkaSettings,
    updates: TopicReader,
    data_root: Path,
    workers: list[WorkerProcess],
) -> None:
    """Ingest, start a worker, inject ``fault`` mid-run, then check the result is exact."""
    changes = await ingest_all(fresh_db, topics)
    app_id = f"pulse-outage-{uuid.uuid4().hex[:8]}"
    first = start_worker(
        topics,
        app_id=app_id,
        data_dir=data_root / "w",
        database_url=fresh_db,
        env=SLOW_ROUNDS,
    )
    workers.append(first)
    before = await wait_for_progress(first, lambda p: p["changes"] > 1_000)
    assert before["changes"] < changes
    await fault()

    # The worker either rides the fault out or stops with the round uncommitted; then a new one
    # takes over from the committed offsets.
    if (code := await asyncio.to_thread(exit_code, first, 10)) is not None:
        assert code != 0
        assert "a batch failed; stopping the worker with its records uncommitted" in first.log()
        second = start_worker(
            topics,
            app_id=app_id,
            data_dir=data_root / "w",
            database_url=fresh_db,
            env={"PULSE_PROGRESS_INTERVAL_S": "0.5"},
        )
        workers.append(second)
    try:
        await updates.wait_for(
            lambda values: not kpi_mismatches(fresh_db, values), quiet_s=2.5, timeout_s=120
        )
    except TimeoutError:
        problems = kpi_mismatches(fresh_db, updates.values)
        raise AssertionError(f"{len(problems)} site-days differ, e.g. {problems[:3]}") from None
    assert topics.bootstrap_servers
    source = await read_all_changes(
        topics.bootstrap_servers, topics.changes_topic, expected=changes
    )
    assert repeated_updates(updates.values, source) == []
    tally = await committed_tally(workers, len(source))
    assert tally.consumed == len(source)
    assert tally.unaccounted == 0


async def test_a_broker_paused_mid_round_loses_and_repeats_nothing(
    fresh_db: str,
    own_broker: ApacheKafka,
    topics: KafkaSettings,
    updates: TopicReader,
    data_root: Path,
    workers: list[WorkerProcess],
) -> None:
    async def pause() -> None:
        own_broker.pause()
        try:
            await asyncio.sleep(PAUSE_S)
        finally:
            own_broker.resume()

    await run_through_a_fault(pause, fresh_db, topics, updates, data_root, workers)


async def test_a_broker_restarted_mid_round_loses_and_repeats_nothing(
    fresh_db: str,
    own_broker: ApacheKafka,
    topics: KafkaSettings,
    updates: TopicReader,
    data_root: Path,
    workers: list[WorkerProcess],
) -> None:
    async def restart() -> None:
        await asyncio.to_thread(own_broker.restart)

    await run_through_a_fault(restart, fresh_db, topics, updates, data_root, workers)


async def test_a_worker_reports_the_broker_away_while_it_is_and_stays_up(
    fresh_db: str,
    own_broker: ApacheKafka,
    topics: KafkaSettings,
    app_id: str,
    data_root: Path,
    workers: list[WorkerProcess],
) -> None:
    metrics_port, web_port = free_port(), free_port()
    worker = start_worker(
        topics,
        app_id=app_id,
        data_dir=data_root / "w",
        database_url=fresh_db,
        env={
            "PULSE_WORKER_METRICS_PORT": str(metrics_port),
            "PULSE_WEB_PORT": str(web_port),
            "PULSE_RECONNECT_INITIAL_S": "0.2",
            "PULSE_RECONNECT_MAX_S": "2",
        },
    )
    workers.append(worker)
    link = {"component": "worker", "dependency": "kafka"}

    async def until(condition: Callable[[], bool], what: str, timeout_s: float = 90) -> None:
        await wait_until(condition, what, worker.process, worker.log, timeout_s)

    await until(lambda: readyz(web_port)[0] == 200, "the worker to be ready")
    await asyncio.to_thread(own_broker.shutdown)
    down_at = time.monotonic()
    await until(
        lambda: readyz(web_port)[1].get("reconnecting_to") == ["kafka"],
        "/readyz to name kafka",
        timeout_s=DOWN_S,
    )
    assert readyz(web_port)[0] == 503
    assert metric(metrics_port, "pulse_dependency_up", **link) == 0
    await asyncio.sleep(max(0.0, DOWN_S - (time.monotonic() - down_at)))

    await asyncio.to_thread(own_broker.launch)
    await until(lambda: readyz(web_port)[0] == 200, "the worker to be ready again")
    assert metric(metrics_port, "pulse_reconnects_total", **link) == 1
    assert metric(metrics_port, "pulse_dependency_up", **link) == 1
    assert worker.process.poll() is None
    assert worker.log().count('"kafka lost; reconnecting"') == 1
