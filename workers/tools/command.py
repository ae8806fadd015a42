"""What the tools' subcommands share: broker address, positions as arguments, error handling."""

from __future__ import annotations

import argparse
import functools
import sys
from collections.abc import Callable

from pydantic import ValidationError

from workers.cli.exit_status import ExitStatus
from workers.settings import DatabaseSettings, KafkaSettings
from workers.tools.errors import MissingSetting, describe
from workers.tools.offsets import Position, parse_position

Handler = Callable[[argparse.Namespace], int]


def position(text: str) -> Position:
    try:
        return parse_position(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def bootstrap(settings: KafkaSettings) -> str:
    value = settings.bootstrap_servers
    if not value:
        raise MissingSetting(
            "KAFKA_BOOTSTRAP_SERVERS is not set; it is needed to reach Kafka "
            "(or pass --bootstrap-servers)"
        )
    return value


def database_url() -> str | None:
    return DatabaseSettings().database_url


def required_database_url(purpose: str) -> str:
    value = database_url()
    if not value:
        raise MissingSetting(
            f"DATABASE_URL is not set; it is needed {purpose} (or pass --database-url)"
        )
    return value


def tool_command(handle: Handler) -> Handler:
    """A tool's handler that never crashes: any error is one line on stderr and exit status 2.

    Status 1 keeps its own meaning (the audit's and the rebuild's "KPIs differ"), so an error
    must never fall through to the interpreter's default of 1. Settings errors go on to the
    entry point, which names the variable.
    """

    @functools.wraps(handle)
    def guarded(args: argparse.Namespace) -> int:
        try:
            return handle(args)
        except ValidationError:
            raise
        except Exception as exc:
            print(f"error: {describe(exc)}", file=sys.stderr)
            return ExitStatus.FAILED

    return guarded
