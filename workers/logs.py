"""structlog set-up: JSON lines when not on a terminal, pretty output on one.

Records of the standard library's loggers (aiokafka, Faust, mode, psycopg) go through the same
renderer via structlog's ``ProcessorFormatter``, so with JSON output every line on stderr is JSON.
Their identical lines repeated within seconds are shown once (``repeated_lines``).
The stream worker hands ``stdlib_logging_config`` to Faust's worker, which replaces the root
logger's handlers with whatever configuration it is given.
"""

from __future__ import annotations

import logging
import logging.config
import sys
from typing import Any

import structlog

from workers.observability.redaction import redact_secrets
from workers.observability.repeated_lines import RepeatedLines
from workers.settings import LogSettings


def renders_json(settings: LogSettings) -> bool:
    return settings.log_format == "json" or (
        settings.log_format == "auto" and not sys.stderr.isatty()
    )


def _renderer(settings: LogSettings) -> structlog.types.Processor:
    if renders_json(settings):
        return structlog.processors.JSONRenderer()
    return structlog.dev.ConsoleRenderer()


def stdlib_logging_config(settings: LogSettings, level: int) -> dict[str, Any]:
    """A ``logging.config.dictConfig`` that renders the root logger's records like ours."""
    return {
        "version": 1,
        # Loggers created at import (aiokafka's, Faust's) must keep working.
        "disable_existing_loggers": False,
        "filters": {"repeated": {"()": RepeatedLines}},
        "formatters": {
            "pulse": {
                "()": structlog.stdlib.ProcessorFormatter,
                "foreign_pre_chain": [
                    structlog.stdlib.add_log_level,
                    structlog.stdlib.add_logger_name,
                    structlog.stdlib.ExtraAdder(allow=["repeated"]),
                    structlog.processors.TimeStamper(fmt="iso", utc=True),
                ],
                "processors": [
                    structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    structlog.processors.format_exc_info,
                    redact_secrets,
                    _renderer(settings),
                ],
            }
        },
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "pulse",
                "filters": ["repeated"],
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"level": level, "handlers": ["stderr"]},
    }


def configure_logging(settings: LogSettings | None = None) -> None:
    settings = settings or LogSettings()
    level = getattr(logging, settings.log_level.upper())
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            redact_secrets,
            _renderer(settings),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        # The stderr of now: Faust's worker later swaps sys.stderr for a proxy into logging.
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    # Other libraries' info lines (aiokafka's connection chatter) are noise below a warning.
    logging.config.dictConfig(stdlib_logging_config(settings, max(level, logging.WARNING)))
