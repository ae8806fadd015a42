"""structlog set-up: JSON lines when not on a terminal, pretty output on one."""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog

from workers.observability.redaction import redact_secrets
from workers.settings import LogSettings


def stderr_logger(*_args: Any) -> structlog.PrintLogger:
    # sys.stderr is looked up for each new logger, not once at configuration, so a stream
    # replaced later (pytest's capture) is written to rather than a closed one.
    return structlog.PrintLogger(file=sys.stderr)


def configure_logging(settings: LogSettings | None = None) -> None:
    settings = settings or LogSettings()
    level = getattr(logging, settings.log_level.upper())
    as_json = settings.log_format == "json" or (
        settings.log_format == "auto" and not sys.stderr.isatty()
    )
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer() if as_json else structlog.dev.ConsoleRenderer()
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            redact_secrets,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=stderr_logger,
        cache_logger_on_first_use=True,
    )
    logging.basicConfig(level=max(level, logging.WARNING), stream=sys.stderr)
