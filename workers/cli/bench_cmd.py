"""``pulse bench``: passthrough, stream, ingest, end-to-end latency and memory, in one run."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

from workers.bench.results import RESULTS_FILE, BenchFigures, append_results, current_commit
from workers.bench.run import ingest_stage, latency_stage, memory_stage, stream_stage
from workers.cli.arguments import positive
from workers.collector import quiet_collector
from workers.logs import configure_logging
from workers.services.embedded import Endpoints, embedded_services
from workers.settings import KafkaSettings, SettingError

STAGES = ("stream", "ingest", "latency", "memory")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "bench",
        help="Measure throughput, latency and memory against the targets, in one run.",
        description="Runs every stage on one broker and one Postgres (throwaway ones unless "
        "DATABASE_URL / KAFKA_BOOTSTRAP_SERVERS are set), prints a table (or --json) and "
        f"appends the figures to {RESULTS_FILE}.",
    )
    parser.add_argument(
        "--changes",
        type=int,
        default=200_000,
        help="changes for the throughput stages (default 200000)",
    )
    parser.add_argument(
        "--rate", type=float, default=1000.0, help="changes/s for the latency stage (default 1000)"
    )
    parser.add_argument(
        "--latency-seconds",
        type=float,
        default=60.0,
        help="length of the latency stage (default 60)",
    )
    parser.add_argument(
        "--memory-ids",
        type=int,
        default=1_000_000,
        help="distinct event IDs for the memory stage (default 1000000)",
    )
    parser.add_argument(
        "--partitions",
        type=positive(int),
        default=None,
        help="partitions of the bench's topics (default: PULSE_PARTITIONS, 8)",
    )
    parser.add_argument(
        "--stages", default=",".join(STAGES), help=f"comma-separated subset of {','.join(STAGES)}"
    )
    parser.add_argument(
        "--json", action="store_true", help="print one JSON object instead of a table"
    )
    parser.add_argument("--no-record", action="store_true", help=f"do not append to {RESULTS_FILE}")
    parser.set_defaults(handler=run)


async def _run(
    args: argparse.Namespace, services: Endpoints, stages: list[str], say: Any
) -> BenchFigures:
    figures = BenchFigures(
        partitions=args.partitions or KafkaSettings().partitions, broker=services.broker
    )
    if "stream" in stages:
        await stream_stage(services, args.changes, figures, say)
    if "ingest" in stages:
        await ingest_stage(services, args.changes, figures, say)
    if "latency" in stages:
        await latency_stage(services, args.rate, args.latency_seconds, figures, say)
    if "memory" in stages:
        await memory_stage(services, args.memory_ids, figures, say)
    return figures


def _table(figures: BenchFigures) -> str:
    rows = [
        ("passthrough_rate", figures.passthrough_rate, "changes/s", ""),
        ("stream_rate", figures.stream_rate, "changes/s", ""),
        ("stream_ratio", figures.stream_ratio, "", ">= 0.5"),
        ("ingest_rate", figures.ingest_rate, "changes/s", ">= 20,000"),
        ("e2e_p50_ms", figures.e2e_p50_ms, "ms", ""),
        ("e2e_p95_ms", figures.e2e_p95_ms, "ms", ""),
        ("e2e_p99_ms", figures.e2e_p99_ms, "ms", "<= 150"),
        ("worker_rss_mb", figures.worker_rss_mb, "MiB", "<= 400"),
    ]
    lines = [f"{'figure':<18}{'value':>14}  {'unit':<10}target"]
    for name, value, unit, target in rows:
        shown = "—" if value is None else (f"{value:,.2f}" if value < 10 else f"{value:,.0f}")
        lines.append(f"{name:<18}{shown:>14}  {unit:<10}{target}")
    if figures.notes:
        lines.append(f"notes: {figures.notes}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    stages = [stage.strip() for stage in args.stages.split(",") if stage.strip()]
    unknown = set(stages) - set(STAGES)
    if unknown:
        raise SettingError(
            f"unknown stage(s) {', '.join(sorted(unknown))}; choose from {', '.join(STAGES)}"
        )
    configure_logging()
    # The code this run measures is what is checked out now; edits made while it runs are not.
    commit = current_commit()

    def say(text: str) -> None:
        print(text, file=sys.stderr if args.json else sys.stdout, flush=True)

    with embedded_services("bench", say=say) as services:
        # The ingest stages run in this process, so it runs as `pulse ingest` does.
        quiet_collector()
        figures = asyncio.run(_run(args, services, stages, say))
    if args.json:
        print(json.dumps(figures.as_json()))
    else:
        print(_table(figures))
    if not args.no_record:
        append_results(figures, commit)
        say(f"figures appended to {RESULTS_FILE}")
    return 0
