"""``pulse realtime-rate --rows N``: print the Realtime source's rate through the emulator."""

from __future__ import annotations

import argparse
from typing import Any

from workers.bench.realtime_rate import measure_realtime_rate
from workers.cli.arguments import add_connection_arguments
from workers.cli.rate_command import run_rate_command


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "realtime-rate",
        help="measure the Realtime source's rate (changes/s, commit to Kafka ack, via the emulator)",
        description="Serve the Supabase emulator on a scratch database, run the Realtime source, "
        "commit N rows and time until Kafka acknowledged them all. Uses DATABASE_URL / "
        "KAFKA_BOOTSTRAP_SERVERS when set, else throwaway services.",
    )
    parser.add_argument(
        "--rows",
        type=int,
        default=20_000,
        metavar="N",
        help="rows to commit (default: %(default)s)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    add_connection_arguments(parser, throwaway=True)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    return run_rate_command(args, "realtime_rate", "Realtime source", measure_realtime_rate)
