"""``pulse audit``: KPIs and the call and intent ledger from Postgres against what Kafka published."""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import date
from typing import Any

import orjson
from rich.console import Console
from rich.table import Table

from workers.cli.arguments import add_connection_arguments
from workers.cli.exit_status import ExitStatus
from workers.settings import KafkaSettings
from workers.tools.audit import AuditReport, audit, ledger_lines, quarantine_note, rows
from workers.tools.command import (
    bootstrap,
    required_database_url,
    tool_command,
)
from workers.tools.reading import TopicReader
from workers.tools.sites import connect


def day_argument(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a day as YYYY-MM-DD") from None


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "audit",
        help="compare KPIs and the call/intent ledger in Kafka with Postgres",
        description=(
            "Recomputes each site's KPIs per UTC day from Postgres (DATABASE_URL) and compares "
            "them with the latest kpi_updated of that site and day on dashboard_updates; compares "
            "each call's and intent's latest published state with its row. Prints the "
            "differences; exits 1 when any differs, 2 on an error."
        ),
    )
    parser.add_argument("--site", metavar="ID", help="only this site (default: every site)")
    parser.add_argument(
        "--day",
        type=day_argument,
        metavar="DAY",
        help="only this UTC day, YYYY-MM-DD: its KPIs, calls and intents (default: every day)",
    )
    parser.add_argument("--json", action="store_true", help="print the differences as JSON lines")
    add_connection_arguments(parser)
    parser.set_defaults(handler=handle)


@tool_command
def handle(args: argparse.Namespace) -> int:
    settings = KafkaSettings()
    servers = bootstrap(settings)
    dsn = required_database_url("to recompute the KPIs from Postgres")
    return asyncio.run(run(dsn, servers, settings.updates_topic, args.site, args.day, args.json))


async def run(
    dsn: str, servers: str, topic: str, site_id: str | None, day: date | None, as_json: bool
) -> int:
    with connect(dsn) as conn:
        async with TopicReader(servers, topic) as reader:
            report, invalid = await audit(conn, reader, site_id, day)
    if invalid:
        print(
            f"warning: {invalid} record(s) on {topic} are not valid updates "
            "(see pulse replay --topic dashboard_updates)",
            file=sys.stderr,
        )
    if as_json:
        # Lines on stdout are differences only; the note goes beside the warnings.
        note = quarantine_note(report)
        if note is not None:
            print(f"note: {note}", file=sys.stderr)
        print_json(report)
    else:
        print_table(report)
    return ExitStatus.OK if report.ok else ExitStatus.DIFFERENT


def print_json(report: AuditReport) -> None:
    for site_id, day, kpi, postgres, kafka in rows(report):
        line = {"site_id": site_id, "day": day, "kpi": kpi, "postgres": postgres, "kafka": kafka}
        sys.stdout.buffer.write(orjson.dumps(line) + b"\n")
    for site_id, table, row_id, column, postgres, kafka in ledger_lines(report):
        line = {
            "site_id": site_id,
            "table": table,
            "id": row_id,
            "field": column,
            "postgres": postgres,
            "kafka": kafka,
        }
        sys.stdout.buffer.write(orjson.dumps(line) + b"\n")
    sys.stdout.buffer.flush()


def print_table(report: AuditReport) -> None:
    # Off a terminal, a wide console keeps site ids and timestamps on one line for grep.
    console = Console(highlight=False, width=None if sys.stdout.isatty() else 200)
    note = quarantine_note(report)
    if note is not None:
        console.print(note, style="yellow")
    if report.ok:
        console.print(
            f"audit passed: {report.compared} site-day(s) and {report.rows_compared} "
            "call/intent row(s) agree",
            style="green",
        )
        return
    if report.differences:
        table = Table(title="KPIs that differ")
        for column in ("site", "day", "kpi", "postgres", "kafka"):
            table.add_column(column)
        for row in rows(report):
            table.add_row(*row)
        console.print(table)
    if report.row_differences:
        table = Table(title="Calls and intents whose last published state differs")
        for column in ("site", "table", "id", "field", "postgres", "kafka"):
            table.add_column(column)
        for line in ledger_lines(report):
            table.add_row(*line)
        console.print(table)
    console.print(
        f"audit failed: {len(report.differences)} KPI difference(s) and "
        f"{len(report.row_differences)} row difference(s) in {len(report.sites_differing)} "
        f"site(s); {report.compared} site-day(s) and {report.rows_compared} row(s) compared",
        style="bold red",
    )
