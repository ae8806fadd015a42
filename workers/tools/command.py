"""What the tools' subcommands share: broker address, positions as arguments, error handling."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Coroutine
from typing import Any

from workers.settings import DatabaseSettings, KafkaSettings, require
from workers.tools.errors import ToolError
from workers.tools.offsets import Position, parse_position

EXIT_ERROR = 2


def position(text: str) -> Position:
    try:
        return parse_position(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_broker_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--bootstrap-servers",
        metavar="HOST:PORT",
        help="Kafka brokers (default: KAFKA_BOOTSTRAP_SERVERS)",
    )


def bootstrap(args: argparse.Namespace, settings: KafkaSettings) -> str:
    value: str | None = args.bootstrap_servers or settings.bootstrap_servers
    return require(value, "KAFKA_BOOTSTRAP_SERVERS", "to reach Kafka (or pass --bootstrap-servers)")


def database_url() -> str | None:
    return DatabaseSettings().database_url


def run_tool(work: Coroutine[Any, Any, int]) -> int:
    """Runs a tool; a ``ToolError`` becomes one line on stderr and exit status 2."""
    try:
        return asyncio.run(work)
    except ToolError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
