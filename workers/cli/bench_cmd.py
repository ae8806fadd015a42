"""``pulse bench``: passthrough, stream, ingest, end-to-end latency and memory, in one run; the
Quix Streams peer, the gateway's fan-out and the workers' recovery when asked for."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

from workers.bench.fanout import FanoutOptions, fanout_stage
from workers.bench.group import group_stage
from workers.bench.latency_stage import latency_stage
from workers.bench.memory_stage import memory_stage
from workers.bench.results import (
    RESULTS_FILE,
    BenchFigures,
    FanoutFigures,
    append_fanout,
    append_results,
    current_commit,
)
from workers.bench.run import ingest_stage, recovery_stage, stream_stage
from workers.cli.arguments import add_connection_arguments, positive
from workers.collector import quiet_collector
from workers.logs import configure_logging
from workers.services.embedded import Endpoints, embedded_services
from workers.settings import KafkaSettings, SettingError

# Every stage with a throughput, latency, memory or group target, so that a plain run checks them
# all (the peer is skipped, with a line saying so, without the optional Quix Streams extra).
# Stock Faust takes many times the worker's time and, on a loaded machine, longer than the wait
# for it; fan-out needs the machine to itself for minutes, and recovery kills workers and loads a
# million keys: each of those runs only when named.
DEFAULT_STAGES = ("stream", "peer", "ingest", "latency", "memory", "group")
STAGES = (
    "stream",
    "peer",
    "stock",
    "ingest",
    "latency",
    "memory",
    "group",
    "fanout",
    "recovery",
)
# Stages that run within the stream stage, on its input.
WITHIN_STREAM = ("peer", "stock")
FANOUT = FanoutOptions()


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "bench",
        help="measure throughput, latency and memory against the targets, in one run",
        description="Runs every stage on one broker and one Postgres (throwaway ones unless "
        "DATABASE_URL / KAFKA_BOOTSTRAP_SERVERS are set), prints a table (or --json) and "
        f"appends the figures to {RESULTS_FILE}. The peer and stock stages run within the "
        "stream stage, after the worker.",
    )
    parser.add_argument(
        "--changes",
        type=int,
        default=200_000,
        metavar="N",
        help="changes for the throughput stages (default: %(default)s)",
    )
    parser.add_argument(
        "--rate",
        type=float,
        default=1000.0,
        metavar="RATE",
        help="changes per second in the latency stage (default: %(default)g)",
    )
    parser.add_argument(
        "--high-rate",
        type=float,
        default=10_000.0,
        metavar="RATE",
        help="changes per second of the latency stage's second leg, 0 for none "
        "(default: %(default)g)",
    )
    parser.add_argument(
        "--latency-seconds",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="length of each leg of the latency stage (default: %(default)g)",
    )
    parser.add_argument(
        "--memory-ids",
        type=positive(int),
        default=1_000_000,
        metavar="N",
        help="distinct event IDs for the memory stage's first reading (default: %(default)s)",
    )
    parser.add_argument(
        "--memory-final-ids",
        type=positive(int),
        default=5_000_000,
        metavar="N",
        help="distinct event IDs the memory stage reads up to, in steps of --memory-ids, "
        "reading the RSS after each (default: %(default)s)",
    )
    parser.add_argument(
        "--recovery-keys",
        type=positive(int),
        default=1_000_000,
        metavar="N",
        help="distinct changes in the recovery stage's wiped worker's tables (default: %(default)s)",
    )
    parser.add_argument(
        "--partitions",
        type=positive(int),
        default=None,
        metavar="N",
        help="partitions of the bench's topics (default: PULSE_PARTITIONS or 8)",
    )
    parser.add_argument(
        "--fanout-clients",
        type=positive(int),
        default=FANOUT.clients,
        metavar="N",
        help="how many SSE connections the fanout stage opens (default: %(default)s)",
    )
    parser.add_argument(
        "--fanout-sites",
        type=positive(int),
        default=FANOUT.sites,
        metavar="N",
        help="sites the fanout stage's clients are spread over (default: %(default)s)",
    )
    parser.add_argument(
        "--fanout-rate",
        type=positive(float),
        default=FANOUT.rate,
        metavar="RATE",
        help="events per second written in the fanout stage (default: %(default)g)",
    )
    parser.add_argument(
        "--fanout-seconds",
        type=positive(float),
        default=FANOUT.seconds,
        metavar="SECONDS",
        help="measured length of the fanout stage (default: %(default)g)",
    )
    parser.add_argument(
        "--stages",
        default=",".join(DEFAULT_STAGES),
        metavar="STAGES",
        help=f"comma-separated, of {','.join(STAGES)} (default: all but "
        f"{','.join(stage for stage in STAGES if stage not in DEFAULT_STAGES)})",
    )
    parser.add_argument(
        "--json", action="store_true", help="print one JSON object instead of a table"
    )
    parser.add_argument("--no-record", action="store_true", help=f"do not append to {RESULTS_FILE}")
    add_connection_arguments(parser, throwaway=True)
    parser.set_defaults(handler=run)


async def _run(
    args: argparse.Namespace, services: Endpoints, stages: list[str], say: Any
) -> tuple[BenchFigures, FanoutFigures | None]:
    figures = BenchFigures(
        partitions=args.partitions or KafkaSettings().partitions, broker=services.broker
    )
    fanout = None
    if "stream" in stages:
        await stream_stage(
            services, args.changes, figures, say, peer="peer" in stages, stock="stock" in stages
        )
    if "ingest" in stages:
        await ingest_stage(services, args.changes, figures, say)
    if "latency" in stages:
        await latency_stage(services, args.rate, args.high_rate, args.latency_seconds, figures, say)
    if "memory" in stages:
        await memory_stage(services, args.memory_ids, args.memory_final_ids, figures, say)
    if "group" in stages:
        await group_stage(services, args.changes, figures, say)
    if "fanout" in stages:
        options = FanoutOptions(
            clients=args.fanout_clients,
            sites=args.fanout_sites,
            rate=args.fanout_rate,
            seconds=args.fanout_seconds,
        )
        fanout = FanoutFigures(broker=services.broker, clients=options.clients, sites=options.sites)
        await fanout_stage(services, options, figures.partitions, fanout, say)
    if "recovery" in stages:
        await recovery_stage(services, args.recovery_keys, figures, say)
    return figures, fanout


def has_pipeline_figures(stages: list[str]) -> bool:
    """Whether the run fills the pipeline's table (every stage but fanout, which has its own)."""
    return any(stage != "fanout" for stage in stages)


