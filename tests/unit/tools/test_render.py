"""How tail shows updates, and how replay flags values that are not the topic's model."""

from __future__ import annotations

from datetime import date

import orjson

from tests.unit.tools.updates import event_update, kpi_update
from workers.tools.reading import ReadRecord
from workers.tools.render import json_line, pretty_line, summary
from workers.tools.replay import inspect
from workers.tools.tail import SiteRecord, decode_site_record


def test_summary_gives_the_gist() -> None:
    kpis = kpi_update(
        "a", 1, date(2026, 11, 23), sessions=2, intents=4, conversions=1, conversion_rate=0.25
    )
    assert summary(kpis) == (
        "2026-11-23: sessions=2 events=0 calls=0 intents=4 conversions=1 rate=0.2500"
    )
    assert summary(event_update("a", 3)) == "event 'click-3' in session s1"


def test_json_line_carries_the_position_and_the_update() -> None:
    update = event_update("a", 3)
    line = orjson.loads(json_line(SiteRecord(2, 17, 1_795_000_000_000, update), update))
    assert (line["partition"], line["offset"]) == (2, 17)
    assert line["timestamp"].endswith("+00:00")
    assert line["update"]["seq"] == 3 and line["update"]["type"] == "event_created"


def test_pretty_line_shows_offset_seq_and_type() -> None:
    update = event_update("a", 3)
    text = pretty_line(SiteRecord(0, 17, 0, update), update).plain
    assert "@17" in text and "#3" in text and "event_created" in text


def record(value: bytes | None) -> ReadRecord:
    return ReadRecord("t", 0, 5, 0, b"a", value)


def test_undecodable_updates_say_why() -> None:
    decoded = decode_site_record(record(b'{"type": "kpi_updated", "site_id": "a"}'))
    assert decoded.update is None and decoded.error and "kpis" in decoded.error
    assert decode_site_record(record(None)).error == "empty value (tombstone)"


def test_replay_keeps_invalid_values_with_an_error() -> None:
    good = inspect("dashboard_updates", record(event_update("a", 1).model_dump_json().encode()))
    assert good.error is None and good.value["seq"] == 1
    wrong_model = inspect("supabase_changes", record(b'{"site_id": "a"}'))
    assert wrong_model.error is not None and wrong_model.value == {"site_id": "a"}
    not_json = inspect("supabase_changes_rejected", record(b"\xff oops"))
    assert not_json.error is not None and not_json.error.startswith("not JSON")
