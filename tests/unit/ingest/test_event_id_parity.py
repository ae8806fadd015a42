"""One committed change, decoded from pgoutput and received as a Realtime push, is one ChangeRecord."""

from __future__ import annotations

from datetime import UTC, datetime

from realtime.types import RealtimePostgresChangesListenEvent

from schemas.changes import ChangeRecord
from workers.changes.keying import KeyedChange
from workers.ingest.realtime.changes import change_from_push, change_from_row
from workers.ingest.wal.pgoutput import PG_EPOCH, Begin, Column, Relation, RowChange
from workers.ingest.wal.transactions import TransactionAssembler

CALL_ID = "6C0E1A35-8A9F-4D4E-A0D8-1B3C5E7F9A11"
SITE_ID = "0b0f7e62-3f1c-4a55-9a3e-2a9d1c7e5b10"
COMMIT = datetime(2025, 11, 19, 0, 22, 40, 877_654, tzinfo=UTC)

CALLS = Relation(
    relid=16400,
    schema="public",
    table="calls",
    replica_identity="f",
    columns=(
        Column("id", 2950, True),
        Column("site_id", 2950, True),
        Column("session_id", 2950, True),
        Column("status", 25, True),
        Column("created_at", 1184, True),
        Column("updated_at", 1184, True),
    ),
)
COLUMNS = [
    {"name": "id", "type": "uuid"},
    {"name": "site_id", "type": "uuid"},
    {"name": "session_id", "type": "uuid"},
    {"name": "status", "type": "text"},
    {"name": "created_at", "type": "timestamptz"},
    {"name": "updated_at", "type": "timestamptz"},
]


def _wal_change(
    op: str, new: tuple[object, ...] | None, old: tuple[object, ...] | None
) -> ChangeRecord:
    assembler = TransactionAssembler()
    commit_us = int((COMMIT - PG_EPOCH).total_seconds() * 1_000_000)
    assembler.feed(Begin(final_lsn=100, commit_us=commit_us, xid=7), 90)
    assembler.feed(CALLS, 91)
    (item,) = assembler.feed(RowChange(op, CALLS.relid, new=new, old=old), 92)
    assert isinstance(item, KeyedChange), item
    return ChangeRecord.model_validate(item.body)


def _push(op: str, record: dict[str, object] | None, old: dict[str, object] | None) -> ChangeRecord:
    data: dict[str, object] = {
        "schema": "public",
        "table": "calls",
        "type": op,
        "commit_timestamp": "2025-11-19T00:22:40.877Z",
        "columns": COLUMNS,
        "errors": None,
    }
    if record is not None:
        data["record"] = record
    if old is not None:
        data["old_record"] = old
    item = change_from_push({"ids": [106243155], "data": data})
    assert isinstance(item, ChangeRecord)
    return item


# pgoutput text, as the WAL carries it (session time zone of the writer: +01)
OLD_TEXT = (
    CALL_ID.lower(),
    SITE_ID,
    None,
    "ringing",
    "2025-11-03 10:32:55.1234+01",
    "2025-11-03 10:32:55.1234+01",
)
NEW_TEXT = (
    CALL_ID.lower(),
    SITE_ID,
    None,
    "answered",
    "2025-11-03 10:32:55.1234+01",
    "2025-11-19 01:22:40.8765+01",
)
# to_jsonb(...) as Realtime renders it (UTC session)
OLD_JSON = {
    "id": CALL_ID.lower(),
    "site_id": SITE_ID,
    "session_id": None,
    "status": "ringing",
    "created_at": "2025-11-03T09:32:55.1234+00:00",
    "updated_at": "2025-11-03T09:32:55.1234+00:00",
}
NEW_JSON = {**OLD_JSON, "status": "answered", "updated_at": "2025-11-19T00:22:40.8765+00:00"}


