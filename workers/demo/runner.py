"""``pulse demo``: the whole pipeline on throwaway services, with traffic and a live dashboard.

Phases: start (Postgres, broker, topics, ingest, stream worker, gateway), traffic (the generator writes
rows at ``--rate`` for ``--duration``), duplicates (a share of ``supabase_changes`` is published
again), catching up (until the dashboard's KPIs equal SQL), audit (``--check``), stop.

Signals: while the traffic runs, the first Ctrl-C ends it early and lets the demo finish (catch
up, audit, summary); any other Ctrl-C, or SIGTERM, quits at once. Either way everything that was
started is stopped and the run directory removed, by ``DemoStack`` in ``run_demo``'s ``finally``.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import random
import signal
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import psycopg
from rich.console import Console

from schemas.updates import KpiSnapshot
from workers.cli.signals import signals_ignored, sigterm_as_interrupt
from workers.demo.catch_up import differing_site_days
from workers.demo.children import Child
from workers.demo.dashboard_state import DashboardState, site_kpis
from workers.demo.failures import DemoFailure
from workers.demo.feed import follow
from workers.demo.launch import python_module, require_running, start_ingest, start_worker
from workers.demo.observers import refresh_site_names, watch_metrics
from workers.demo.page import announce_page, start_gateway
from workers.demo.progress import step
from workers.demo.stack import DemoStack, child_environment, delete_run_topics
from workers.demo.summary import AuditOutcome, DemoOutcome, audit_outcome, render_summary
from workers.demo.view import Header, run_view
from workers.kafka.access import KafkaAccessError
from workers.kafka.topics import ensure_project_topics
from workers.kpis.sql import recompute_kpis
from workers.services.postgres import PostgresNotFound
from workers.settings import DatabaseSettings, KafkaSettings
from workers.traffic import redeliver
from workers.traffic.plan import plan_site_ids

# Without --duration the generator writes this long at most; the dashboard stays up until Ctrl-C.
OPEN_ENDED_TRAFFIC_S = 900.0
CATCH_UP_TIMEOUT_S = 90.0
TRAFFIC_GRACE_S = 5.0
CATCH_UP_QUIET_S = 20.0


@dataclass(frozen=True)
class DemoOptions:
    duration_s: float | None = None
    sites: int = 5
    rate: float = 200.0
    check: bool = False
    duplicates: float = 0.05
    forged_ratio: float = 0.01
    seed: int | None = None


@dataclass
class _Signals:
    finish: asyncio.Event = field(default_factory=asyncio.Event)


def run_demo(options: DemoOptions, console: Console) -> int:
    """Runs the demo; returns the exit status (0 ok, 1 audit differs, 2 failure, 130 interrupted)."""
    missing = missing_commands(options)
    if missing:
        console.print(
            "[red]pulse demo cannot run:[/red] this checkout lacks "
            + "; ".join(f"`pulse {name}` ({what})" for name, what in missing),
            highlight=False,
        )
        return 2
    stack = DemoStack(console)
    outcome = DemoOutcome(options_sites=options.sites, options_rate=options.rate)
    status = 2
    try:
        with sigterm_as_interrupt():
            stack.open()
            dsn = stack.database(DatabaseSettings().database_url)
            bootstrap = stack.broker(KafkaSettings().bootstrap_servers)
            status = asyncio.run(_pipeline(options, stack, dsn, bootstrap, outcome))
    except (KeyboardInterrupt, asyncio.CancelledError):
        console.print("[yellow]interrupted[/yellow]")
        outcome.interrupted = True
        status = 130
    except (DemoFailure, PostgresNotFound, KafkaAccessError) as exc:
        console.print(f"[red]demo failed:[/red] {exc}", highlight=False)
        outcome.failure = str(exc)
        status = 2
    except Exception as exc:
        console.print_exception(max_frames=8)
        outcome.failure = f"{type(exc).__name__}: {exc}"
        status = 2
    finally:
        with signals_ignored(), step(console, "stopping everything the demo started") as done:
            stack.close()
            done.result = (
                ", ".join(f"{item.what} (pid {item.pid})" for item in stack.stopped)
                or "nothing was running"
            )
        outcome.stopped = [(item.what, item.pid) for item in stack.stopped]
        outcome.removed = [str(path) for path in stack.removed]
    console.print(render_summary(outcome))
    return status


def missing_commands(options: DemoOptions) -> list[tuple[str, str]]:
    """The ``pulse`` subcommands the demo runs as child processes that are not installed."""
    needed = {
        "ingest": "the WAL ingest",
        "worker": "the stream worker",
        "gateway": "the dashboard page's gateway",
    }
    if options.check:
        needed["audit"] = "the KPI audit"
    return [
        (name, what)
        for name, what in needed.items()
        if importlib.util.find_spec(f"workers.cli.{name}_cmd") is None
    ]


def _kafka_settings(stack: DemoStack, bootstrap: str) -> KafkaSettings:
    base = KafkaSettings()
    if not stack.external_kafka:
        return base.model_copy(update={"bootstrap_servers": bootstrap})
    # On someone else's Kafka the demo keeps to topics of its own, and deletes them afterwards.
    suffix = f"_demo_{stack.run_id}"
    return base.model_copy(
        update={
            "bootstrap_servers": bootstrap,
            "changes_topic": base.changes_topic + suffix,
            "updates_topic": base.updates_topic + suffix,
            "rejected_topic": base.rejected_topic + suffix,
        }
    )


async def _pipeline(
    options: DemoOptions, stack: DemoStack, dsn: str, bootstrap: str, outcome: DemoOutcome
) -> int:
    console = stack.console
    loop = asyncio.get_running_loop()
    main_task = asyncio.current_task()
    assert main_task is not None
    signals = _Signals()

    def on_interrupt() -> None:
        if signals.finish.is_set() or not outcome.traffic_started:
            main_task.cancel()
            return
        signals.finish.set()
        console.print("[yellow]stopping the traffic; Ctrl-C again to quit at once[/yellow]")

    loop.add_signal_handler(signal.SIGINT, on_interrupt)
    loop.add_signal_handler(signal.SIGTERM, main_task.cancel)

    kafka = _kafka_settings(stack, bootstrap)
    seed = options.seed if options.seed is not None else random.randrange(2**31)
    with step(console, "creating the topics") as done:
        await ensure_project_topics(bootstrap, kafka)
        done.result = f"{kafka.changes_topic}, {kafka.updates_topic}, {kafka.rejected_topic}"
    if stack.external_kafka:
        stack.on_close("the demo's topics", lambda: delete_run_topics(bootstrap, stack.run_id))

    ingest = await start_ingest(stack, dsn, kafka)
    worker, metrics_url = await start_worker(stack, dsn, kafka)
    gateway = await start_gateway(stack, dsn, kafka)

    state = outcome.state = DashboardState()
    header = Header(duration_s=options.duration_s, sites=options.sites, rate=options.rate)
    stop_view = asyncio.Event()
    feed_ready = asyncio.Event()
    tasks = [
        asyncio.create_task(
            follow(bootstrap, kafka, state, stop_view, feed_ready, not stack.external_kafka)
        ),
        asyncio.create_task(refresh_site_names(dsn, state, stop_view)),
        asyncio.create_task(watch_metrics(metrics_url, header, stop_view)),
    ]
    try:
        await _wait_ready(feed_ready, tasks[0], "the dashboard's topic reader")
        header.phase = "traffic"
        tasks.append(asyncio.create_task(run_view(console, state, header, stop_view)))
        health = _Health(
            [ingest, worker, gateway.child],
            {"the dashboard's topic reader": tasks[0], "the live view": tasks[-1]},
        )
        outcome.traffic_started = True
        page = asyncio.create_task(
            announce_page(stack, gateway, dsn, plan_site_ids(options.sites, seed))
        )
        tasks.append(page)
        traffic = await _run_traffic(options, seed, stack, dsn, signals, health, header)
        await page
        traffic_end = header.traffic_ended_at = time.monotonic()
        # From here on there is no traffic left to end: the next Ctrl-C quits at once.
        signals.finish.set()
        outcome.traffic = traffic
        if options.duplicates > 0:
            header.phase = "injecting duplicates"
            duplicates = await redeliver(
                bootstrap, kafka.changes_topic, ratio=options.duplicates, seed=seed, quiet_s=1.0
            )
            header.duplicates["published again"] = len(duplicates)
            outcome.duplicates = len(duplicates)
        header.phase = "catching up"
        outcome.caught_up_s = await _catch_up(dsn, state, header, health, traffic_end)
        outcome.catch_up_ran = True
        header.phase = "caught up" if outcome.caught_up_s is not None else "did not catch up"
    finally:
        stop_view.set()
        await asyncio.gather(*tasks, return_exceptions=True)
    outcome.dedup_hits = header.duplicates.get("dropped by the worker")
    if options.check:
        outcome.audit = await _audit(dsn, bootstrap, kafka, console)
        return 0 if outcome.audit.ok else 1
    return 0


async def _wait_ready(ready: asyncio.Event, task: asyncio.Task[None], what: str) -> None:
    waiter = asyncio.ensure_future(ready.wait())
    done, _ = await asyncio.wait({waiter, task}, timeout=60, return_when=asyncio.FIRST_COMPLETED)
    if task in done:
        waiter.cancel()
        raise DemoFailure(f"{what} stopped: {task.exception()!r}")
    if waiter not in done:
        waiter.cancel()
        raise DemoFailure(f"{what} was not ready within 60 s")


@dataclass
class _Health:
    """What must stay up while the demo runs: the workers and the dashboard's topic reader."""

    children: list[Child]
    tasks: dict[str, asyncio.Task[None]]

    def check(self) -> None:
        require_running(*self.children)
        for what, task in self.tasks.items():
            if task.done():
                error = None if task.cancelled() else task.exception()
                raise DemoFailure(f"{what} stopped: {error!r}")