def _fanout_table(figures: FanoutFigures) -> str:
    rows = [
        ("clients", figures.connected, "connected", f"of {figures.clients:,}; >= 10,000"),
        ("delivered_rate", figures.delivered_rate, "messages/s", ">= 50,000"),
        ("fanout_p50_ms", figures.fanout_p50_ms, "ms", ""),
        ("fanout_p95_ms", figures.fanout_p95_ms, "ms", "<= 250"),
        ("fanout_p99_ms", figures.fanout_p99_ms, "ms", ""),
        ("gateway_rss_mb", figures.gateway_rss_mb, "MiB", "<= 1,024"),
        ("gateway_cpu_pct", figures.gateway_cpu_pct, "% core", ""),
    ]
    return _rows(rows, figures.notes)


def _table(figures: BenchFigures) -> str:
    rows = [
        ("passthrough_rate", figures.passthrough_rate, "changes/s", ""),
        ("stream_rate", figures.stream_rate, "changes/s", ""),
        ("stream_ratio", figures.stream_ratio, "", ">= 0.5"),
        ("ingest_rate", figures.ingest_rate, "changes/s", ">= 20,000"),
        ("e2e_p50_ms", figures.e2e_p50_ms, "ms", ""),
        ("e2e_p95_ms", figures.e2e_p95_ms, "ms", ""),
        ("e2e_p99_ms", figures.e2e_p99_ms, "ms", "<= 150"),
        ("high_rate_written", figures.high_rate_written, "changes/s", ""),
        ("e2e_p50_ms_high", figures.e2e_p50_ms_high, "ms", ""),
        ("e2e_p95_ms_high", figures.e2e_p95_ms_high, "ms", ""),
        ("e2e_p99_ms_high", figures.e2e_p99_ms_high, "ms", "<= 300 at 10,000/s"),
        ("worker_rss_mb", figures.worker_rss_mb, "MiB", "<= 300"),
        ("worker_rss_final_mb", figures.worker_rss_final_mb, "MiB", "flat"),
        ("group_one_rate", figures.group_one_rate, "changes/s", ""),
        ("group_rate", figures.group_rate, "changes/s", ""),
        ("group_ratio", figures.group_ratio, "", ""),
        ("group_pause_s", figures.group_pause_s, "s", "<= 5"),
        ("group_partition_pause_s", figures.group_partition_pause_s, "s", ""),
        ("restart_s", figures.restart_s, "s", "< 10"),
        ("takeover_s", figures.takeover_s, "s", "< 10"),
        ("wiped_s", figures.wiped_s, "s", "< 30"),
        ("peer_rate", figures.peer_rate, "changes/s", ""),
        ("peer_ratio", figures.peer_ratio, "", ">= 2.0"),
        ("peer_cpu_ratio", figures.peer_cpu_ratio, "", ">= 2.0"),
    ]
    return _rows(rows, figures.notes)


def _rows(rows: list[tuple[str, float | int | None, str, str]], notes: str) -> str:
    lines = [f"{'figure':<24}{'value':>14}  {'unit':<10}target"]
    for name, value, unit, target in rows:
        shown = "—" if value is None else (f"{value:,.2f}" if value < 10 else f"{value:,.0f}")
        lines.append(f"{name:<24}{shown:>14}  {unit:<10}{target}")
    if notes:
        lines.append(f"notes: {notes}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    stages = [stage.strip() for stage in args.stages.split(",") if stage.strip()]
    unknown = set(stages) - set(STAGES)
    if unknown:
        raise SettingError(
            f"unknown stage(s) {', '.join(sorted(unknown))}; choose from {', '.join(STAGES)}"
        )
    for within in WITHIN_STREAM:
        if within in stages and "stream" not in stages:
            raise SystemExit(
                f"error: the {within} stage runs on the stream stage's input: add stream"
            )
    configure_logging()
    # The code this run measures is what is checked out now; edits made while it runs are not.
    commit = current_commit()

    def say(text: str) -> None:
        print(text, file=sys.stderr if args.json else sys.stdout, flush=True)

    with embedded_services("bench", say=say) as services:
        # The ingest stages run in this process, so it runs as `pulse ingest` does.
        quiet_collector()
        figures, fanout = asyncio.run(_run(args, services, stages, say))
    pipeline = has_pipeline_figures(stages)
    if args.json:
        merged = figures.as_json() if pipeline else {"broker": figures.broker}
        print(json.dumps(merged | (fanout.as_json() if fanout else {})))
    else:
        print(
            "\n\n".join(
                ([_table(figures)] if pipeline else [])
                + ([_fanout_table(fanout)] if fanout else [])
            )
        )
    if not args.no_record:
        if pipeline:
            append_results(figures, commit)
        if fanout is not None:
            append_fanout(fanout, commit)
        say(f"figures appended to {RESULTS_FILE}")
    return 0
