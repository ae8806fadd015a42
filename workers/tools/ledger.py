"""The ledger check: each call's and intent's last published state against its database row.

``call_created``/``call_updated`` and ``intent_created``/``intent_updated`` carry the whole row as
the stream worker applied it. The latest of them per row (highest per-site ``seq``, the later
offset breaking a tie) is what a dashboard shows. It must equal the row in Postgres, or say
``deleted`` when the row is gone. A state that moves no KPI, such as a call left at ``ringing``,
is caught here and nowhere else.

Values are compared in the canonical spelling of ``workers.changes.values`` with the columns'
database types, and only columns that both sides hold: updates published before a column existed
do not differ for lack of it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from schemas.updates import CallCreated, CallUpdated, DashboardUpdate, IntentCreated, IntentUpdated
from workers.changes.values import canonical_row, canonical_value

LEDGER_TABLES: tuple[str, ...] = ("calls", "intents")
ROW = "row"  # the field of a difference in presence: present, absent or deleted

RowKey = tuple[str, str]  # (table, row id)


@dataclass(frozen=True)
class PublishedRow:
    seq: int
    offset: int
    site_id: str
    row: dict[str, Any]
    deleted: bool


@dataclass(frozen=True)
class LedgerDifference:
    """``field`` is a column, or ``row`` when one side has the row and the other not."""

    site_id: str
    table: str
    row_id: str
    field: str
    expected: Any
    actual: Any


def ledger_row(update: DashboardUpdate) -> tuple[str, dict[str, Any], bool] | None:
    """(table, row, deleted) of a ledger update; None for every other type."""
    if isinstance(update, CallCreated | CallUpdated):
        deleted = isinstance(update, CallUpdated) and update.deleted
        return "calls", update.call.model_dump(), deleted
    if isinstance(update, IntentCreated | IntentUpdated):
        deleted = isinstance(update, IntentUpdated) and update.deleted
        return "intents", update.intent.model_dump(), deleted
    return None


def keep_latest_row(
    latest: dict[RowKey, PublishedRow], update: DashboardUpdate, offset: int
) -> None:
    entry = ledger_row(update)
    if entry is None:
        return
    table, row, deleted = entry
    key = (table, str(row["id"]))
    current = latest.get(key)
    if current is None or (update.seq, offset) >= (current.seq, current.offset):
        latest[key] = PublishedRow(update.seq, offset, update.site_id, row, deleted)


def created_on(row: Mapping[str, Any]) -> date | None:
    """The UTC day of a row's ``created_at``: the day its KPIs count it on."""
    created = canonical_value("timestamptz", row.get("created_at"))
    return date.fromisoformat(created[:10]) if isinstance(created, str) else None


def compare_rows(
    expected: Mapping[RowKey, Mapping[str, Any]],
    published: Mapping[RowKey, PublishedRow],
    types: Mapping[str, Mapping[str, str]],
) -> list[LedgerDifference]:
    """Every difference between the database's rows (``expected``) and the published ledger.

    ``types`` holds each ledger table's column types; both sides are canonicalised with them.
    """
    differences: list[LedgerDifference] = []
    for key in sorted(expected.keys() | published.keys()):
        table, row_id = key
        column_types = dict(types[table])
        truth = expected.get(key)
        told = published.get(key)
        site = str((truth or {}).get("site_id") or (told.site_id if told else ""))
        if truth is None:
            if told is not None and not told.deleted:
                differences.append(LedgerDifference(site, table, row_id, ROW, "deleted", "present"))
            continue
        if told is None or told.deleted:
            actual = "absent" if told is None else "deleted"
            differences.append(LedgerDifference(site, table, row_id, ROW, "present", actual))
            continue
        left = canonical_row(dict(truth), column_types)
        right = canonical_row(told.row, column_types)
        for column in left:
            if column in right and left[column] != right[column]:
                differences.append(
                    LedgerDifference(site, table, row_id, column, left[column], right[column])
                )
    return differences
