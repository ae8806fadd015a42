"""``pulse demo``: the whole pipeline on throwaway services, with a live terminal dashboard."""

from __future__ import annotations

import argparse
import os
from typing import Any

from workers.cli.arguments import add_connection_arguments, positive
from workers.settings import SettingError

NON_TERMINAL_WIDTH = 120


def _ratio(text: str) -> float:
    value = float(text)
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 0 and below 1, got {text}")
    return value


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="run the whole pipeline on throwaway services with a live dashboard",
        description="Start a throwaway PostgreSQL and Apache Kafka (or use DATABASE_URL "
        "and KAFKA_BOOTSTRAP_SERVERS), the WAL ingest and one stream worker, write generated "
        "traffic for N sites and show the dashboard live. Ctrl-C once ends the traffic and "
        "finishes; twice quits at once. Everything started is stopped on exit.",
    )
    parser.add_argument(
        "--duration", type=positive(float), default=None, metavar="SECONDS",
        help="seconds of traffic (default: until Ctrl-C)",
    )  # fmt: skip
    parser.add_argument(
        "--sites",
        type=positive(int),
        default=5,
        metavar="N",
        help="sites to generate (default: %(default)s)",
    )
    parser.add_argument(
        "--rate", type=positive(float), default=200.0, metavar="RATE",
        help="row changes written per second (default: %(default)g)",
    )  # fmt: skip
    parser.add_argument(
        "--check", action="store_true",
        help="audit the dashboard's KPIs against SQL at the end; exit 1 if any differs",
    )  # fmt: skip
    parser.add_argument(
        "--duplicates", type=_ratio, default=0.05, metavar="RATIO",
        help="share of supabase_changes published again after the traffic (default: %(default)g)",
    )  # fmt: skip
    parser.add_argument(
        "--forged", type=_ratio, default=0.01, metavar="RATIO",
        help="share of rows that are events claiming the wrong site (default: %(default)g)",
    )  # fmt: skip
    parser.add_argument(
        "--seed", type=int, default=None, metavar="N", help="traffic seed (default: random)"
    )
    add_connection_arguments(parser, throwaway=True)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from workers.demo.runner import DemoOptions, run_demo
    from workers.logs import configure_logging

    if args.sites < 2 and args.forged > 0:
        raise SettingError("--forged needs at least two sites (use --forged 0 with one site)")
    configure_logging()
    options = DemoOptions(
        duration_s=args.duration,
        sites=args.sites,
        rate=args.rate,
        check=args.check,
        duplicates=args.duplicates,
        forged_ratio=args.forged,
        seed=args.seed,
    )
    console = Console()
    if not console.is_terminal and "COLUMNS" not in os.environ:
        # Off a terminal rich assumes 80 columns, which folds the summary's table; a log has room.
        console.width = NON_TERMINAL_WIDTH
    return run_demo(options, console)
