"""Catch-up paging over (updated_at, id): ties larger than a page, look-back, marks, seen versions."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from workers.changes.values import canonical_timestamp, parse_timestamp
from workers.ingest.realtime.catchup import CatchUpReader, HighWaterMarks, SeenVersions, lowered


@dataclass
class _Response:
    data: list[dict[str, Any]]


@dataclass
class _Query:
    rows: list[dict[str, Any]]
    log: list[str]
    tests: list[tuple[str, str, str]] = field(default_factory=list)
    ordering: list[tuple[str, bool]] = field(default_factory=list)
    size: int | None = None

    def select(self, *columns: str) -> _Query:
        return self

    def _add(self, op: str, column: str, value: str) -> _Query:
        self.tests.append((op, column, value))
        return self

    def eq(self, column: str, value: str) -> _Query:
        return self._add("eq", column, value)

    def gt(self, column: str, value: str) -> _Query:
        return self._add("gt", column, value)

    def gte(self, column: str, value: str) -> _Query:
        return self._add("gte", column, value)

    def order(self, column: str, *, desc: bool = False) -> _Query:
        self.ordering.append((column, desc))
        return self

    def limit(self, size: int) -> _Query:
        self.size = size
        return self

    async def execute(self) -> _Response:
        self.log.append(" ".join(f"{c}={op}.{v}" for op, c, v in self.tests))

        def value(row: dict[str, Any], column: str) -> Any:
            return parse_timestamp(row[column]) if column == "updated_at" else row[column]

        def keep(row: dict[str, Any]) -> bool:
            for op, column, raw in self.tests:
                left = value(row, column)
                right = parse_timestamp(raw) if column == "updated_at" else raw
                if not {"eq": left == right, "gt": left > right, "gte": left >= right}[op]:
                    return False
            return True

        found = [row for row in self.rows if keep(row)]
        for column, desc in reversed(self.ordering):
            found.sort(key=lambda row, c=column: value(row, c), reverse=desc)
        return _Response(found[: self.size])


@dataclass
class _Rest:
    rows: list[dict[str, Any]]
    log: list[str] = field(default_factory=list)

    def from_(self, table: str) -> _Query:
        return _Query(self.rows, self.log)


def _row(number: int, stamp: str) -> dict[str, Any]:
    return {"id": f"{number:08d}-0000-0000-0000-000000000000", "updated_at": stamp}


async def _read_all(reader: CatchUpReader, mark: str | None) -> list[str]:
    return [row["id"] for page in [p async for p in reader.pages("calls", mark)] for row in page]


async def test_ties_larger_than_a_page_are_read_exactly_once() -> None:
    tie = "2025-11-03T09:32:55.123456+00:00"
    rows = [_row(n, tie) for n in range(7)] + [
        _row(n, "2025-11-03T09:32:56+00:00") for n in range(7, 12)
    ]
    reader = CatchUpReader(_Rest(rows), page_size=3, lookback_s=0)
    ids = await _read_all(reader, None)
    assert ids == [row["id"] for row in rows]


async def test_a_mark_reads_from_the_mark_minus_the_lookback() -> None:
    rows = [
        _row(1, "2025-11-03T09:00:00+00:00"),
        _row(2, "2025-11-03T09:00:08+00:00"),
        _row(3, "2025-11-03T09:00:10+00:00"),
        _row(4, "2025-11-03T09:00:11+00:00"),
    ]
    rest = _Rest(rows)
    reader = CatchUpReader(rest, page_size=100, lookback_s=5)
    assert await _read_all(reader, canonical_timestamp("2025-11-03T09:00:10+00:00")) == [
        rows[1]["id"],
        rows[2]["id"],
        rows[3]["id"],
    ]
    assert rest.log[0] == "updated_at=gte.2025-11-03T09:00:05+00:00"


def test_lowered_spells_an_offset_postgrest_accepts() -> None:
    assert lowered("2025-11-03T09:00:10.250000Z", 0.5) == "2025-11-03T09:00:09.750000+00:00"


def test_marks_only_move_forward() -> None:
    marks = HighWaterMarks()
    marks.advance({"calls": "2025-11-03T09:00:10.000000Z"})
    marks.advance({"calls": "2025-11-03T09:00:09.000000Z", "events": "2025-11-03T09:00:01.000000Z"})
    assert marks.start_of("calls") == "2025-11-03T09:00:10.000000Z"
    assert marks.start_of("events") == "2025-11-03T09:00:01.000000Z"
    assert marks.start_of("intents") is None


def test_seen_versions_are_bounded_and_compare_whole_rows() -> None:
    seen = SeenVersions(capacity=2)
    first = {"id": "a", "status": "qualified", "updated_at": "t1"}
    last = {"id": "a", "status": "sealed", "updated_at": "t1"}
    seen.remember("intents", "a", first)
    seen.remember("intents", "b", first)
    seen.remember("intents", "a", last)
    seen.remember("intents", "c", first)
    assert seen.already_published("intents", "a", last)
    assert not seen.already_published("intents", "a", first), "same updated_at, other content"
    assert not seen.already_published("intents", "b", first), (
        "the least recently used entry went out"
    )
    assert not SeenVersions(capacity=0).already_published("intents", "a", first)
