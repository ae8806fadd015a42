"""A wrong setting stops a command at start with one line naming the variable."""

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


def test_a_missing_setting_is_named(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    with pytest.raises(SystemExit) as stopped:
        main(["ingest", "--source", "wal"])
    assert "DATABASE_URL is not set" in str(stopped.value)
