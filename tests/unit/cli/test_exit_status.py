"""Exit status 1 means "KPIs differ" only; every other failure of a command is 2."""

from __future__ import annotations

import argparse

import pytest

from workers.cli import tail_cmd
from workers.cli.exit_status import ExitStatus
from workers.cli.main import main


@pytest.mark.parametrize(
    ("command", "message"),
    [
        (["demo", "--sites", "1", "--forged", "0.1"], "--forged needs at least two sites"),
        (["bench", "--stages", "nonsense"], "unknown stage(s) nonsense"),
        (["ingest-rate", "--rows", "0"], "--rows must be at least 1"),
    ],
)
def test_an_option_that_cannot_work_exits_2_with_one_line(
    command: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(command) == ExitStatus.FAILED
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0]


def test_an_unexpected_error_keeps_its_traceback_but_never_exits_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken(_args: argparse.Namespace) -> int:
        raise RuntimeError("a bug")

    monkeypatch.setattr(tail_cmd, "handle", broken)
    assert main(["tail", "--site", "s"]) == ExitStatus.FAILED
    err = capsys.readouterr().err
    assert "Traceback" in err and "RuntimeError: a bug" in err
