"""Final per-site-per-day totals read from the worker's updates and the peer's records."""

from __future__ import annotations

from typing import Any

import orjson

from workers.bench.site_day_totals import differences, peer_totals, worker_totals


def kpi_updated(site: str, day: str, seq: int, sessions: int, events: int = 0) -> bytes:
    kpis = {
        "day": day,
        "sessions": sessions,
        "events": events,
        "calls": 0,
        "intents": 0,
        "conversions": 0,
    }
    return orjson.dumps({"type": "kpi_updated", "site_id": site, "seq": seq, "kpis": kpis})


def peer_record(site: str, days: dict[str, list[int]]) -> bytes:
    record: dict[str, Any] = {"site_id": site, "event_id": "e", "updates": [], "days": days}
    return orjson.dumps(record)


def test_the_worker_s_latest_kpi_updated_per_site_day_wins_by_seq() -> None:
    values = [
        kpi_updated("a", "2026-11-20", seq=7, sessions=3),
        kpi_updated("a", "2026-11-20", seq=5, sessions=2),  # read later, published earlier
        orjson.dumps({"type": "event_created", "site_id": "a", "seq": 9}),
        kpi_updated("a", "2026-11-21", seq=6, sessions=1, events=4),
        kpi_updated("b", "2026-11-20", seq=1, sessions=8),
    ]
    assert worker_totals(values) == {
        ("a", "2026-11-20"): (3, 0, 0, 0, 0),
        ("a", "2026-11-21"): (1, 4, 0, 0, 0),
        ("b", "2026-11-20"): (8, 0, 0, 0, 0),
    }


def test_the_peer_s_last_record_of_a_site_day_holds_its_totals() -> None:
    values = [
        peer_record("a", {"2026-11-20": [1, 0, 0, 0, 0]}),
        peer_record("a", {"2026-11-20": [2, 0, 0, 0, 0], "2026-11-21": [0, 0, 0, 1, 1]}),
        peer_record("b", {}),
        peer_record("a", {"2026-11-21": [0, 0, 0, 1, 0]}),
    ]
    assert peer_totals(values) == {
        ("a", "2026-11-20"): (2, 0, 0, 0, 0),
        ("a", "2026-11-21"): (0, 0, 0, 1, 0),
    }


def test_differences_name_each_site_day_and_treat_a_missing_one_as_zeros() -> None:
    worker = {("a", "d1"): (1, 2, 0, 0, 0), ("a", "d2"): (0, 0, 0, 0, 0), ("b", "d1"): (5,) * 5}
    peer = {
        ("a", "d1"): (1, 2, 0, 0, 0),
        ("b", "d1"): (5, 5, 5, 5, 4),
        ("c", "d1"): (0, 1, 0, 0, 0),
    }
    found = differences(worker, peer)
    assert found == [
        "b d1: worker sessions 5, events 5, calls 5, intents 5, conversions 5, "
        "peer sessions 5, events 5, calls 5, intents 5, conversions 4",
        "c d1: worker sessions 0, events 0, calls 0, intents 0, conversions 0, "
        "peer sessions 0, events 1, calls 0, intents 0, conversions 0",
    ]
    assert differences(worker, dict(worker)) == []
