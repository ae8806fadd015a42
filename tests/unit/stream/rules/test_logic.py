"""Unit tests of the stream's pure rules: versions, KPI cells, verification, dedup, mapping."""

from __future__ import annotations

from typing import Any

import pytest

from workers.stream.rules.dedup import admitted, encode_seen, expired_ids, newest_seen
from workers.stream.rules.kpis import (
    CONVERSIONS,
    EVENTS,
    INTENTS,
    TOP_EVENT_TIMES,
    BadTimestamp,
    DayAggregate,
    canonical,
    cell,
    contribution,
)
from workers.stream.rules.mapping import UNSEQUENCED, typed_updates
from workers.stream.rules.sequencing import SiteSequencer
from workers.stream.rules.verification import verdict
from workers.stream.rules.versions import NO_LSN, NO_ROW_ORDER, row_order, supersedes, version_of


def test_versions_order_by_commit_then_lsn() -> None:
    stored = [1000, 50, "aa"]
    assert supersedes(version_of(1001, None, "bb"), "wal_snapshot", stored)
    assert not supersedes(version_of(999, 99, "bb"), "wal", stored)
    assert supersedes(version_of(1000, 51, "bb"), "wal", stored)  # later in the same transaction
    assert not supersedes(version_of(1000, 49, "bb"), "wal", stored)  # earlier one replayed
    assert not supersedes(version_of(1000, 50, "aa"), "wal", stored)  # the same change again


def test_snapshot_reread_never_beats_the_wal_at_the_same_time() -> None:
    assert not supersedes(version_of(1000, None, "cc"), "wal_snapshot", [1000, 50, "aa"])
    assert supersedes(version_of(1000, 50, "aa"), "wal", [1000, NO_LSN, "cc"])


def test_live_realtime_ties_follow_arrival_but_catchup_does_not() -> None:
    stored = [1000, NO_LSN, "aa"]
    assert supersedes(version_of(1000, None, "bb"), "realtime", stored)
    assert not supersedes(version_of(1000, None, "bb"), "realtime_catchup", stored)
    assert not supersedes(version_of(1000, None, "aa"), "realtime", stored)


def test_row_versions_order_pushes_and_reads_whatever_their_time_and_source() -> None:
    sealed = [1000, NO_LSN, "aa", row_order("UPDATE", {"row_version": 8})]
    # A push of the intermediate state of the same transaction: same millisecond, older row.
    assert not supersedes(version_of(1000, None, "bb", 2 * 7), "realtime", sealed)
    # A push of an older state with a later commit time (its transaction started earlier).
    assert not supersedes(version_of(1003, None, "bb", 2 * 7), "realtime", sealed)
    # A catch-up read of a newer state, whose updated_at lies before the stored commit time.
    assert supersedes(version_of(998, None, "cc", 2 * 9), "realtime_catchup", sealed)
    # The same state again, from either source.
    assert not supersedes(version_of(1000, None, "dd", 2 * 8), "realtime", sealed)


def test_a_delete_ranks_right_after_the_state_it_removed() -> None:
    assert row_order("DELETE", {"id": "x", "row_version": 8}) == 17
    stored = [1000, NO_LSN, "aa", row_order("UPDATE", {"row_version": 8})]
    assert supersedes(version_of(900, None, "bb", 17), "realtime", stored)
    deleted = [1000, NO_LSN, "bb", 17]
    assert not supersedes(version_of(2000, None, "aa", 16), "realtime_catchup", deleted)
    assert supersedes(version_of(2000, None, "cc", 18), "realtime", deleted)  # inserted again


def test_wal_positions_decide_before_row_versions() -> None:
    # Two WAL changes keep the WAL's own order, exactly as before row versions existed.
    assert supersedes(version_of(1000, 51, "bb", 2), "wal", [1000, 50, "aa", 4])


def test_without_a_row_version_on_either_side_the_commit_time_rule_decides() -> None:
    # A stored version of the older three-field format, or a change of a table without the
    # column: the rule of commit time, WAL position and source.
    assert supersedes(version_of(1000, None, "bb", 16), "realtime", [1000, NO_LSN, "aa"])
    assert not supersedes(version_of(999, None, "bb", 16), "realtime", [1000, NO_LSN, "aa"])
    unversioned = version_of(1000, None, "bb")
    assert unversioned[3] == NO_ROW_ORDER
    assert not supersedes(unversioned, "realtime_catchup", [1000, NO_LSN, "aa", 16])


def test_a_row_version_must_be_a_non_negative_integer() -> None:
    assert row_order("INSERT", {"id": "x"}) == NO_ROW_ORDER
    assert row_order("UPDATE", {"row_version": None}) == NO_ROW_ORDER
    assert row_order("UPDATE", {"row_version": "12"}) == 24  # spelled as text by an older ingest
    for bad in ("12a", -1, True, 1.5):
        with pytest.raises(ValueError, match="row_version must be a non-negative integer"):
            row_order("UPDATE", {"row_version": bad})


def test_cells_come_from_the_utc_day_and_five_minute_bucket() -> None:
    assert cell("2026-11-23T13:07:59.000001Z", EVENTS) == ("2026-11-23", 13 * 12 + 1, EVENTS)
    assert canonical("2026-11-23 23:30:00+01:00") == "2026-11-23T22:30:00.000000Z"
    assert cell("2026-11-23T00:00:00.000000Z", EVENTS)[1] == 0
    assert cell("2026-11-23T23:59:59.999999Z", EVENTS)[1] == 287


