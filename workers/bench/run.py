"""One ``pulse bench`` run: every stage on one broker and one Postgres, so ratios are fair."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable

from workers.bench.floor import FLOORS, Floor
from workers.bench.ingest_rate import measure_ingest_rate
from workers.bench.input import prepare_input
from workers.bench.latency import WINDOW_S, LatencyProbe, split_legs
from workers.bench.passthrough import measure_passthrough
from workers.bench.peer import peer_stage
from workers.bench.produce import produce_all
from workers.bench.recovery import measure_recovery
from workers.bench.results import BenchFigures
from workers.bench.site_day_totals import worker_totals
from workers.bench.stock_faust_worker import GUARANTEES
from workers.bench.synthetic import synthetic_batches
from workers.bench.timing import ProcessRun, StageRate
from workers.bench.update_span import read_until_quiet, span_seconds
from workers.bench.worker_process import running_worker
from workers.ingest.settings import WalIngestSettings
from workers.ingest.wal.runner import IngestProgress, run_wal_ingest
from workers.kafka.topics import ensure_project_topics
from workers.services.embedded import Endpoints
from workers.settings import KafkaSettings
from workers.traffic import generate_in_thread

Say = Callable[[str], None]
SITES = 50
MORE_IDS_FRACTION = 0.5


def fresh_topics(bootstrap: str, stage: str, partitions: int) -> KafkaSettings:
    suffix = f"{stage}_{uuid.uuid4().hex[:6]}"
    return KafkaSettings(
        KAFKA_BOOTSTRAP_SERVERS=bootstrap,
        PULSE_PARTITIONS=partitions,
        PULSE_CHANGES_TOPIC=f"bench_changes_{suffix}",
        PULSE_UPDATES_TOPIC=f"bench_updates_{suffix}",
        PULSE_REJECTED_TOPIC=f"bench_rejected_{suffix}",
    )


async def stream_stage(
    services: Endpoints, changes: int, figures: BenchFigures, say: Say, *, peer: bool = False
) -> None:
    """Input, passthrough, the worker, the peer (with ``peer``), the floors, stock Faust."""
    kafka = fresh_topics(services.bootstrap_servers, "stream", figures.partitions)
    say(f"input: {changes:,} generated changes through the WAL ingest, plus 10 % re-deliveries ...")
    bench_input = await prepare_input(services.dsn, kafka, changes, SITES)
    figures.changes = bench_input.changes
    say(f"passthrough over {bench_input.changes:,} changes ...")
    passthrough = await measure_passthrough(
        services.bootstrap_servers,
        kafka.changes_topic,
        f"{kafka.changes_topic}_copy",
        bench_input.changes,
    )
    figures.passthrough_rate = passthrough.rate
    say(f"  {passthrough.rate:,.0f} changes/s")
    say("stream worker over the same changes ...")
    worker = await measure_worker(services, kafka, bench_input.changes)
    figures.stream_rate = worker.rate.rate
    if figures.stream_rate and figures.passthrough_rate:
        figures.stream_ratio = figures.stream_rate / figures.passthrough_rate
        say(f"  {figures.stream_rate:,.0f} changes/s, ratio {figures.stream_ratio:.2f}")
    cpu = cpu_comparison(passthrough.cpu_per_change_us, worker.cpu_per_change_us)
    if cpu:
        figures.add_note(cpu)
        say(f"  {cpu}")
    if peer:
        # Right after the worker, so that the two are measured under the same load.
        await peer_stage(services, kafka, bench_input.changes, worker, figures, say)
    floors = []
    state_floor: tuple[float | None, float | None] = (None, None)
    for floor in FLOORS:
        say(f"the worker's app without its logic ({floor} floor) over the same changes ...")
        floor_kafka = kafka.model_copy(
            update={"updates_topic": f"{kafka.updates_topic}_{floor}_floor"}
        )
        measured = await measure_worker(
            services, floor_kafka, bench_input.changes, ["workers.bench.floor_worker", floor]
        )
        text = floor_figures(floor, measured.rate.rate, passthrough, measured.cpu_per_change_us)
        say(f"  {text}")
        floors.append(text)
        if floor == "state":
            state_floor = (measured.rate.rate, measured.cpu_per_change_us)
    figures.add_note("floors: " + ", ".join(floors))
    stock = []
    for guarantee in GUARANTEES:
        say(f"the state floor's work in a stock Faust agent, {guarantee} ...")
        stock_kafka = kafka.model_copy(
            update={"updates_topic": f"{kafka.updates_topic}_faust_{guarantee}"}
        )
        measured = await measure_worker(
            services,
            stock_kafka,
            bench_input.changes,
            ["workers.bench.stock_faust_worker", guarantee],
        )
        text = stock_faust_figures(
            guarantee, measured.rate.rate, measured.cpu_per_change_us, *state_floor
        )
        say(f"  {text}")
        stock.append(text)
    figures.add_note("stock Faust (state floor's work): " + ", ".join(stock))


async def measure_worker(
    services: Endpoints, kafka: KafkaSettings, changes: int, module: list[str] | None = None
) -> ProcessRun:
    """A fresh worker (``pulse worker``, or ``python -m MODULE ...``) over ``changes`` records:
    its update span, CPU us per change and the KPI totals of its last ``kpi_updated``."""
    with running_worker(services.dsn, kafka, module=module) as worker:
        await asyncio.to_thread(worker.wait_processed, 1, 600)
        cpu_start, changes_start = worker.cpu_seconds(), worker.processed()
        await asyncio.to_thread(worker.wait_processed, changes, 600)
        measured = worker.processed() - changes_start
        worker_us = (worker.cpu_seconds() - cpu_start) / measured * 1e6 if measured else None
        records = await read_until_quiet(services.bootstrap_servers, kafka.updates_topic)
    return ProcessRun(
        StageRate(changes, span_seconds(records)),
        worker_us,
        worker_totals(record.value for record in records),
    )


def floor_figures(
    floor: Floor, rate: float, passthrough: StageRate, worker_us: float | None
) -> str:
    """A floor's rate ratio and CPU ratio to passthrough, as the notes give them."""
    ratio = _ratio(rate, passthrough.rate)
    cpu = _ratio(passthrough.cpu_per_change_us, worker_us)
    return f"{floor} {rate:,.0f} changes/s, ratio {ratio} (CPU ratio {cpu})"


