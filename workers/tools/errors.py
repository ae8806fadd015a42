"""Errors the tools report to the user as one clear sentence (exit status 2), never a traceback."""

from __future__ import annotations

import psycopg
from aiokafka.errors import KafkaError


class ToolError(Exception):
    """A problem with the user's input or environment; ``str()`` is the message to print."""


class MissingSetting(ToolError):
    pass


class BrokerUnreachable(ToolError):
    pass


class TopicMissing(ToolError):
    pass


class UnknownSite(ToolError):
    pass


class OffsetOutOfRange(ToolError):
    pass


class ReadStalled(ToolError):
    pass


def one_line(text: str) -> str:
    return " ".join(text.split())


def describe(exc: BaseException) -> str:
    """Any error as one line for stderr: what failed, where (Postgres, Kafka), and why."""
    if isinstance(exc, BaseExceptionGroup):
        return describe(exc.exceptions[0])
    if isinstance(exc, ToolError):
        return one_line(str(exc))
    if isinstance(exc, psycopg.Error):
        # The primary message alone: the rest repeats the query with a caret under it.
        primary = exc.diag.message_primary if exc.diag is not None else None
        return f"Postgres: {one_line(primary or str(exc)) or type(exc).__name__}"
    detail = one_line(str(exc))
    if isinstance(exc, KafkaError):
        # aiokafka's own text starts with the class name.
        return f"Kafka: {detail}"
    name = type(exc).__name__
    return f"{name}: {detail}" if detail else name
