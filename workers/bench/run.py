"""One ``pulse bench`` run: every stage on one broker and one Postgres, so ratios are fair."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable

from workers.bench.floor import FLOORS, Floor
from workers.bench.ingest_rate import measure_ingest_rate
from workers.bench.input import prepare_input
from workers.bench.passthrough import measure_passthrough
from workers.bench.peer import peer_stage
from workers.bench.recovery import measure_recovery
from workers.bench.results import BenchFigures
from workers.bench.site_day_totals import worker_totals
from workers.bench.stock_faust_worker import GUARANTEES
from workers.bench.timing import ProcessRun, StageRate
from workers.bench.update_span import read_until_quiet, span_seconds
from workers.bench.worker_process import running_worker
from workers.services.embedded import Endpoints
from workers.settings import KafkaSettings

Say = Callable[[str], None]
SITES = 50


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
    services: Endpoints,
    changes: int,
    figures: BenchFigures,
    say: Say,
    *,
    peer: bool = False,
    stock: bool = False,
) -> None:
    """Input, passthrough, the worker, the peer (with ``peer``), the floors, stock Faust (with
    ``stock``)."""
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
    if stock:
        await stock_faust(services, kafka, bench_input.changes, state_floor, figures, say)


async def stock_faust(
    services: Endpoints,
    kafka: KafkaSettings,
    changes: int,
    state_floor: tuple[float | None, float | None],
    figures: BenchFigures,
    say: Say,
) -> None:
    """The state floor's work in a stock Faust agent, with each of Faust's guarantees."""
    stock = []
    for guarantee in GUARANTEES:
        say(f"the state floor's work in a stock Faust agent, {guarantee} ...")
        stock_kafka = kafka.model_copy(
            update={"updates_topic": f"{kafka.updates_topic}_faust_{guarantee}"}
        )
        measured = await measure_worker(
            services, stock_kafka, changes, ["workers.bench.stock_faust_worker", guarantee]
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