async def _run_traffic(
    options: DemoOptions,
    seed: int,
    stack: DemoStack,
    dsn: str,
    signals: _Signals,
    health: _Health,
    header: Header,
) -> dict[str, Any] | None:
    """Runs the generator until it is done, the duration is over or Ctrl-C; the summary of what
    it committed (a generator stopped early writes it too)."""
    assert stack.rundir is not None
    seconds = options.duration_s if options.duration_s is not None else OPEN_ENDED_TRAFFIC_S
    changes = max(options.sites * 2, round(options.rate * seconds))
    summary_path = stack.rundir / "traffic.json"
    argv = python_module(
        "workers.traffic.process",
        "--sites", str(options.sites),
        "--changes", str(changes),
        "--rate", str(options.rate),
        "--forged-ratio", str(options.forged_ratio),
        "--seed", str(seed),
        "--summary", str(summary_path),
    )  # fmt: skip
    traffic = stack.spawn("traffic", argv, child_environment({"DATABASE_URL": dsn}))
    header.started_at = time.monotonic()
    deadline = None if options.duration_s is None else header.started_at + options.duration_s
    while traffic.running() and not signals.finish.is_set():
        # The generator paces itself to end on time; the grace only cuts off a machine too slow
        # for the rate, which then loses the generator's own counts, not the pipeline's.
        if deadline is not None and time.monotonic() > deadline + TRAFFIC_GRACE_S:
            break
        health.check()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(signals.finish.wait(), 0.2)
    if traffic.running():
        traffic.stop()
    elif traffic.process.returncode != 0:
        raise DemoFailure(f"the traffic generator failed:\n{traffic.log_tail()}")
    if options.duration_s is None and not signals.finish.is_set():
        header.phase = "traffic done; Ctrl-C to finish"
        await signals.finish.wait()
    return _read_summary(summary_path)


