"""``pulse ingest-rate --rows N``: print the WAL ingest rate, Postgres commit to Kafka ack."""

from __future__ import annotations

import argparse
from typing import Any

from workers.bench.ingest_rate import measure_ingest_rate
from workers.cli.arguments import add_connection_arguments
from workers.cli.rate_command import run_rate_command


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "ingest-rate",
        help="measure the WAL ingest rate (changes/s, Postgres commit to Kafka ack)",
        description="Commit N rows and time the WAL ingest until Kafka acknowledged them all. "
        "Uses DATABASE_URL / KAFKA_BOOTSTRAP_SERVERS when set (a scratch database is created "
        "there), else throwaway services.",
    )
    parser.add_argument(
        "--rows",
        type=int,
        default=100_000,
        metavar="N",
        help="rows to commit (default: %(default)s)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    add_connection_arguments(parser, throwaway=True)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    return run_rate_command(args, "ingest_rate", "WAL ingest", measure_ingest_rate)
