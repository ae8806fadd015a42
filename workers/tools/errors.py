"""Errors the tools report to the user as one clear sentence (exit status 2), never a traceback."""

from __future__ import annotations


class ToolError(Exception):
    """A problem with the user's input or environment; ``str()`` is the message to print."""


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
