"""With JSON logs, the lines of aiokafka, Faust and mode on stderr are JSON too."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest
from mode.utils.logging import setup_logging

from workers.logs import configure_logging, stdlib_logging_config
from workers.settings import LogSettings

JSON = LogSettings(PULSE_LOG_FORMAT="json", PULSE_LOG_LEVEL="info")


@pytest.fixture(autouse=True)
def restore_root_logger() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def json_lines(text: str) -> list[dict[str, object]]:
    lines = [line for line in text.splitlines() if line.strip()]
    assert lines, "nothing was logged"
    return [json.loads(line) for line in lines]


def test_library_records_are_json_lines_with_their_logger(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging(JSON)
    logging.getLogger("aiokafka").error('Unable connect to "%s": %s', "127.0.0.1:1", "refused")
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("faust.transport").exception("agent crashed")
    first, second = json_lines(capsys.readouterr().err)
    assert first["event"] == 'Unable connect to "127.0.0.1:1": refused'
    assert (first["level"], first["logger"]) == ("error", "aiokafka")
    assert "timestamp" in first
    assert second["logger"] == "faust.transport"
    assert "ValueError: boom" in str(second["exception"])


def test_secrets_in_library_records_are_masked(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(JSON)
    logging.getLogger("psycopg").warning("connecting to postgresql://pulse:hunter2@db/pulse")
    (line,) = json_lines(capsys.readouterr().err)
    assert "hunter2" not in json.dumps(line)


def test_the_configuration_faust_is_given_renders_json(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # faust.Worker hands logging_config to mode's setup_logging, which first drops every root
    # handler; this is the call the stream worker's logging goes through.
    setup_logging(loglevel="info", logging_config=stdlib_logging_config(JSON, logging.INFO))
    logging.getLogger("mode.worker").info("[^Worker]: Starting...")
    logging.getLogger("faust.tables").warning("Table recovery slow")
    lines = json_lines(capsys.readouterr().err)
    assert [line["logger"] for line in lines] == ["mode.worker", "faust.tables"]
    assert [line["level"] for line in lines] == ["info", "warning"]
