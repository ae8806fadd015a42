"""The latency stage of ``pulse bench``: the ingest and one worker at a given rate, then at a
higher one, with the same ingest and worker (``docs/latency.md``).

Each leg writes ``rate`` changes/s into Postgres for the stage's length and times every
per-change update from the commit to a subscriber's read (``latency.LatencyProbe``).
"""

from __future__ import annotations

import asyncio
import functools
import math
import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

from workers.bench.latency import WINDOW_S, Latency, LatencyProbe, split_legs
from workers.bench.live_ingest import running_wal_ingest
from workers.bench.results import BenchFigures
from workers.bench.run import Say, fresh_topics
from workers.bench.worker_process import WorkerProcess, running_worker
from workers.kafka.topics import ensure_project_topics
from workers.services.embedded import Endpoints
from workers.settings import KafkaSettings
from workers.traffic import TrafficSummary, generate, generate_in_thread

LEG_SITES = 10
# A hundred commits a second per writer at every rate: at the higher rate, transactions of ten rows
# would make Postgres's commits, not the pipeline, the limit.
COMMITS_PER_S = 100
# One writer's share of a leg's rate: a writer runs one statement at a time, and the bench's
# process (ingest, probe) would hold it back by the GIL, so faster legs get writer processes.
WRITER_RATE = 2_000.0


@dataclass(frozen=True)
class LegResult:
    rate: float  # asked for
    achieved: float  # what the traffic generator wrote
    latency: Latency
    legs: str  # ``latency.Legs.describe()``
    worker: WorkerLoad


@dataclass(frozen=True)
class WorkerLoad:
    """What the worker did over a leg: its commits (transactions) and CPU, per second."""

    commits_per_s: float
    cpu_share: float  # of one core

    def describe(self) -> str:
        return f"worker {self.commits_per_s:,.0f} commits/s, {self.cpu_share * 100:.0f} % of a core"


class WorkerMeter:
    """Reads the worker's commit count and CPU time at the start of a leg and again at its end."""

    def __init__(self, worker: WorkerProcess) -> None:
        self.worker = worker
        self.started = time.monotonic()
        self.commits = worker.counter("pulse_commits_total")
        self.cpu = worker.cpu_seconds()

    def read(self) -> WorkerLoad:
        seconds = max(time.monotonic() - self.started, 1e-9)
        return WorkerLoad(
            (self.worker.counter("pulse_commits_total") - self.commits) / seconds,
            (self.worker.cpu_seconds() - self.cpu) / seconds,
        )


def transaction_size(rate: float) -> int:
    """Rows per transaction for ``rate`` changes/s (at least one)."""
    return max(1, round(rate / COMMITS_PER_S))


def writers(rate: float) -> int:
    """Writer processes for ``rate`` changes/s; 1 means a thread of this process, as before."""
    return max(1, math.ceil(rate / WRITER_RATE))


def combined(summaries: list[TrafficSummary]) -> float:
    """The rate all writers reached together: their changes over the longest one's time."""
    seconds = max((summary.seconds for summary in summaries), default=0.0)
    return sum(summary.changes for summary in summaries) / seconds if seconds > 0 else 0.0


async def write_traffic(dsn: str, rate: float, seconds: float, seed: int) -> list[TrafficSummary]:
    """Write ``rate`` changes/s for ``seconds`` over ``writers(rate)`` writers, each with its own
    ``LEG_SITES`` sites."""
    count = writers(rate)
    write = functools.partial(
        generate,
        dsn,
        sites=LEG_SITES,
        changes=int(rate / count * seconds),
        rate=rate / count,
        transaction_size=transaction_size(rate / count),
    )
    if count == 1:
        return [await generate_in_thread(dsn, **write.keywords, seed=seed)]
    loop = asyncio.get_running_loop()
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(count, mp_context=context) as pool:
        summaries = await asyncio.gather(
            *(
                loop.run_in_executor(pool, functools.partial(write, seed=seed * 100 + index))
                for index in range(count)
            )
        )
    return list(summaries)


def leg_note(result: LegResult) -> str:
    """The history's note of a leg: its rate, p99 per window and the split into legs."""
    by_window = ", ".join(f"{p99:.0f}" for p99 in result.latency.p99_by_window_ms)
    return (
        f"at {result.rate:,.0f} changes/s ({result.achieved:,.0f} written): "
        f"p99 per {WINDOW_S:.0f} s {by_window} ms; {result.legs}; {result.worker.describe()}"
    )


async def latency_stage(
    services: Endpoints,
    rate: float,
    high_rate: float,
    seconds: float,
    figures: BenchFigures,
    say: Say,
) -> None:
    """Both legs; ``high_rate`` 0 runs only the first."""
    kafka = fresh_topics(services.bootstrap_servers, "e2e", figures.partitions)
    await ensure_project_topics(services.bootstrap_servers, kafka)
    results: list[LegResult] = []
    async with running_wal_ingest(services.dsn, kafka, "pulse_bench_e2e"):
        with running_worker(services.dsn, kafka) as worker:
            # Warm-up: the group must own its partitions before the clock means anything.
            await generate_in_thread(services.dsn, sites=5, changes=200, seed=3)
            await asyncio.to_thread(worker.wait_processed, 200, 120)
            for seed, leg_rate in enumerate((rate, high_rate), 5):
                if leg_rate <= 0:
                    continue
                say(f"end-to-end latency at {leg_rate:,.0f} changes/s for {seconds:.0f} s ...")
                result = await latency_leg(services, kafka, worker, leg_rate, seconds, seed)
                latency = result.latency
                say(
                    f"  p50 {latency.p50_ms:.1f} ms, p95 {latency.p95_ms:.1f} ms, "
                    f"p99 {latency.p99_ms:.1f} ms over {latency.samples:,} updates; "
                    f"{result.achieved:,.0f} changes/s written"
                )
                say(f"  {leg_note(result)}")
                results.append(result)
    record(results, figures)


async def latency_leg(
    services: Endpoints,
    kafka: KafkaSettings,
    worker: WorkerProcess,
    rate: float,
    seconds: float,
    seed: int,
) -> LegResult:
    probe = LatencyProbe(services.bootstrap_servers, kafka.updates_topic, kafka.changes_topic)
    await probe.start()
    before = await asyncio.to_thread(worker.processed)
    meter = await asyncio.to_thread(WorkerMeter, worker)
    summaries = await write_traffic(services.dsn, rate, seconds, seed)
    # The worker may still be behind at the higher rate: every change's update is timed.
    written = sum(summary.changes for summary in summaries)
    await asyncio.to_thread(worker.wait_processed, before + written, seconds * 10 + 60)
    load = await asyncio.to_thread(meter.read)
    await asyncio.sleep(2)
    latency = await probe.stop()
    legs = split_legs(probe.timings()).describe()
    return LegResult(rate, combined(summaries), latency, legs, load)


def record(results: list[LegResult], figures: BenchFigures) -> None:
    """The first leg's figures as ``e2e_*``, the second's as ``e2e_*_high``, both in the notes."""
    for index, result in enumerate(results):
        latency = result.latency
        if index == 0:
            figures.e2e_p50_ms, figures.e2e_p95_ms, figures.e2e_p99_ms = (
                latency.p50_ms,
                latency.p95_ms,
                latency.p99_ms,
            )
        else:
            figures.high_rate = result.rate
            figures.high_rate_written = result.achieved
            figures.e2e_p50_ms_high, figures.e2e_p95_ms_high, figures.e2e_p99_ms_high = (
                latency.p50_ms,
                latency.p95_ms,
                latency.p99_ms,
            )
        figures.add_note(f"latency {leg_note(result)}")
