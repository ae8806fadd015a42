"""A wrong or missing setting stops a command at start with one line naming it, and status 2."""

from __future__ import annotations

import pytest

from workers.cli.main import main


def test_a_bad_value_is_named_and_exits_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://nowhere/db")
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:1")
    monkeypatch.setenv("PULSE_PARTITIONS", "eight")
    assert main(["ingest", "--source", "wal"]) == 2
    err = capsys.readouterr().err
    assert "PULSE_PARTITIONS" in err and "'eight'" in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("command", "variable"),
    [
        (["ingest", "--source", "wal"], "DATABASE_URL"),
        (["audit", "--bootstrap-servers", "127.0.0.1:1"], "DATABASE_URL"),
        (["tail", "--site", "s"], "KAFKA_BOOTSTRAP_SERVERS"),
    ],
)
def test_a_missing_setting_is_named_and_exits_2(
    command: list[str],
    variable: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("KAFKA_BOOTSTRAP_SERVERS", raising=False)
    monkeypatch.setenv("PULSE_LOG_FORMAT", "console")
    assert main(command) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and f"{variable} is not set" in lines[0]


def test_a_kafka_security_setting_that_cannot_work_exits_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.delenv("KAFKA_SASL_USERNAME", raising=False)
    assert main(["tail", "--site", "s", "--bootstrap-servers", "127.0.0.1:1"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1
    assert (
        "KAFKA_SASL_USERNAME is not set; it is needed with KAFKA_SECURITY_PROTOCOL=SASL_SSL"
        in lines[0]
    )
