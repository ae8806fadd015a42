"""The SQL reference, the stream's KPI rule and the update models all follow ``definitions``."""

from __future__ import annotations

import re

import pytest

from schemas.updates import KpiSnapshot, TimelineBucket
from workers.kpis.definitions import COUNTS, NAMES, TABLES, Count, counts_of
from workers.kpis.sql import KPI_SQL, QUARANTINED_SQL
from workers.stream.rules.kpis import KINDS, DayAggregate, contribution

MOMENT = "2026-11-23T10:07:00.000000Z"


def test_every_count_is_a_field_of_the_snapshot_and_the_timeline() -> None:
    latest = {count.latest for count in COUNTS if count.latest}
    assert set(KpiSnapshot.model_fields) == {"day", "conversion_rate", *NAMES, *latest}
    assert set(TimelineBucket.model_fields) == {"start", *NAMES}


def test_the_sql_counts_exactly_the_defined_kpis() -> None:
    assert re.findall(r"'(\w+)' AS kind, count\(\*\)", KPI_SQL) == list(NAMES)
    assert re.findall(r"SELECT '(\w+)' AS kind, r.site_id", QUARANTINED_SQL) == list(TABLES)


@pytest.mark.parametrize("table", TABLES)
def test_a_row_contributes_to_each_count_of_its_table(table: str) -> None:
    row = {count.at: MOMENT for count in counts_of(table)}
    cells = contribution(table, row, verified=True).cells
    assert sorted(kind for _day, _bucket, kind in cells) == sorted(
        KINDS.index(count.name) for count in counts_of(table)
    )


@pytest.mark.parametrize("count", [c for c in COUNTS if c.optional], ids=lambda c: c.name)
def test_a_row_without_an_optional_timestamp_does_not_count_there(count: Count) -> None:
    row = {c.at: MOMENT for c in counts_of(count.table) if c is not count}
    kinds = {kind for _day, _bucket, kind in contribution(count.table, row).cells}
    assert KINDS.index(count.name) not in kinds


@pytest.mark.parametrize("count", [c for c in COUNTS if c.verified_only], ids=lambda c: c.name)
def test_an_unverified_row_does_not_count(count: Count) -> None:
    row = {c.at: MOMENT for c in counts_of(count.table)}
    kinds = {kind for _day, _bucket, kind in contribution(count.table, row, verified=False).cells}
    assert KINDS.index(count.name) not in kinds


def test_the_stream_snapshot_names_every_count() -> None:
    snapshot = KpiSnapshot.model_validate(DayAggregate().snapshot("2026-11-23"))
    assert all(getattr(snapshot, name) == 0 for name in NAMES)
