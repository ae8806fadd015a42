"""pgoutput decoding and transaction assembly, on hand-built protocol bytes."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.unit.ingest.wal import pgoutput_bytes as pg
from workers.changes.keying import KeyedChange, Rejection
from workers.changes.values import TYPE_NAMES_BY_OID, canonical_value
from workers.ingest.wal.pgoutput import (
    UNCHANGED,
    Begin,
    Commit,
    DecodeError,
    LogicalMessage,
    Relation,
    RowChange,
    commit_ms,
    decode,
)
from workers.ingest.wal.transactions import CommitMark, HeartbeatMark, TransactionAssembler

CALLS = [
    ("id", 2950, True),
    ("site_id", 2950, False),
    ("status", 25, False),
    ("updated_at", 1184, False),
]
SITE = "0c4e2a8e-3b9d-4b8f-9d7a-1f2e3d4c5b6a"
# 2025-11-03 09:32:55.123456 UTC in microseconds since 2000-01-01
COMMIT_US = 815_477_575_123_456


def test_decodes_every_message_kind() -> None:
    assert decode(pg.begin(10, COMMIT_US, 7)) == Begin(10, COMMIT_US, 7)
    assert decode(pg.commit(10, 20, COMMIT_US)) == Commit(10, 20, COMMIT_US)
    rel = decode(pg.relation(16384, "calls", CALLS))
    assert isinstance(rel, Relation) and rel.table == "calls" and rel.columns[0].is_key
    assert [c.type_oid for c in rel.columns] == [2950, 2950, 25, 1184]
    ins = decode(pg.insert(16384, ["a", SITE, None, "2025-01-01 00:00:00+00"]))
    assert ins == RowChange("INSERT", 16384, new=("a", SITE, None, "2025-01-01 00:00:00+00"))
    upd = decode(pg.update(16384, ["a", SITE, "x", "t"], ["a", SITE, UNCHANGED, "t"]))
    assert isinstance(upd, RowChange) and upd.old == ("a", SITE, "x", "t") and upd.new is not None
    assert upd.new[2] is UNCHANGED
    dele = decode(pg.delete(16384, ["a", SITE, "x", "t"]))
    assert isinstance(dele, RowChange) and dele.op == "DELETE" and dele.new is None
    msg = decode(pg.message(99, "realtime_pulse.heartbeat", b""))
    assert msg == LogicalMessage(False, 99, "realtime_pulse.heartbeat", b"")


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"Z",
        pg.insert(1, ["abc"])[:-2],
        b"I" + b"\x00\x00\x00\x01" + b"X",
        pg.begin(1, 2, 3)[:5],
    ],
)
def test_malformed_messages_raise_decode_error(raw: bytes) -> None:
    with pytest.raises(DecodeError):
        decode(raw)


def test_commit_time_is_utc_milliseconds_truncated() -> None:
    assert commit_ms(COMMIT_US) == 1_762_162_375_123


def assemble(*messages: bytes) -> list[object]:
    assembler = TransactionAssembler()
    out: list[object] = []
    for lsn, raw in enumerate(messages, start=100):
        out.extend(assembler.feed(decode(raw), lsn))
    return out


def test_a_transaction_becomes_keyed_changes_and_a_commit_mark() -> None:
    out = assemble(
        pg.relation(1, "calls", CALLS),
        pg.begin(500, COMMIT_US, 9),
        pg.insert(1, ["c1", SITE, "ringing", "2025-11-03 09:32:55.1+00"]),
        pg.update(
            1,
            ["c1", SITE, "ringing", "2025-11-03 09:32:55.1+00"],
            ["c1", SITE, "answered", "2025-11-03 09:32:55.1+00"],
        ),
        pg.commit(500, 600, COMMIT_US),
    )
    inserted, updated, mark = out
    assert isinstance(inserted, KeyedChange) and isinstance(updated, KeyedChange)
    assert inserted.site_id == SITE and inserted.body["op"] == "INSERT"
    assert inserted.body["record"]["updated_at"] == "2025-11-03T09:32:55.100000Z"
    assert inserted.body["commit_timestamp"] == "2025-11-03T09:32:55.123Z"
    assert inserted.body["lsn"] == 102
    assert updated.body["old_record"]["status"] == "ringing"
    assert inserted.body["event_id"] != updated.body["event_id"]
    assert mark == CommitMark(600)


def test_unchanged_toast_values_are_filled_from_the_old_row() -> None:
    out = assemble(
        pg.relation(1, "calls", CALLS),
        pg.begin(500, COMMIT_US, 9),
        pg.update(
            1,
            ["c1", SITE, "long text", "2025-11-03 09:32:55+00"],
            ["c1", SITE, UNCHANGED, "2025-11-03 09:32:56+00"],
        ),
    )
    (change,) = out
    assert isinstance(change, KeyedChange) and change.body["record"]["status"] == "long text"


def test_changes_for_undescribed_relations_are_rejected_not_dropped() -> None:
    out = assemble(pg.begin(500, COMMIT_US, 9), pg.insert(77, ["x"]))
    (rejected,) = out
    assert isinstance(rejected, Rejection) and rejected.reason == "undecodable"


def test_column_count_mismatch_is_rejected() -> None:
    out = assemble(
        pg.relation(1, "calls", CALLS), pg.begin(1, COMMIT_US, 1), pg.insert(1, ["only-one"])
    )
    (rejected,) = out
    assert isinstance(rejected, Rejection) and rejected.reason == "undecodable"


def test_heartbeat_messages_mark_a_confirmable_position() -> None:
    out = assemble(pg.message(4242, "realtime_pulse.heartbeat", b""), pg.message(1, "other", b"x"))
    assert out == [HeartbeatMark(4242)]


TYPED = [
    ("id", 2950, True),
    ("site_id", 2950, False),
    ("flag", 16, False),
    ("count", 20, False),
    ("ratio", 701, False),
    ("amount", 1700, False),
    ("day", 1082, False),
    ("at", 1184, False),
    ("meta", 3802, False),
    ("note", 25, False),
]
TEXTS = {
    "flag": st.sampled_from(["t", "f"]),
    "count": st.integers(-(2**63), 2**63 - 1).map(str),
    "ratio": st.floats(allow_nan=False, allow_infinity=False).map(repr),
    "amount": st.decimals(allow_nan=False, allow_infinity=False, places=3).map(str),
    "day": st.dates().map(lambda day: day.isoformat()),
    "at": st.datetimes().map(lambda moment: f"{moment.isoformat(sep=' ')}+00"),
    "meta": st.dictionaries(st.text(max_size=3), st.integers(-1000, 1000), max_size=2).map(
        lambda value: orjson.dumps(value).decode()
    ),
    "note": st.text(max_size=8),
}


@given(st.data())
def test_assembled_rows_hold_each_columns_canonical_value(data: st.DataObject) -> None:
    names = [name for name, _, _ in TYPED]
    types = {name: TYPE_NAMES_BY_OID[oid] for name, oid, _ in TYPED}
    old: list[str | object | None] = ["r1", SITE, *(data.draw(TEXTS[name]) for name in names[2:])]
    # each value of the new row is its own text, NULL or (an unchanged TOASTed value) UNCHANGED
    new: list[str | object | None] = ["r1", SITE] + [
        data.draw(st.sampled_from([None, UNCHANGED, data.draw(TEXTS[name])])) for name in names[2:]
    ]
    out = assemble(
        pg.relation(1, "calls", TYPED), pg.begin(1, COMMIT_US, 1), pg.update(1, old, new)
    )
    (change,) = out
    assert isinstance(change, KeyedChange)
    expected_old = {
        name: canonical_value(types[name], text) for name, text in zip(names, old, strict=True)
    }
    expected_new = {
        name: expected_old[name] if text is UNCHANGED else canonical_value(types[name], text)
        for name, text in zip(names, new, strict=True)
    }
    assert change.body["old_record"] == expected_old
    assert change.body["record"] == expected_new
