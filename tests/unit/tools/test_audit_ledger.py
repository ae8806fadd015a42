"""The ledger check's pure part: each row's latest published state, and what differs from SQL."""

from __future__ import annotations

from datetime import date
from uuid import UUID

from tests.unit.tools.updates import NOW, call_update, intent_created, kpi_update
from workers.tools.ledger import (
    ROW,
    LedgerDifference,
    PublishedRow,
    compare_rows,
    created_on,
    keep_latest_row,
)

TYPES = {
    "calls": {
        "id": "uuid",
        "site_id": "uuid",
        "status": "text",
        "created_at": "timestamptz",
        "updated_at": "timestamptz",
        "row_version": "int8",
    },
    "intents": {
        "id": "uuid",
        "site_id": "uuid",
        "status": "text",
        "sealed_at": "timestamptz",
        "created_at": "timestamptz",
        "updated_at": "timestamptz",
    },
}
CALL = "6f96a3c4-1f0e-4b8e-9d51-0c5a2b7e9f10"
SITE = "0b6f1c9e-5d2a-4f7e-9c3b-2a1d4e5f6a7b"


def database_call(status: str, **extra: object) -> dict[str, object]:
    """A row as psycopg returns it: UUID and datetime objects."""
    return {
        "id": UUID(CALL),
        "site_id": UUID(SITE),
        "status": status,
        "created_at": NOW,
        "updated_at": NOW,
        **extra,
    }


def test_the_latest_state_is_the_highest_seq_then_the_later_offset() -> None:
    latest: dict[tuple[str, str], PublishedRow] = {}
    keep_latest_row(latest, call_update(SITE, 5, CALL, "answered"), offset=10)
    keep_latest_row(latest, call_update(SITE, 3, CALL, "ringing"), offset=11)  # older, re-sent
    assert latest[("calls", CALL)].row["status"] == "answered"
    keep_latest_row(latest, call_update(SITE, 5, CALL, "ended"), offset=12)  # same seq, later
    assert latest[("calls", CALL)].row["status"] == "ended"
    keep_latest_row(latest, kpi_update(SITE, 9, NOW.date(), calls=1), offset=13)
    keep_latest_row(latest, call_update(SITE, 8, CALL, "ended", deleted=True), offset=14)
    assert len(latest) == 1 and latest[("calls", CALL)].deleted


def published(*updates: object) -> dict[tuple[str, str], PublishedRow]:
    latest: dict[tuple[str, str], PublishedRow] = {}
    for offset, update in enumerate(updates):
        keep_latest_row(latest, update, offset)  # type: ignore[arg-type]
    return latest


def test_equal_rows_agree_across_spellings_and_missing_columns() -> None:
    # The published row spells times as text and has no row_version (published before the
    # column existed): neither is a difference.
    told = published(call_update(SITE, 1, CALL, "answered", site_id=SITE))
    truth = {("calls", CALL): database_call("answered", row_version=7)}
    assert compare_rows(truth, told, TYPES) == []


def test_a_call_left_ringing_is_named_with_its_field() -> None:
    told = published(call_update(SITE, 1, CALL, "ringing"))
    truth = {("calls", CALL): database_call("answered")}
    assert compare_rows(truth, told, TYPES) == [
        LedgerDifference(SITE, "calls", CALL, "status", "answered", "ringing")
    ]


def test_rows_missing_on_either_side() -> None:
    intent = "1d6b1c0e-0000-4000-8000-000000000001"
    truth = {("calls", CALL): database_call("answered")}
    assert compare_rows(truth, {}, TYPES) == [
        LedgerDifference(SITE, "calls", CALL, ROW, "present", "absent")
    ]
    deleted = published(call_update(SITE, 2, CALL, "answered", deleted=True))
    assert compare_rows(truth, deleted, TYPES) == [
        LedgerDifference(SITE, "calls", CALL, ROW, "present", "deleted")
    ]
    # Gone from Postgres: a deleted last state agrees, a live one does not.
    assert compare_rows({}, deleted, TYPES) == []
    assert compare_rows({}, published(intent_created(SITE, 1, intent)), TYPES) == [
        LedgerDifference(SITE, "intents", intent, ROW, "deleted", "present")
    ]


def test_created_on_reads_both_spellings() -> None:
    assert created_on({"created_at": NOW}) == NOW.date()
    assert created_on({"created_at": "2026-11-22T23:59:59.5+00:00"}) == date(2026, 11, 22)
    assert created_on({}) is None