def test_a_time_of_day_that_is_no_time_is_a_bad_timestamp() -> None:
    with pytest.raises(BadTimestamp):
        cell("2026-11-23Txx:07:59.000001Z", EVENTS)
    with pytest.raises(BadTimestamp):
        cell("2026-11-23T24:00:00.000000Z", EVENTS)


def test_a_sealed_intent_adds_a_conversion_on_its_sealed_day() -> None:
    row = {"created_at": "2026-11-22T23:59:00.000000Z", "sealed_at": "2026-11-23T00:01:00.000000Z"}
    cells = contribution("intents", row).cells
    assert ("2026-11-22", 287, INTENTS) in cells
    assert ("2026-11-23", 0, CONVERSIONS) in cells


def test_unverified_events_contribute_nothing() -> None:
    row = {"created_at": "2026-11-22T10:00:00.000000Z"}
    assert contribution("events", row, verified=False).cells == ()


def test_last_event_time_steps_back_when_the_newest_event_is_deleted() -> None:
    day = DayAggregate()
    for minute in range(10):
        day.add(0, EVENTS, 1)
        day.add_event_time(f"2026-11-23T10:{minute:02d}:00.000000Z")
    day.add(0, EVENTS, -1)
    day.remove_event_time("2026-11-23T10:09:00.000000Z")
    assert day.last_event_at == "2026-11-23T10:08:00.000000Z"
    for minute in range(100):
        day.add_event_time(f"2026-11-23T11:{minute % 60:02d}:{minute // 60:02d}.000000Z")
    assert len(day.event_times) == TOP_EVENT_TIMES


def test_snapshot_conversion_rate_and_json_round_trip() -> None:
    day = DayAggregate()
    day.add(3, INTENTS, 1)
    day.add(3, INTENTS, 1)
    day.add(3, INTENTS, 1)
    day.add(4, CONVERSIONS, 1)
    snapshot = DayAggregate.from_json(day.to_json()).snapshot("2026-11-23")
    assert snapshot["conversion_rate"] == 0.3333
    assert snapshot["intents"] == 3
    timeline = day.timeline("2026-11-23")
    assert [b["start"] for b in timeline] == ["2026-11-23T00:15:00Z", "2026-11-23T00:20:00Z"]


def test_verification_verdicts() -> None:
    assert verdict("a", "a", final=False) == "verified"
    assert verdict("a", "b", final=False) == "site_mismatch"
    assert verdict("a", None, final=False) == "pending"
    assert verdict("a", None, final=True) == "unknown_session"


def test_dedup_expiry_uses_event_time() -> None:
    entries = [(b"old", encode_seen(1_000)), (b"new", encode_seen(90_000)), (b"bad", b"x")]
    assert newest_seen(entries) == 90_000
    assert sorted(expired_ids(entries, watermark_ms=90_000, horizon_ms=60_000)) == [b"bad", b"old"]


def test_an_id_admits_each_wal_position_once_and_nothing_without_one() -> None:
    first = admitted(None, 1_000, 42)
    assert first == encode_seen(1_000, 42)
    assert admitted(first, 1_000, 42) is None  # a re-delivery
    second = admitted(first, 1_000, 57)  # A, B, A: the second A
    assert second is not None and newest_seen([(b"id", second)]) == 1_000
    assert admitted(second, 1_000, 42) is None and admitted(second, 1_000, 57) is None
    assert admitted(second, 1_000, None) is None  # no position (Realtime): a re-delivery
    assert admitted(encode_seen(1_000), 1_000, 43) is None  # seen without a position


def test_sequence_grows_even_when_the_clock_stalls_or_restarts() -> None:
    times = iter([100, 100, 50])
    sequencer = SiteSequencer(lambda: next(times))
    assert [sequencer.next("s"), sequencer.next("s"), sequencer.next("s")] == [100, 101, 102]
    assert SiteSequencer(lambda: 10**15).next("s") > 102  # a restarted worker starts past them


def test_a_block_of_sequence_numbers_continues_the_sites_sequence() -> None:
    times = iter([100, 100, 100, 100])
    sequencer = SiteSequencer(lambda: next(times))
    assert sequencer.take("s", 3) == 100  # 100, 101, 102
    assert sequencer.next("s") == 103
    assert sequencer.take("s", 0) == 104  # an empty block hands out nothing
    assert sequencer.next("s") == 104


def updates_of(
    table: str, op: str, row: dict[str, Any], *, was_sealed: bool = False, verified: bool = True
) -> list[dict[str, Any]]:
    return typed_updates(
        table,
        op,
        row,
        was_sealed=was_sealed,
        verified=verified,
        site_id="site",
        event_id="e1",
        commit_timestamp="2026-11-23T00:01:00.000000Z",
    )


def test_mapping_table() -> None:
    intent = {"id": "i1", "sealed_at": "2026-11-23T00:01:00.000000Z"}
    kinds = [u["type"] for u in updates_of("intents", "UPDATE", intent)]
    assert kinds == ["intent_updated", "conversion_sealed"]
    kinds = [u["type"] for u in updates_of("intents", "UPDATE", intent, was_sealed=True)]
    assert kinds == ["intent_updated"]
    assert updates_of("calls", "DELETE", {"id": "c"})[0]["deleted"]
    assert updates_of("events", "INSERT", {"id": "e"}, verified=False) == []
    assert updates_of("sessions", "DELETE", {"id": "s"}) == []
    (call,) = updates_of("calls", "INSERT", {"id": "c"})
    assert (call["site_id"], call["event_ids"], call["seq"]) == ("site", ["e1"], UNSEQUENCED)