def stock_faust_figures(
    guarantee: str,
    rate: float,
    stock_us: float | None,
    floor_rate: float | None,
    floor_us: float | None,
) -> str:
    """The stock Faust app's rate, and the state floor's rate and CPU per change against it."""
    return (
        f"{guarantee} {rate:,.0f} changes/s, state floor {_ratio(floor_rate, rate)}x its rate "
        f"and {_ratio(stock_us, floor_us)}x less CPU per change"
    )


def _ratio(numerator: float | None, denominator: float | None) -> str:
    return f"{numerator / denominator:.2f}" if numerator and denominator else "-"


def cpu_comparison(own: float | None, theirs: float | None) -> str | None:
    """CPU us per change of passthrough and worker: steadier on a shared machine than rates."""
    if own is None or not theirs:
        return None
    return (
        f"CPU per change: passthrough {own:.1f} us, stream worker {theirs:.1f} us "
        f"(ratio {own / theirs:.2f})"
    )


async def ingest_stage(services: Endpoints, rows: int, figures: BenchFigures, say: Say) -> None:
    say(f"ingest: {rows:,} rows, commit to Kafka ack ...")
    kafka = fresh_topics(services.bootstrap_servers, "ingest", figures.partitions)
    result = await measure_ingest_rate(services.dsn, kafka, rows)
    figures.ingest_rate = result.rate
    say(f"  {result.rate:,.0f} changes/s")


