"""``--bootstrap-servers`` and ``--database-url`` win over the environment while a command runs."""

from __future__ import annotations

import os

import pytest

from workers.cli.arguments import connection_environment
from workers.cli.main import build_parser, main
from workers.settings import DatabaseSettings, KafkaSettings


def test_the_options_win_over_the_variables_and_leave_them_as_they_were(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "from-environment:9092")
    monkeypatch.delenv("DATABASE_URL", raising=False)
    args = build_parser().parse_args(
        ["worker", "--bootstrap-servers", "given:9092", "--database-url", "postgresql://given/db"]
    )
    with connection_environment(args):
        assert KafkaSettings().bootstrap_servers == "given:9092"
        assert DatabaseSettings().database_url == "postgresql://given/db"
    assert os.environ["KAFKA_BOOTSTRAP_SERVERS"] == "from-environment:9092"
    assert "DATABASE_URL" not in os.environ


def test_without_the_options_the_variables_stand(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "from-environment:9092")
    monkeypatch.setenv("DATABASE_URL", "postgresql://from-environment/db")
    with connection_environment(build_parser().parse_args(["emulator"])):
        assert KafkaSettings().bootstrap_servers == "from-environment:9092"
        assert DatabaseSettings().database_url == "postgresql://from-environment/db"


def test_a_missing_server_names_its_option(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("KAFKA_BOOTSTRAP_SERVERS", raising=False)
    assert main(["audit", "--bootstrap-servers", "127.0.0.1:1"]) == 2
    assert "(or pass --database-url)" in capsys.readouterr().err
    assert main(["tail", "--site", "s"]) == 2
    assert "(or pass --bootstrap-servers)" in capsys.readouterr().err
