"""What dashboards were told, against Postgres: the KPIs, and the ledger of calls and intents.

KPIs: the SQL (``workers.kpis.sql.recompute_kpis``) is the definition, compared with the latest
``kpi_updated`` of each site and day. Rows the stream quarantines for their timestamps are left
out of the SQL and reported apart. Ledger: each call's and intent's latest published state,
compared with its row (``ledger``). "Latest" is the highest per-site ``seq``, the later offset
breaking a tie, since a worker restarting after a crash may publish the same update again.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from schemas.updates import KpiSnapshot, KpiUpdated
from workers.ingest.wal.snapshot import column_types
from workers.kpis.sql import HOLDABLE_LEDGER_ROWS, quarantined_rows, recompute_kpis
from workers.tools.ledger import (
    LEDGER_TABLES,
    LedgerDifference,
    PublishedRow,
    RowKey,
    compare_rows,
    created_on,
    keep_latest_row,
)
from workers.tools.offsets import Beginning
from workers.tools.reading import TopicReader
from workers.tools.sites import ensure_site_known
from workers.tools.tail import decode_site_record

SiteDay = tuple[str, date]
KPI_FIELDS: tuple[str, ...] = (
    "sessions",
    "events",
    "calls",
    "intents",
    "conversions",
    "conversion_rate",
    "last_event_at",
)
MISSING = "kpi_updated"


@dataclass(frozen=True)
class Published:
    seq: int
    offset: int
    kpis: KpiSnapshot


@dataclass(frozen=True)
class KpiDifference:
    """``kpi`` is a KPI name, or ``kpi_updated`` when Kafka has no snapshot for the site-day."""

    site_id: str
    day: date
    kpi: str
    expected: Any
    actual: Any


@dataclass(frozen=True)
class AuditReport:
    """``compared`` site-days with their KPI ``differences``; ``rows_compared`` ledger rows;
    ``quarantined``: rows per table left out of the SQL because the stream quarantines them (a
    timestamp Python cannot hold)."""

    compared: int
    differences: list[KpiDifference]
    rows_compared: int = 0
    row_differences: list[LedgerDifference] = field(default_factory=list)
    quarantined: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.differences and not self.row_differences

    @property
    def sites_differing(self) -> list[str]:
        return sorted(
            {d.site_id for d in self.differences} | {d.site_id for d in self.row_differences}
        )


@dataclass(frozen=True)
class PublishedState:
    """The latest ``kpi_updated`` per site-day and ledger state per row, and the records that
    could not be decoded."""

    kpis: dict[SiteDay, Published]
    rows: dict[RowKey, PublishedRow]
    invalid: int


def keep_latest(latest: dict[SiteDay, Published], update: KpiUpdated, offset: int) -> None:
    key = (update.site_id, update.kpis.day)
    current = latest.get(key)
    if current is None or (update.seq, offset) >= (current.seq, current.offset):
        latest[key] = Published(update.seq, offset, update.kpis)


def same_value(field: str, expected: Any, actual: Any) -> bool:
    if field == "conversion_rate":
        return bool(abs(float(expected) - float(actual)) < 1e-9)
    return bool(expected == actual)


def compare(
    expected: dict[SiteDay, KpiSnapshot], published: dict[SiteDay, KpiSnapshot]
) -> list[KpiDifference]:
    """Every KPI of ``published`` that differs from ``expected``, site-day by site-day.

    A site-day without rows in Postgres is all zeros there (the SQL lists only days with
    activity), so a published all-zero snapshot for it agrees, e.g. after its rows were deleted.
    """
    differences: list[KpiDifference] = []
    for site_id, day in sorted(expected.keys() | published.keys()):
        truth = expected.get((site_id, day)) or KpiSnapshot(day=day)
        told = published.get((site_id, day))
        if told is None:
            differences.append(KpiDifference(site_id, day, MISSING, "present", "absent"))
            continue
        for kpi in KPI_FIELDS:
            left, right = getattr(truth, kpi), getattr(told, kpi)
            if not same_value(kpi, left, right):
                differences.append(KpiDifference(site_id, day, kpi, left, right))
    return differences


def narrowed(
    published: dict[SiteDay, Published], site_id: str | None, day: date | None
) -> dict[SiteDay, KpiSnapshot]:
    return {
        key: entry.kpis
        for key, entry in published.items()
        if (site_id is None or key[0] == site_id) and (day is None or key[1] == day)
    }


async def published_state(reader: TopicReader, site_id: str | None = None) -> PublishedState:
    """What the topic says last, per site-day and per ledger row; one site's partition and key
    only when ``site_id`` is given."""
    if site_id is not None:
        partitions = [await reader.partition_of(site_id)]
    else:
        partitions = list(range(await reader.partition_count()))
    bounds = await reader.bounds(partitions)
    windows = {p: await reader.window(bounds[p], Beginning()) for p in partitions}
    key = site_id.encode() if site_id is not None else None
    latest: dict[SiteDay, Published] = {}
    rows: dict[RowKey, PublishedRow] = {}
    invalid = 0
    async for record in reader.read(windows, key):
        decoded = decode_site_record(record)
        if decoded.update is None:
            invalid += 1
        elif isinstance(decoded.update, KpiUpdated):
            keep_latest(latest, decoded.update, record.offset)
        else:
            keep_latest_row(rows, decoded.update, record.offset)
    return PublishedState(latest, rows, invalid)


def expected_kpis(
    conn: psycopg.Connection[Any], site_id: str | None, day: date | None
) -> dict[SiteDay, KpiSnapshot]:
    if site_id is not None:
        ensure_site_known(conn, site_id)
    return recompute_kpis(conn, site_id, day)


def expected_rows(
    conn: psycopg.Connection[Any], site_id: str | None, day: date | None
) -> tuple[dict[RowKey, dict[str, Any]], dict[str, dict[str, str]]]:
    """The ledger tables' rows (created on ``day`` when given) and their column types; rows the
    stream quarantines for their timestamps are left out, as they are of the KPIs."""
    rows: dict[RowKey, dict[str, Any]] = {}
    types = {table: column_types(conn, table) for table in LEDGER_TABLES}
    with conn.cursor(row_factory=dict_row) as cursor:
        for table in LEDGER_TABLES:
            query = sql.SQL(
                "SELECT * FROM {} WHERE (%(site)s::text IS NULL OR site_id::text = %(site)s) AND "
                + HOLDABLE_LEDGER_ROWS[table]
            ).format(sql.Identifier("public", table))
            for row in cursor.execute(query, {"site": site_id}).fetchall():
                if day is None or created_on(row) == day:
                    rows[(table, str(row["id"]))] = row
    return rows, types


def narrowed_rows(
    published: dict[RowKey, PublishedRow], site_id: str | None, day: date | None
) -> dict[RowKey, PublishedRow]:
    return {
        key: entry
        for key, entry in published.items()
        if (site_id is None or entry.site_id == site_id)
        and (day is None or created_on(entry.row) == day)
    }


async def audit(
    conn: psycopg.Connection[Any],
    reader: TopicReader,
    site_id: str | None = None,
    day: date | None = None,
) -> tuple[AuditReport, int]:
    """The audit report and the count of undecodable update records met on the way."""
    expected = expected_kpis(conn, site_id, day)
    database_rows, types = expected_rows(conn, site_id, day)
    state = await published_state(reader, site_id)
    published = narrowed(state.kpis, site_id, day)
    published_rows = narrowed_rows(state.rows, site_id, day)
    report = AuditReport(
        compared=len(expected.keys() | published.keys()),
        differences=compare(expected, published),
        rows_compared=len(database_rows.keys() | published_rows.keys()),
        row_differences=compare_rows(database_rows, published_rows, types),
        quarantined=quarantined_rows(conn, site_id),
    )
    return report, state.invalid


def quarantine_note(report: AuditReport) -> str | None:
    """One line on the rows left out of the comparison, or None when there are none."""
    if not report.quarantined:
        return None
    total = sum(report.quarantined.values())
    tables = ", ".join(f"{table} {n}" for table, n in sorted(report.quarantined.items()))
    return (
        f"{total} row(s) quarantined in the stream ({tables}): a timestamp Python cannot hold; "
        "left out of the SQL too"
    )


def rows(report: AuditReport) -> Iterable[tuple[str, str, str, str, str]]:
    for d in report.differences:
        yield d.site_id, d.day.isoformat(), d.kpi, show(d.expected), show(d.actual)


def ledger_lines(report: AuditReport) -> Iterable[tuple[str, str, str, str, str, str]]:
    for d in report.row_differences:
        yield d.site_id, d.table, d.row_id, d.field, show(d.expected), show(d.actual)


def show(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    return "-" if value is None else str(value)
