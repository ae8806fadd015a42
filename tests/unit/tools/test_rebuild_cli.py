"""``pulse rebuild`` refuses to rebuild into the live app id before touching anything."""

from __future__ import annotations

import pytest

from workers.cli.main import main


def test_rebuild_refuses_the_live_app_id(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:1")
    monkeypatch.setenv("PULSE_APP_ID", "pulse-live")
    assert main(["rebuild", "--app-id", "pulse-live"]) == 2
    assert "must differ from the live one ('pulse-live')" in capsys.readouterr().err
