"""Argument types and options shared by the ``pulse`` subcommands."""

from __future__ import annotations

import argparse
import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any


def positive(kind: type[int] | type[float]) -> Any:
    """An argparse ``type`` that reads ``kind`` and refuses zero and negative values."""

    def parse(text: str) -> int | float:
        value = kind(text)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be greater than 0, got {text}")
        return value

    return parse


@dataclass(frozen=True)
class Connection:
    """An option that names a server a command connects to, in place of its variable."""

    option: str
    variable: str
    metavar: str
    what: str

    @property
    def dest(self) -> str:
        return self.option.removeprefix("--").replace("-", "_")


KAFKA = Connection(
    "--bootstrap-servers",
    "KAFKA_BOOTSTRAP_SERVERS",
    "HOST:PORT",
    "the Kafka brokers, comma-separated",
)
POSTGRES = Connection("--database-url", "DATABASE_URL", "URL", "the Postgres database")
CONNECTIONS = (KAFKA, POSTGRES)


def add_connection_argument(
    parser: argparse.ArgumentParser, connection: Connection, otherwise: str | None = None
) -> None:
    """Add ``connection``'s option; ``otherwise`` says what the command does when it is unset."""
    default = connection.variable if otherwise is None else f"{connection.variable} or {otherwise}"
    parser.add_argument(
        connection.option,
        dest=connection.dest,
        metavar=connection.metavar,
        help=f"{connection.what} (default: {default})",
    )


def add_connection_arguments(parser: argparse.ArgumentParser, throwaway: bool = False) -> None:
    """Both servers' options; with ``throwaway`` the command starts what is not given."""
    add_connection_argument(parser, KAFKA, "a throwaway broker" if throwaway else None)
    add_connection_argument(parser, POSTGRES, "a throwaway PostgreSQL" if throwaway else None)


@contextlib.contextmanager
def connection_environment(args: argparse.Namespace) -> Iterator[None]:
    """Put the servers given as options into the environment while the command runs.

    Settings classes, the throwaway-service helpers and child processes (the rebuild's worker,
    the demo's ingest) all read the environment, so one place makes the options win everywhere.
    """
    given = {
        connection.variable: value
        for connection in CONNECTIONS
        if (value := getattr(args, connection.dest, None))
    }
    before = {variable: os.environ.get(variable) for variable in given}
    os.environ.update(given)
    try:
        yield
    finally:
        for variable, value in before.items():
            if value is None:
                os.environ.pop(variable, None)
            else:
                os.environ[variable] = value