async def latency_stage(
    services: Endpoints, rate: float, seconds: float, figures: BenchFigures, say: Say
) -> None:
    say(f"end-to-end latency at {rate:,.0f} changes/s for {seconds:.0f} s ...")
    kafka = fresh_topics(services.bootstrap_servers, "e2e", figures.partitions)
    await ensure_project_topics(services.bootstrap_servers, kafka)
    stop = asyncio.Event()
    progress = IngestProgress()
    options = WalIngestSettings(
        PULSE_SLOT_NAME="pulse_bench_e2e",
        PULSE_PUBLICATION="pulse_bench_e2e",
        PULSE_INITIAL_SNAPSHOT=False,
    )
    ingest = asyncio.create_task(run_wal_ingest(services.dsn, kafka, options, stop, progress))
    try:
        await asyncio.wait_for(progress.streaming.wait(), 60)
        with running_worker(services.dsn, kafka) as worker:
            # Warm-up: the group must own its partitions before the clock means anything.
            await generate_in_thread(services.dsn, sites=5, changes=200, seed=3)
            await asyncio.to_thread(worker.wait_processed, 200, 120)
            probe = LatencyProbe(
                services.bootstrap_servers, kafka.updates_topic, kafka.changes_topic
            )
            await probe.start()
            await generate_in_thread(
                services.dsn,
                sites=10,
                changes=int(rate * seconds),
                seed=5,
                rate=rate,
                transaction_size=10,
            )
            await asyncio.sleep(2)
            latency = await probe.stop()
    finally:
        stop.set()
        await asyncio.wait_for(ingest, 60)
    figures.e2e_p50_ms, figures.e2e_p95_ms, figures.e2e_p99_ms = (
        latency.p50_ms,
        latency.p95_ms,
        latency.p99_ms,
    )
    say(
        f"  p50 {latency.p50_ms:.1f} ms, p95 {latency.p95_ms:.1f} ms, p99 {latency.p99_ms:.1f} ms over {latency.samples:,} updates"
    )
    by_window = ", ".join(f"{p99:.0f}" for p99 in latency.p99_by_window_ms)
    figures.add_note(f"p99 per {WINDOW_S:.0f} s of the latency run: {by_window} ms")
    say(f"  p99 per {WINDOW_S:.0f} s: {by_window} ms")
    legs = split_legs(probe.timings()).describe()
    figures.add_note(legs)
    say(f"  {legs}")


async def memory_stage(services: Endpoints, ids: int, figures: BenchFigures, say: Say) -> None:
    say(f"memory: worker RSS after {ids:,} distinct event IDs ...")
    kafka = fresh_topics(services.bootstrap_servers, "memory", figures.partitions)
    await ensure_project_topics(services.bootstrap_servers, kafka)
    first = await asyncio.to_thread(synthetic_batches, ids, SITES)
    await produce_all(services.bootstrap_servers, kafka.changes_topic, first)
    with running_worker(services.dsn, kafka) as worker:
        await asyncio.to_thread(worker.wait_processed, ids, 1200)
        rss, peak = worker.rss_mb()
        figures.worker_rss_mb = peak
        say(f"  RSS {rss:,.0f} MiB, peak {peak:,.0f} MiB")
        more = int(ids * MORE_IDS_FRACTION)
        second = await asyncio.to_thread(synthetic_batches, more, SITES, int(time.time() * 1000))
        await produce_all(services.bootstrap_servers, kafka.changes_topic, second)
        await asyncio.to_thread(worker.wait_processed, ids + more, 1200)
        rss_after, peak_after = worker.rss_mb()
    figures.add_note(f"rss after +{more:,} ids: {rss_after:,.0f} MiB (peak {peak_after:,.0f})")
    say(f"  after {more:,} more IDs: RSS {rss_after:,.0f} MiB, peak {peak_after:,.0f} MiB")


async def recovery_stage(services: Endpoints, keys: int, figures: BenchFigures, say: Say) -> None:
    say("recovery: from a worker's SIGKILL until every partition is processed again ...")
    recovery = await measure_recovery(
        services.dsn,
        lambda case: fresh_topics(services.bootstrap_servers, case, figures.partitions),
        keys,
        say,
    )
    for name, timeline in (
        ("restart", recovery.restart),
        ("takeover", recovery.takeover),
        ("wiped", recovery.wiped),
    ):
        if timeline is not None:
            figures.add_note(f"{name}: {timeline.describe()}")
    figures.restart_s = recovery.restart.total_s if recovery.restart else None
    figures.takeover_s = recovery.takeover.total_s if recovery.takeover else None
    figures.wiped_s = recovery.wiped.total_s if recovery.wiped else None
    figures.add_note(
        f"wiped: {keys:,} distinct changes, {recovery.wiped_changelog_records:,} changelog records"
    )
