"""``pulse chaos``: rounds of traffic, one fault each, until the duration is spent.

A round starts the generator for ``SEGMENT_S`` seconds of traffic on sites of its own, injects
its fault, lets the traffic end, publishes a few of the round's changes again (the re-deliveries
an at-least-once producer makes), and waits until the pipeline has converged. The run ends with
``pulse audit``'s comparison of every KPI, call and intent against SQL, and the report.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from aiokafka.errors import KafkaError
from rich.console import Console

from workers.chaos.accounting import (
    Findings,
    Observed,
    Segment,
    difference,
    run_findings,
    total_tally,
)
from workers.chaos.convergence import converge, sql_kpis, supervise
from workers.chaos.injectors import inject
from workers.chaos.observer import TopicObserver, days_changelog
from workers.chaos.pipeline import Pipeline, start_children, start_services
from workers.chaos.plan import SEGMENT_S, Fault, fault_sequence
from workers.chaos.report import ChaosReport, RoundResult, exit_status, render_report
from workers.cli.exit_status import ExitStatus
from workers.cli.signals import signals_ignored, sigterm_as_interrupt
from workers.demo.children import Child
from workers.demo.dashboard_state import DashboardState, site_kpis
from workers.demo.failures import DemoFailure
from workers.demo.feed import follow
from workers.demo.launch import python_module
from workers.demo.progress import step
from workers.demo.stack import DemoStack, child_environment
from workers.demo.summary import audit_outcome
from workers.kafka.topics import ensure_project_topics
from workers.settings import KafkaSettings
from workers.traffic.plan import plan_site_ids
from workers.traffic.redelivery import publish_share

SITES_PER_ROUND = 3
FORGED_RATIO = 0.02
REDELIVERED_RATIO = 0.02
CONVERGE_TIMEOUT_S = 180.0
TRAFFIC_GRACE_S = 30.0
REDELIVERY_TIMEOUT_S = 60.0
READER_START_S = 90.0
SOAK_FROM_S = 600.0


@dataclass(frozen=True)
class ChaosOptions:
    seed: int
    duration_s: float
    faults: tuple[str, ...]
    rate: float
    soak: bool = False
    logs_dir: Path | None = None

    @property
    def reports_memory(self) -> bool:
        return self.soak or self.duration_s >= SOAK_FROM_S


@dataclass
class _Run:
    options: ChaosOptions
    console: Console
    started: float = field(default_factory=time.monotonic)
    segments: list[Segment] = field(default_factory=list)
    rounds: list[RoundResult] = field(default_factory=list)

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def say(self, line: str) -> None:
        self.console.print(f"[{self.elapsed():7.1f} s] {line}", highlight=False, soft_wrap=True)


def run_chaos(options: ChaosOptions, console: Console) -> int:
    stack = DemoStack(console)
    run = _Run(options, console)
    report = ChaosReport(seed=options.seed, rounds=[])
    try:
        with sigterm_as_interrupt():
            rundir = stack.open()
            if options.logs_dir is not None:
                # Registered right after the run directory, so it runs once every process has
                # stopped and before the directory goes.
                stack.exit.callback(_copy_logs, rundir, options.logs_dir)
            report = asyncio.run(_chaos(run, stack))
    except (KeyboardInterrupt, asyncio.CancelledError):
        console.print("[yellow]interrupted[/yellow]")
        return ExitStatus.INTERRUPTED
    except DemoFailure as exc:
        # The rounds done so far are reported too: a soak that fails late still shows them.
        report = ChaosReport(seed=options.seed, rounds=run.rounds, failure=str(exc))
    except Exception as exc:
        console.print_exception(max_frames=8)
        failure = f"{type(exc).__name__}: {exc}"
        report = ChaosReport(seed=options.seed, rounds=run.rounds, failure=failure)
    finally:
        with signals_ignored(), step(console, "stopping everything the run started") as done:
            stack.close()
            done.result = f"{len(stack.stopped)} child processes, the broker and PostgreSQL"
    console.print(render_report(report), highlight=False, soft_wrap=True)
    return exit_status(report)


async def _chaos(run: _Run, stack: DemoStack) -> ChaosReport:
    console, options = stack.console, run.options
    postgres, broker, dsn = await asyncio.to_thread(start_services, stack)
    kafka = KafkaSettings().model_copy(update={"bootstrap_servers": broker.bootstrap_servers})
    with step(console, "creating the topics"):
        await ensure_project_topics(broker.bootstrap_servers, kafka)
    pipeline = Pipeline(stack, postgres, broker, dsn, kafka, f"pulse-chaos-{uuid.uuid4().hex[:6]}")
    await start_children(pipeline)
    observer = TopicObserver(
        broker.bootstrap_servers,
        kafka.changes_topic,
        kafka.rejected_topic,
        days_changelog(pipeline.app_id),
    )
    dashboard = DashboardState()
    stop = asyncio.Event()
    observer_ready, dashboard_ready = asyncio.Event(), asyncio.Event()
    readers = [
        asyncio.create_task(observer.follow(observer_ready, stop)),
        asyncio.create_task(
            follow(broker.bootstrap_servers, kafka, dashboard, stop, dashboard_ready, True)
        ),
    ]
    try:
        with step(console, "starting the readers of the topics"):
            await _ready(observer_ready, readers[0])
            await _ready(dashboard_ready, readers[1])
        rss_start = pipeline.memory() if options.reports_memory else None
        run.started = time.monotonic()
        faults = fault_sequence(options.seed, options.faults)
        while not run.rounds or run.elapsed() < options.duration_s:
            _check_readers(readers)
            await _round(run, next(faults), pipeline, observer, dashboard)
        rss_end = pipeline.memory() if options.reports_memory else None
        audit_ok, audit_lines = await _audit(pipeline, console)
    finally:
        stop.set()
        await asyncio.gather(*readers, return_exceptions=True)
    return ChaosReport(
        seed=options.seed,
        rounds=run.rounds,
        audit_ok=audit_ok,
        audit_lines=audit_lines,
        unplanned_exits=[
            f"{e.name} (status {e.status}); its last log line: {_last_line(e.log_tail)}"
            for e in pipeline.unplanned_exits
        ],
        rss_start=rss_start,
        rss_end=rss_end,
        notes=[f"process starts: {', '.join(f'{k} {v}' for k, v in pipeline.starts.items())}"],
    )


def _last_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[-1] if lines else "(empty log)"


async def _ready(ready: asyncio.Event, task: asyncio.Task[None]) -> None:
    waiter = asyncio.ensure_future(ready.wait())
    done, _ = await asyncio.wait(
        {waiter, task}, timeout=READER_START_S, return_when=asyncio.FIRST_COMPLETED
    )
    if waiter not in done:
        waiter.cancel()
        error = task.exception() if task.done() and not task.cancelled() else None
        raise DemoFailure(f"a topic reader did not start: {error!r}")


def _check_readers(readers: Sequence[asyncio.Task[None]]) -> None:
    for task in readers:
        if task.done():
            error = None if task.cancelled() else task.exception()
            raise DemoFailure(f"a topic reader stopped: {error!r}")


@dataclass
class _Traffic:
    child: Child
    summary_path: Path
    site_ids: list[str]

    async def stop(self) -> None:
        await asyncio.to_thread(self.child.stop)

    async def finish(self, within_s: float) -> float:
        """Waits for the generator to end (stopping it after ``within_s``); returns when."""
        deadline = time.monotonic() + within_s
        while self.child.running() and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        if self.child.running():
            await self.stop()
        return time.monotonic()

    def segment(self) -> Segment:
        try:
            summary = json.loads(self.summary_path.read_text())
        except (OSError, ValueError):
            return Segment(tuple(self.site_ids), None, None)
        return Segment(tuple(self.site_ids), int(summary["changes"]), int(summary["forged"]))


def _start_traffic(run: _Run, pipeline: Pipeline, number: int) -> _Traffic:
    seed = run.options.seed * 100_003 + number
    summary_path = pipeline.rundir / f"traffic-{number}.json"
    changes = max(SITES_PER_ROUND * 2, round(run.options.rate * SEGMENT_S))
    argv = python_module(
        "workers.traffic.process",
        "--sites", str(SITES_PER_ROUND),
        "--changes", str(changes),
        "--rate", str(run.options.rate),
        "--forged-ratio", str(FORGED_RATIO),
        "--seed", str(seed),
        "--summary", str(summary_path),
    )  # fmt: skip
    child = pipeline.stack.spawn(
        f"traffic-{number}", argv, child_environment({"DATABASE_URL": pipeline.dsn})
    )
    return _Traffic(child, summary_path, plan_site_ids(SITES_PER_ROUND, seed))


async def _round(
    run: _Run,
    fault: Fault,
    pipeline: Pipeline,
    observer: TopicObserver,
    dashboard: DashboardState,
) -> None:
    number = len(run.rounds) + 1
    before = total_tally(observer.tallies)
    traffic = _start_traffic(run, pipeline, number)
    observer.start_round(traffic.site_ids)
    began = time.monotonic()
    run.say(f"round {number}: traffic for {SEGMENT_S:.0f} s; {fault.label} at +{fault.at_s} s")
    while time.monotonic() - began < fault.at_s:
        supervise(pipeline, run.say)
        await asyncio.sleep(0.1)
    at_s = run.elapsed()
    detail = await inject(fault, pipeline, traffic.stop)
    healed = time.monotonic()
    run.say(f"{fault.label}: {detail}")
    traffic_end = await traffic.finish(SEGMENT_S + TRAFFIC_GRACE_S)
    segment = traffic.segment()
    run.segments.append(segment)
    if segment.written is None:
        run.say(f"round {number}: the generator left no summary:\n{traffic.child.log_tail()}")
    try:
        redelivered = await _redeliver(pipeline, observer, run.options.seed + number)
    except (KafkaError, TimeoutError) as exc:
        # Re-deliveries only add duplicates to the load; a broker still recovering from the
        # round's fault may refuse them, and the round goes on without.
        run.say(f"round {number}: publishing changes again failed: {exc!r}")
        redelivered = 0
    since = max(healed, traffic_end)
    run.say(
        f"round {number}: {segment.written} changes written ({segment.forged} forged), "
        f"{redelivered} published again; waiting for convergence"
    )
    convergence = await converge(
        pipeline, observer, dashboard, run.segments, since, CONVERGE_TIMEOUT_S, run.say
    )
    converged_s = convergence.seconds
    findings = await _findings(run, pipeline, convergence.observed, dashboard)
    counted = difference(total_tally(observer.tallies), before)
    run.rounds.append(RoundResult(fault.label, at_s, converged_s, counted, findings))
    state = "did not converge" if converged_s is None else f"converged in {converged_s:.1f} s"
    run.say(
        f"{fault.label}: {state}; consumed {counted.consumed}, admitted {counted.admitted}, "
        f"duplicates {counted.duplicates}, rejected {counted.rejected}; "
        f"lost {findings.lost}, double counted {findings.double_counted}"
    )


async def _findings(
    run: _Run, pipeline: Pipeline, observed: Observed, dashboard: DashboardState
) -> Findings:
    try:
        sql = await asyncio.to_thread(sql_kpis, pipeline.dsn)
    except psycopg.OperationalError as exc:
        return Findings(reasons=[f"PostgreSQL did not answer for the check: {exc}"])
    return run_findings(observed, run.segments, site_kpis(dashboard), sql)


async def _redeliver(pipeline: Pipeline, observer: TopicObserver, seed: int) -> int:
    """Publishes a seeded share of the round's changes seen so far again; returns how many."""
    async with asyncio.timeout(REDELIVERY_TIMEOUT_S):
        chosen = await publish_share(
            pipeline.broker.bootstrap_servers,
            pipeline.kafka.changes_topic,
            list(observer.round_changes),
            ratio=REDELIVERED_RATIO,
            seed=seed,
        )
    return len(chosen)


async def _audit(pipeline: Pipeline, console: Console) -> tuple[bool, list[str]]:
    """``pulse audit``'s comparison of every KPI, call and intent with SQL."""
    from workers.tools.audit import audit
    from workers.tools.reading import TopicReader

    with step(console, "auditing KPIs, calls and intents against SQL (pulse audit)") as done:
        with psycopg.connect(pipeline.dsn) as conn:
            sites = conn.execute("SELECT count(*) FROM sites").fetchone()
            assert pipeline.kafka.bootstrap_servers is not None
            async with TopicReader(
                pipeline.kafka.bootstrap_servers, pipeline.kafka.updates_topic
            ) as reader:
                result, invalid = await audit(conn, reader)
        outcome = audit_outcome(result, int(sites[0]) if sites else 0, invalid)
        done.result = outcome.line
    return outcome.ok, list(outcome.details) if not outcome.ok else []


def _copy_logs(rundir: Path, target: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    for log in rundir.glob("*.log"):
        shutil.copy2(log, target / log.name)
