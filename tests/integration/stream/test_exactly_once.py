"""Exactly-once on Apache Kafka: killed, and paused and fenced, workers.

Each test ends with the same checks, as a read-committed subscriber sees ``dashboard_updates``
and the quarantine topic: KPIs equal to SQL, every forged change rejected exactly once, no
update published twice (``repeated_updates``), and the workers' committed tallies counting each
change on the topic once: consumed = admitted + stale + duplicates + rejected. At-least-once
processing would pass the KPI check (state is idempotent) but not the others: a batch processed
again republishes its updates and counts its changes again.

Budget: about 200 s for the twenty kills and 40 s for the zombie. The broker's own faults are
in ``test_broker_outage``.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import threading
from collections import Counter
from pathlib import Path

import pytest

from tests.integration.stream.harness import (
    TopicReader,
    WorkerProcess,
    changes_without_outcome,
    committed_tally,
    intent_divergence,
    kpi_mismatches,
    parse_inconsistency,
    progress_lines,
    repeated_updates,
    start_worker,
    state_inconsistencies,
    tallies_by_partition,
    unmatched_steps,
    wait_for_progress,
)
from workers.ingest.wal.runner import IngestProgress
from workers.settings import KafkaSettings
from workers.traffic import TrafficSummary, generate, read_all_changes

pytestmark = pytest.mark.integration

# Small, frequent rounds: a kill or a pause lands in the middle of one.
ROUNDS = {
    "PULSE_PROGRESS_INTERVAL_S": "0.2",
    "PULSE_BATCH_WITHIN_S": "0.01",
    "PULSE_BATCH_MAX_RUNS": "1",
    "PULSE_BATCH_MAX_BYTES": "20000",
    # The default: each worker keeps standby copies of the other's tables, which a takeover
    # then continues from.
    "PULSE_STANDBY_REPLICAS": "1",
}
KILLS = int(os.environ.get("PULSE_TEST_KILLS", "20"))


async def converge_exactly(
    dsn: str,
    topics: KafkaSettings,
    updates: TopicReader,
    rejected: TopicReader,
    summary: TrafficSummary,
    running: list[WorkerProcess],
    app_id: str,
    timeout_s: float = 180,
) -> None:
    assert topics.bootstrap_servers
    state = "; ".join(
        f"{w.logfile.name}: {progress_lines(w)[-1:]}" for w in running if w.process.poll() is None
    )
    try:
        await rejected.wait_for(lambda values: len(values) >= summary.forged, timeout_s=timeout_s)
        await updates.wait_for(
            lambda values: not kpi_mismatches(dsn, values), quiet_s=3, timeout_s=timeout_s
        )
    except TimeoutError:
        problems = kpi_mismatches(dsn, updates.values)
        changes = await read_all_changes(topics.bootstrap_servers, topics.changes_topic)
        sites = sorted({problem.split("'")[1] for problem in problems})
        intents = [
            line for site in sites for line in intent_divergence(dsn, updates.values, changes, site)
        ]
        inconsistent = await state_inconsistencies(topics.bootstrap_servers, app_id)
        for line in inconsistent[:2]:
            partition, day, kind = parse_inconsistency(line)
            inconsistent += await unmatched_steps(
                topics.bootstrap_servers, app_id, partition, day, kind
            )
        raise AssertionError(
            f"{len(rejected.values)} of {summary.forged} rejects; {len(problems)} site-days "
            f"differ, e.g. {problems[:3]}; intents that differ: {intents}; committed days "
            f"against committed rows: {inconsistent}; running workers: {state}"
        ) from None
    assert len(rejected.values) == summary.forged
    assert len({r["event_id"] for r in rejected.values}) == summary.forged
    changes = await read_all_changes(
        topics.bootstrap_servers, topics.changes_topic, expected=summary.changes
    )
    assert repeated_updates(updates.values, changes) == []
    # Every change on the topic is in exactly one committed outcome, whoever processed it: as
    # the changelog holds the tallies, and as the live workers' stores do.
    by_partition = await tallies_by_partition(
        topics.bootstrap_servers, app_id, topics.changes_topic
    )
    tally = await committed_tally(running, len(changes))
    print(f"committed outcomes: {tally}; per partition, changes and tally: {by_partition}")
    if tally.consumed != len(changes) or any(
        (t.consumed if t else 0) != held for held, t in by_partition.values()
    ):
        silent = changes_without_outcome(changes, updates.values, rejected.values)
        last_lines = {w.logfile.name: progress_lines(w)[-1:] for w in running}
        raise AssertionError(
            f"committed tallies count {tally.consumed} of {len(changes)} changes; "
            f"{len(silent)} changes without an update or reject, by table "
            f"{Counter(c['table'] for c in silent)}, e.g. {silent[:2]}; each worker's last "
            f"progress: {last_lines}"
        )
    assert tally.unaccounted == 0
    assert tally.rejected == summary.forged
    # The committed day aggregates are the sums of the committed row states' contributions.
    assert await state_inconsistencies(topics.bootstrap_servers, app_id) == []


def start_traffic(dsn: str, stop: threading.Event, seed: int) -> asyncio.Task[TrafficSummary]:
    """Paced writes for many sites (so that every partition gets some) until ``stop``."""
    return asyncio.create_task(
        asyncio.to_thread(
            generate,
            dsn,
            sites=24,
            changes=200_000,
            forged_ratio=0.01,
            seed=seed,
            rate=400,
            transaction_size=20,
            stop=stop,
        )
    )


async def test_one_of_two_workers_sigkilled_mid_batch_twenty_times_ends_exact(
    fresh_db: str,
    topics: KafkaSettings,
    wal_ingest: IngestProgress,
    updates: TopicReader,
    rejected: TopicReader,
    app_id: str,
    data_root: Path,
    workers: list[WorkerProcess],
) -> None:
    survivor = start_worker(
        topics, app_id=app_id, data_dir=data_root / "survivor", database_url=fresh_db, env=ROUNDS
    )
    workers.append(survivor)
    stop = threading.Event()
    traffic = start_traffic(fresh_db, stop, seed=21)
    rng = random.Random(21)
    try:
        for _kill in range(KILLS):
            victim = start_worker(
                topics,
                app_id=app_id,
                data_dir=data_root / "victim",
                database_url=fresh_db,
                env=ROUNDS,
            )
            workers.append(victim)
            # Killed while it processes: it has handled changes of its own since it started.
            await wait_for_progress(
                victim, lambda p: p["changes"] > 0 and bool(p["assigned"]), timeout_s=90
            )
            await asyncio.sleep(rng.uniform(0.0, 0.3))
            victim.kill()
    finally:
        stop.set()
        summary = await traffic
    assert summary.forged > 0
    await converge_exactly(fresh_db, topics, updates, rejected, summary, workers, app_id)
    # A standby store's offset is where a takeover continues from; one ahead of its changelog
    # would hold writes nobody committed.
    for worker in workers:
        assert "ahead of its committed changelog" not in worker.log()


async def test_a_paused_worker_fenced_by_its_successor_commits_nothing(
    fresh_db: str,
    topics: KafkaSettings,
    wal_ingest: IngestProgress,
    updates: TopicReader,
    rejected: TopicReader,
    app_id: str,
    data_root: Path,
    workers: list[WorkerProcess],
) -> None:
    first = start_worker(
        topics, app_id=app_id, data_dir=data_root / "a", database_url=fresh_db, env=ROUNDS
    )
    zombie = start_worker(
        topics, app_id=app_id, data_dir=data_root / "b", database_url=fresh_db, env=ROUNDS
    )
    workers += [first, zombie]
    stop = threading.Event()
    traffic = start_traffic(fresh_db, stop, seed=5)
    try:
        await wait_for_progress(zombie, lambda p: p["changes"] > 0, timeout_s=90)
        await wait_for_progress(first, lambda p: p["changes"] > 0, timeout_s=90)
        # Past its session timeout (6 s): the group hands its partitions to the first worker,
        # whose producers fence the zombie's.
        zombie.process.send_signal(signal.SIGSTOP)
        await wait_for_progress(
            first, lambda p: len(p["assigned"]) == topics.partitions, timeout_s=60
        )
        await asyncio.sleep(2)
        zombie.process.send_signal(signal.SIGCONT)
        await asyncio.sleep(5)
    finally:
        stop.set()
        summary = await traffic
    await converge_exactly(fresh_db, topics, updates, rejected, summary, workers, app_id)
    # Whether the zombie woke with a round in hand (its commit is then refused) or learnt of
    # the rebalance first, nothing it did may show: the checks above would see a repeat. Either
    # way it stays up and takes part in the group again.
    fenced = "producer fenced" in zombie.log()
    print(f"zombie's transaction refused as fenced: {fenced}")
    assert zombie.process.poll() is None, zombie.log()[-3000:]
    assert "a batch failed" not in zombie.log()
