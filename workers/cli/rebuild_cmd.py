"""``pulse rebuild``: replay supabase_changes into fresh state under a new app id, compare KPIs."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from workers.cli.arguments import add_connection_arguments
from workers.cli.exit_status import ExitStatus
from workers.settings import KafkaSettings
from workers.stream.settings import StreamSettings
from workers.tools.audit import show
from workers.tools.command import bootstrap, tool_command
from workers.tools.rebuild import RebuildReport, rebuild


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "rebuild",
        help="reprocess supabase_changes from offset 0 under a new app id; compare KPIs",
        description=(
            "Runs the stream worker (pulse worker) under the new app id, from offset 0, into a "
            "fresh data directory and fresh changelog topics, publishing to "
            "<updates topic>.rebuild.<app id> instead of the live topic. Once it and the live "
            "workers have consumed every change, compares the latest kpi_updated of every "
            "site-day on both topics. Exits 0 when they are equal, 1 when any differ, 2 on an "
            "error. DATABASE_URL is passed to the worker for its session lookups."
        ),
    )
    parser.add_argument("--app-id", required=True, metavar="ID", help="the new, unused app id")
    parser.add_argument(
        "--live-app-id",
        metavar="ID",
        help="the live workers' app id (default: PULSE_APP_ID or realtime-pulse)",
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        metavar="DIR",
        help="keep the rebuilt RocksDB state here (default: a temporary directory, removed)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=900.0,
        metavar="SECONDS",
        help="give up after this long (default: %(default)g)",
    )
    add_connection_arguments(parser)
    parser.set_defaults(handler=handle)


@tool_command
def handle(args: argparse.Namespace) -> int:
    settings = KafkaSettings()
    servers = bootstrap(settings)
    live = args.live_app_id or StreamSettings().app_id
    return asyncio.run(run(settings, servers, args.app_id, live, args.data_dir, args.timeout))


async def run(
    settings: KafkaSettings,
    servers: str,
    app_id: str,
    live: str,
    data_dir: Path | None,
    timeout_s: float,
) -> int:
    report = await rebuild(
        settings,
        servers,
        app_id,
        live,
        data_dir=data_dir,
        timeout_s=timeout_s,
        progress=lambda message: print(message, file=sys.stderr, flush=True),
    )
    print_report(report, live)
    return ExitStatus.DIFFERENT if report.differences else ExitStatus.OK


def print_report(report: RebuildReport, live: str) -> None:
    console = Console(highlight=False, width=None if sys.stdout.isatty() else 200)
    consumed = sum(report.ends.values())
    console.print(
        f"rebuilt {report.compared} site-day(s) under app id {report.app_id!r} from {consumed} "
        f"change message(s) in {report.seconds:.1f} s; output on {report.updates_topic}; "
        f"worker log: {report.worker_log}"
    )
    if not report.differences:
        console.print(f"rebuild equals the live KPIs of {live!r}", style="green")
        return
    table = Table(title="KPIs that differ")
    for column in ("site", "day", "kpi", "live", "rebuilt"):
        table.add_column(column)
    for d in report.differences:
        table.add_row(d.site_id, d.day.isoformat(), d.kpi, show(d.expected), show(d.actual))
    console.print(table)
    console.print(
        f"rebuild differs from the live KPIs: {len(report.differences)} difference(s)",
        style="bold red",
    )