def test_update_gets_the_same_record_and_event_id_from_both_sources() -> None:
    wal = _wal_change("UPDATE", NEW_TEXT, OLD_TEXT)
    realtime = _push("UPDATE", NEW_JSON, OLD_JSON)
    assert realtime.event_id == wal.event_id
    assert realtime.record == wal.record and realtime.old_record == wal.old_record
    assert realtime.commit_timestamp == wal.commit_timestamp
    assert realtime.site_id == wal.site_id == SITE_ID
    assert (wal.source, realtime.source) == ("wal", "realtime")


def test_key_only_old_record_gives_the_same_event_id() -> None:
    wal = _wal_change("UPDATE", NEW_TEXT, OLD_TEXT)
    realtime_rls = _push("UPDATE", NEW_JSON, {"id": CALL_ID.lower()})
    assert realtime_rls.event_id == wal.event_id


def test_insert_and_delete_match() -> None:
    assert (
        _push("INSERT", OLD_JSON, None).event_id == _wal_change("INSERT", OLD_TEXT, None).event_id
    )
    assert (
        _push("DELETE", None, OLD_JSON).event_id == _wal_change("DELETE", None, OLD_TEXT).event_id
    )


def test_different_content_gets_a_different_event_id() -> None:
    other = {**NEW_JSON, "status": "ended"}
    assert _push("UPDATE", other, OLD_JSON).event_id != _push("UPDATE", NEW_JSON, OLD_JSON).event_id


def test_uppercase_uuid_and_offsets_are_canonicalised() -> None:
    shouted = {**NEW_JSON, "id": CALL_ID, "updated_at": "2025-11-19T01:22:40.8765+01:00"}
    assert _push("UPDATE", shouted, OLD_JSON).record == _push("UPDATE", NEW_JSON, OLD_JSON).record


def test_errors_and_missing_commit_time_are_rejected_not_dropped() -> None:
    no_pk = change_from_push(
        {
            "ids": [1],
            "data": {
                "schema": "public",
                "table": "calls",
                "type": "INSERT",
                "commit_timestamp": None,
                "columns": [],
                "record": {},
                "errors": ["Error 400: Bad Request, no primary key"],
            },
        }
    )
    assert not isinstance(no_pk, ChangeRecord) and no_pk.reason == "malformed"
    broken = change_from_push(
        {
            "ids": [1],
            "data": {
                "schema": "public",
                "table": "calls",
                "type": "INSERT",
                "columns": COLUMNS,
                "record": NEW_JSON,
                "errors": None,
            },
        }
    )
    assert not isinstance(broken, ChangeRecord) and broken.reason == "undecodable"


def test_catch_up_row_is_a_read_with_its_updated_at_as_time() -> None:
    fresh = change_from_row("calls", OLD_JSON, {c["name"]: c["type"] for c in COLUMNS})
    touched = change_from_row("calls", NEW_JSON, {c["name"]: c["type"] for c in COLUMNS})
    assert isinstance(fresh, ChangeRecord) and isinstance(touched, ChangeRecord)
    assert fresh.op == "INSERT" and fresh.old_record is None and fresh.source == "realtime_catchup"
    assert touched.op == "UPDATE" and touched.old_record == {"id": CALL_ID.lower()}
    assert touched.commit_timestamp == datetime(2025, 11, 19, 0, 22, 40, 876_000, tzinfo=UTC)
    assert touched.record == _push("UPDATE", NEW_JSON, OLD_JSON).record


def test_the_clients_enum_type_is_read_as_its_value() -> None:
    plain = _push("UPDATE", NEW_JSON, OLD_JSON)
    data = {
        "schema": "public",
        "table": "calls",
        "type": RealtimePostgresChangesListenEvent.Update,
        "commit_timestamp": "2025-11-19T00:22:40.877Z",
        "columns": COLUMNS,
        "errors": None,
        "record": NEW_JSON,
        "old_record": OLD_JSON,
    }
    validated = change_from_push({"ids": [1], "data": data})
    assert isinstance(validated, ChangeRecord) and validated.op == "UPDATE"
    assert validated.event_id == plain.event_id
