from __future__ import annotations

from tests.unit.gateway.updates import SITE, call, intent, kpi, raw
from workers.gateway.site_state import SiteState


def state(replay: int = 4, ledger: int = 3, floor: int | None = -1) -> SiteState:
    return SiteState(SITE, replay_size=replay, ledger_size=ledger, floor=floor)


def test_updates_not_above_the_last_seq_are_refused() -> None:
    site = state()
    assert site.apply(kpi(10), b"a")
    assert not site.apply(kpi(10), b"b")
    assert not site.apply(kpi(9), b"c")
    assert site.frames_after(0) == [b"a"]
    assert site.last_seq == 10


def test_replay_returns_frames_after_a_position_in_order() -> None:
    site = state()
    for seq in (1, 2, 3):
        site.apply(kpi(seq), raw(kpi(seq)))
    assert site.frames_after(1) == [raw(kpi(2)), raw(kpi(3))]
    assert site.frames_after(3) == []


def test_eviction_raises_the_floor_to_the_evicted_seq() -> None:
    site = state(replay=2)
    for seq in (5, 6, 7):
        site.apply(kpi(seq), b"x")
    assert site.floor == 5
    assert not site.covers(4)
    assert site.covers(5)


def test_a_truncated_history_is_covered_only_from_the_first_held_update() -> None:
    site = state(floor=None)
    assert not site.covers(0)
    site.apply(kpi(100), b"x")
    assert site.covers(99)
    assert not site.covers(98)


def test_the_kpi_card_is_the_newest_day() -> None:
    site = state()
    site.apply(kpi(1, day="2026-12-02", events=5), b"")
    site.apply(kpi(2, day="2026-12-01", events=9), b"")
    assert site.kpi is not None
    assert site.kpi["kpis"]["events"] == 5
    site.apply(kpi(3, day="2026-12-02", events=6), b"")
    assert site.kpi["kpis"]["events"] == 6


def test_the_ledger_keeps_the_newest_intents_with_their_calls() -> None:
    site = state(ledger=2)
    site.apply(intent(1, "i1"), b"")
    site.apply(intent(2, "i2", call_id="c2"), b"")
    site.apply(call(3, "c2", "answered"), b"")
    site.apply(intent(4, "i3"), b"")
    snapshot = site.snapshot()
    assert [i["id"] for i in snapshot["intents"]] == ["i3", "i2"]
    assert snapshot["intents"][1]["call_status"] == "answered"
    assert snapshot["seq"] == 4


def test_a_deleted_intent_leaves_the_ledger_and_sealing_is_recorded() -> None:
    site = state()
    site.apply(intent(1, "i1"), b"")
    site.apply(intent(2, "i2"), b"")
    site.apply(
        {
            "type": "conversion_sealed",
            "site_id": SITE,
            "seq": 3,
            "emitted_at": "2026-12-01T10:00:00Z",
            "intent_id": "i2",
            "sealed_at": "2026-12-01T10:01:00Z",
        },
        b"",
    )
    site.apply(intent(4, "i1", kind="intent_updated") | {"deleted": True}, b"")
    intents = site.snapshot()["intents"]
    assert [i["id"] for i in intents] == ["i2"]
    assert intents[0]["sealed_at"] == "2026-12-01T10:01:00Z"


def test_an_empty_site_snapshot_has_no_seq() -> None:
    assert state().snapshot()["seq"] is None
