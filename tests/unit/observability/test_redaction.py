"""No credentials in log lines: the JSON output of the project's logging configuration."""

from __future__ import annotations

import json

import pytest
import structlog

from workers.logs import configure_logging
from workers.observability.redaction import redact_text
from workers.settings import LogSettings

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJyb2xlIjoic2VydmljZV9yb2xlIn0.c2lnbmF0dXJlLWJ5dGVz"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("postgresql://pulse:s3cr3t@db:5432/pulse", "postgresql://pulse:***@db:5432/pulse"),
        ("postgres://:p%40ss@db/x?sslmode=require", "postgres://:***@db/x?sslmode=require"),
        ("host=db user=u password=s3cr3t dbname=x", "host=db user=u password=*** dbname=x"),
        ("host=db password='two words' dbname=x", "host=db password=*** dbname=x"),
        (f"Bearer {JWT}", "Bearer ***"),
        ("kafka://broker-1:9092,broker-2:9092", "kafka://broker-1:9092,broker-2:9092"),
        ("postgresql://pulse@db/pulse", "postgresql://pulse@db/pulse"),
    ],
)
def test_redact_text(raw: str, expected: str) -> None:
    assert redact_text(raw) == expected


def test_json_log_lines_carry_context_but_no_secrets(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(LogSettings(PULSE_LOG_FORMAT="json", PULSE_LOG_LEVEL="info"))
    try:
        log = structlog.get_logger("test.redaction")
        with structlog.contextvars.bound_contextvars(site_id="site-1", event_id="ev-1"):
            log.info(
                "connecting to postgresql://pulse:s3cr3t@db/pulse",
                dsn="postgresql://pulse:s3cr3t@db/pulse",
                supabase_key=JWT,
                headers={"Authorization": f"Bearer {JWT}", "apikey": JWT},
                attempts=[f"token {JWT}"],
                token_count=3,
            )
        (line,) = capsys.readouterr().err.strip().splitlines()
    finally:
        structlog.reset_defaults()
    record = json.loads(line)
    assert "s3cr3t" not in line and JWT not in line
    assert record["site_id"] == "site-1" and record["event_id"] == "ev-1"
    assert record["dsn"] == "postgresql://pulse:***@db/pulse"
    assert record["supabase_key"] == "***"
    assert record["headers"] == {"Authorization": "***", "apikey": "***"}
    assert record["attempts"] == ["token ***"]
    assert record["token_count"] == 3
