"""Event IDs: (a) equal for every re-delivery of one change, (b) distinct for distinct changes."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from workers.changes.event_id import event_id
from workers.changes.keying import KeyedChange, key_change
from workers.changes.values import canonical_row, timestamp_ms

TYPES = {
    "id": "uuid",
    "site_id": "uuid",
    "status": "text",
    "n": "int4",
    "updated_at": "timestamptz",
}

uuids = st.uuids().map(str)
rows = st.fixed_dictionaries(
    {
        "id": uuids,
        "site_id": uuids,
        "status": st.sampled_from(["ringing", "answered", "ended", ""]),
        "n": st.integers(-(2**31), 2**31 - 1),
        "updated_at": st.datetimes().map(lambda d: d.isoformat() + "+00:00"),
    }
)
ops = st.sampled_from(["INSERT", "UPDATE", "DELETE"])
tables = st.sampled_from(["sessions", "events", "calls", "intents"])
commit_ms = st.integers(0, 2**42)


@st.composite
def changes(draw: st.DrawFn) -> tuple[str, str, dict[str, Any] | None, dict[str, Any] | None, int]:
    op = draw(ops)
    new = canonical_row(draw(rows), TYPES)
    old = canonical_row({**draw(rows), "id": new["id"]}, TYPES)
    return (
        draw(tables),
        op,
        None if op == "DELETE" else new,
        None if op == "INSERT" else old,
        draw(commit_ms),
    )


def identity(
    change: tuple[str, str, dict[str, Any] | None, dict[str, Any] | None, int],
) -> tuple[Any, ...]:
    """What makes two changes distinct: table, op, new row, old row's key, commit time."""
    table, op, new, old, ms = change
    return (table, op, repr(sorted(new.items())) if new else None, old["id"] if old else None, ms)


@given(changes())
def test_the_same_change_redelivered_gets_the_same_id(change: Any) -> None:
    table, op, new, old, ms = change
    again = (table, op, copy.deepcopy(new), copy.deepcopy(old), ms)
    assert event_id(*change[:2], change[2], change[3], change[4]) == event_id(*again)


@given(changes(), changes())
def test_distinct_changes_get_distinct_ids(first: Any, second: Any) -> None:
    if identity(first) != identity(second):
        assert event_id(*first) != event_id(*second)


@given(changes(), st.integers(0, 999))
def test_ids_keep_the_readable_table_key_and_millisecond_prefix(change: Any, extra_us: int) -> None:
    table, op, new, old, ms = change
    prefix = event_id(table, op, new, old, ms).rsplit(":", 1)[0]
    row = new if op != "DELETE" else old
    assert row is not None
    assert prefix == f"{table}:{row['id']}:{ms}"


def test_two_updates_of_one_row_in_one_transaction_differ() -> None:
    row = {"id": "r1", "site_id": "s1", "status": "answered"}
    first = event_id("calls", "UPDATE", row, {"id": "r1"}, 1_700_000_000_000)
    second = event_id(
        "calls", "UPDATE", {**row, "status": "ended"}, {"id": "r1"}, 1_700_000_000_000
    )
    assert first != second


def test_wal_text_and_realtime_json_give_the_same_id() -> None:
    """The same change as pgoutput spells it and as Realtime spells it."""
    types = {
        "id": "uuid",
        "site_id": "uuid",
        "n": "int4",
        "ok": "bool",
        "created_at": "timestamptz",
    }
    wal = canonical_row(
        {
            "id": "6F9619FF-8B86-D011-B42D-00C04FC964FF",
            "site_id": "0c4e2a8e-3b9d-4b8f-9d7a-1f2e3d4c5b6a",
            "n": "42",
            "ok": "t",
            "created_at": "2025-11-03 09:32:55.1234+00",
        },
        types,
    )
    realtime = canonical_row(
        {
            "id": "6f9619ff-8b86-d011-b42d-00c04fc964ff",
            "site_id": "0c4e2a8e-3b9d-4b8f-9d7a-1f2e3d4c5b6a",
            "n": 42,
            "ok": True,
            "created_at": "2025-11-03T09:32:55.1234+00:00",
        },
        types,
    )
    assert wal == realtime
    wal_ms = 1_762_162_375_123  # pgoutput: microseconds since 2000, truncated to ms
    realtime_ms = timestamp_ms("2025-11-03T09:32:55.123456Z")
    assert realtime_ms == wal_ms
    # Realtime's old_record on a table with row-level security is only the key
    full_old = {**wal, "n": 41}
    key_only_old = {"id": wal["id"]}
    assert event_id("calls", "UPDATE", wal, full_old, wal_ms) == event_id(
        "calls", "UPDATE", realtime, key_only_old, realtime_ms
    )


def test_keying_uses_the_claimed_site_and_rejects_rows_without_one() -> None:
    keyed = key_change(
        op="DELETE",
        schema="public",
        table="events",
        record=None,
        old_record={"id": "e1", "site_id": "s9"},
        commit_ms=5,
        source="wal",
    )
    assert isinstance(keyed, KeyedChange) and keyed.site_id == "s9"
    assert keyed.body["record"] is None
    unkeyed = key_change(
        op="INSERT",
        schema="public",
        table="calls",
        record={"id": "c1"},
        old_record=None,
        commit_ms=5,
        source="wal",
    )
    assert not isinstance(unkeyed, KeyedChange) and unkeyed.reason == "no_site"
    assert unkeyed.event_id == event_id("calls", "INSERT", {"id": "c1"}, None, 5)
    foreign = key_change(
        op="INSERT",
        schema="public",
        table="users",
        record={"id": "u"},
        old_record=None,
        commit_ms=5,
        source="wal",
    )
    assert not isinstance(foreign, KeyedChange) and foreign.reason == "unknown_table"
    site = key_change(
        op="INSERT",
        schema="public",
        table="sites",
        record={"id": "s1"},
        old_record=None,
        commit_ms=5,
        source="wal",
    )
    assert isinstance(site, KeyedChange) and site.site_id == "s1"