def _read_summary(path: Path) -> dict[str, Any] | None:
    try:
        summary: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return summary


async def _catch_up(
    dsn: str, state: DashboardState, header: Header, health: _Health, traffic_end: float
) -> float | None:
    """Seconds from the end of the traffic until the dashboard equals SQL and the worker has
    dropped the injected duplicates; None when that did not happen in time.

    Duplicates change no KPI, so equal KPIs alone would end the wait before the worker met them;
    the worker's dedup counter (when its /metrics answered) tells when it did.
    """
    started = time.monotonic()
    last_progress, last_seen = started, (-1, -1)
    while time.monotonic() - started < CATCH_UP_TIMEOUT_S:
        health.check()
        sql = await asyncio.to_thread(_sql_kpis, dsn)
        dropped = header.duplicates.get("dropped by the worker")
        injected = header.duplicates.get("published again", 0)
        duplicates_met = dropped is None or dropped >= injected
        if duplicates_met and not differing_site_days(site_kpis(state), sql):
            return time.monotonic() - traffic_end
        seen = (state.updates_total, dropped or 0)
        if seen != last_seen:
            last_seen, last_progress = seen, time.monotonic()
        elif time.monotonic() - last_progress > CATCH_UP_QUIET_S:
            return None
        await asyncio.sleep(0.5)
    return None


def _sql_kpis(dsn: str) -> dict[tuple[str, date], KpiSnapshot]:
    with psycopg.connect(dsn) as conn:
        return recompute_kpis(conn)


def _count_sites(conn: psycopg.Connection[Any]) -> int:
    row = conn.execute("SELECT count(*) FROM sites").fetchone()
    return int(row[0]) if row else 0


async def _audit(dsn: str, bootstrap: str, kafka: KafkaSettings, console: Console) -> AuditOutcome:
    """``pulse audit``'s comparison: SQL against the latest ``kpi_updated`` of every site-day
    and the latest state of every call and intent."""
    from workers.tools.audit import audit
    from workers.tools.errors import ToolError
    from workers.tools.reading import TopicReader

    with step(console, "auditing KPIs, calls and intents against SQL (pulse audit)") as done:
        try:
            with psycopg.connect(dsn) as conn:
                sites = _count_sites(conn)
                async with TopicReader(bootstrap, kafka.updates_topic) as reader:
                    report, invalid = await audit(conn, reader)
        except ToolError as exc:
            raise DemoFailure(f"the audit could not run: {exc}") from exc
        done.result = f"{report.compared} site-days and {report.rows_compared} rows compared"
    return audit_outcome(report, sites, invalid)
