"""A library's identical lines within a window are shown once, then once per window with a
count of those dropped; lines that differ are all shown."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest
import structlog

from workers.logs import configure_logging
from workers.observability.repeated_lines import REMEMBERED, RepeatedLines
from workers.settings import LogSettings


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def record(message: str, *args: object, name: str = "aiokafka") -> logging.LogRecord:
    return logging.LogRecord(name, logging.ERROR, __file__, 1, message, args, None)


def test_a_repeated_line_is_shown_once_per_window_with_the_count_dropped() -> None:
    clock = Clock()
    lines = RepeatedLines(window_s=10.0, clock=clock)
    shown = []
    for step in range(25):
        clock.now = step * 1.0
        line = record("Unable connect to node with id %s: %s", 1, "refused")
        if lines.filter(line):
            shown.append((clock.now, getattr(line, "repeated", 0)))
    assert shown == [(0.0, 0), (10.0, 9), (20.0, 9)]


def test_lines_that_differ_in_arguments_logger_or_level_are_all_shown() -> None:
    lines = RepeatedLines(clock=Clock())
    assert lines.filter(record("Unable connect to node with id %s", 1))
    assert lines.filter(record("Unable connect to node with id %s", 2))
    assert lines.filter(record("Unable connect to node with id %s", 1, name="aiokafka.client"))
    warning = record("Unable connect to node with id %s", 1)
    warning.levelno = logging.WARNING
    assert lines.filter(warning)
    assert not lines.filter(record("Unable connect to node with id %s", 1))


def test_old_lines_are_forgotten_once_many_distinct_ones_were_seen() -> None:
    clock = Clock()
    lines = RepeatedLines(window_s=10.0, clock=clock)
    for number in range(REMEMBERED):
        assert lines.filter(record("line %s", number))
    clock.now = 20.0
    assert lines.filter(record("one more"))
    assert lines.remembered == 1
    # Forgotten lines are past their window: shown again either way.
    assert lines.filter(record("line %s", 0))


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """The configuration writes to the captured stderr, which ends with the test."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    structlog.reset_defaults()


@pytest.mark.usefixtures("restore_logging")
def test_a_burst_of_identical_library_lines_is_one_json_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging(LogSettings(PULSE_LOG_FORMAT="json", PULSE_LOG_LEVEL="info"))
    for _ in range(1000):
        logging.getLogger("aiokafka").error("Unable to update metadata from %s", [1])
    logging.getLogger("aiokafka").error("Unable connect to node with id %s", 1)
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert [line["event"] for line in lines] == [
        "Unable to update metadata from [1]",
        "Unable connect to node with id 1",
    ]


@pytest.mark.usefixtures("restore_logging")
def test_the_count_of_dropped_lines_is_a_field_of_the_json_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging(LogSettings(PULSE_LOG_FORMAT="json"))
    logging.getLogger("aiokafka").error("Unable to update metadata", extra={"repeated": 41})
    (line,) = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert line["repeated"] == 41
