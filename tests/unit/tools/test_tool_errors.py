"""The tools never crash: every error is one line on stderr and exit status 2."""

from __future__ import annotations

import argparse

import psycopg
import pytest
from aiokafka.errors import KafkaConnectionError
from pydantic import ValidationError

from workers.cli.exit_status import ExitStatus
from workers.cli.main import main
from workers.settings import KafkaSettings
from workers.tools.command import tool_command
from workers.tools.errors import describe

TOOLS = (
    ["audit"],
    ["tail", "--site", "s"],
    ["replay", "--topic", "supabase_changes", "--from", "beginning"],
    ["rebuild", "--app-id", "pulse-new"],
)


def one_error_line(err: str) -> str:
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ") and "Traceback" not in err
    return lines[0]


@pytest.mark.parametrize("command", TOOLS, ids=lambda c: c[0])
def test_a_missing_broker_address_is_one_line_and_status_2(
    command: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("KAFKA_BOOTSTRAP_SERVERS", raising=False)
    monkeypatch.setenv("DATABASE_URL", "postgresql://127.0.0.1:1/none")
    assert main(command) == ExitStatus.FAILED
    line = one_error_line(capsys.readouterr().err)
    assert "KAFKA_BOOTSTRAP_SERVERS is not set" in line


def test_the_audit_without_a_database_is_status_2_not_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:1")
    monkeypatch.delenv("DATABASE_URL", raising=False)
    assert main(["audit"]) == ExitStatus.FAILED
    assert "DATABASE_URL is not set" in one_error_line(capsys.readouterr().err)


def test_an_unreachable_database_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Port 1 on loopback refuses at once; psycopg's own message spans two lines.
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:1")
    monkeypatch.setenv("DATABASE_URL", "postgresql://postgres@127.0.0.1:1/none")
    assert main(["audit"]) == ExitStatus.FAILED
    assert "cannot connect to Postgres" in one_error_line(capsys.readouterr().err)


def raising(exc: BaseException) -> argparse.Namespace:
    return argparse.Namespace(exc=exc)


@tool_command
def failing_handler(args: argparse.Namespace) -> int:
    raise args.exc


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (psycopg.DataError("date too large"), "error: Postgres: date too large"),
        (
            KafkaConnectionError("Unable to bootstrap\n from [('127.0.0.1', 1)]"),
            "error: Kafka: KafkaConnectionError: Unable to bootstrap from",
        ),
        (RuntimeError("first\n\tsecond"), "error: RuntimeError: first second"),
        (ExceptionGroup("batch", [OSError("disk full")]), "error: OSError: disk full"),
        (KeyError("x"), "error: KeyError: 'x'"),
        (ValueError(), "error: ValueError"),
    ],
    ids=lambda value: type(value).__name__,
)
def test_any_error_of_a_tool_is_one_line_and_status_2(
    exc: BaseException, expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert failing_handler(raising(exc)) == ExitStatus.FAILED
    assert one_error_line(capsys.readouterr().err).startswith(expected)


def test_settings_errors_go_on_to_the_entry_point_which_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PULSE_PARTITIONS", "eight")
    with pytest.raises(ValidationError):
        KafkaSettings()
    assert main(["tail", "--site", "s", "--bootstrap-servers", "127.0.0.1:1"]) == ExitStatus.FAILED
    line = one_error_line(capsys.readouterr().err)
    assert "PULSE_PARTITIONS" in line and "'eight'" in line


def test_an_interrupt_is_not_an_error() -> None:
    with pytest.raises(KeyboardInterrupt):
        failing_handler(raising(KeyboardInterrupt()))


def test_describe_keeps_a_tool_errors_own_sentence() -> None:
    from workers.tools.errors import UnknownSite

    assert describe(UnknownSite("unknown site 'x'")) == "unknown site 'x'"
