"""Canonical JSON values for Postgres column values, from pgoutput text or Realtime JSON.

pgoutput sends every value as text; Realtime sends JSON whose spelling of timestamps differs
(``+00:00`` vs ``+00``, space vs ``T``). Both are brought to one spelling here so that records,
and the event IDs derived from them, match across sources.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

import orjson

# pg_type OIDs of the built-in types pgoutput reports in Relation messages.
TYPE_NAMES_BY_OID: dict[int, str] = {
    16: "bool",
    20: "int8",
    21: "int2",
    23: "int4",
    25: "text",
    114: "json",
    700: "float4",
    701: "float8",
    1043: "varchar",
    1082: "date",
    1114: "timestamp",
    1184: "timestamptz",
    1700: "numeric",
    2950: "uuid",
    3802: "jsonb",
}

INT_TYPES = frozenset({"int2", "int4", "int8", "smallint", "integer", "bigint"})
FLOAT_TYPES = frozenset({"float4", "float8", "real", "double precision"})
TIMESTAMP_TYPES = frozenset({"timestamptz", "timestamp"})
JSON_TYPES = frozenset({"json", "jsonb"})


# Postgres' own text for a timestamptz in a UTC session: "2025-11-03 09:32:55.123+00".
_PG_UTC = re.compile(
    r"(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2})(?:\.(\d{1,6}))?(?:\+00(?::?00)?|Z)"
)


def canonical_timestamp(value: str | datetime) -> str:
    """UTC, microseconds, ``Z``: ``2025-11-03T09:32:55.123000Z``. Naive times are taken as UTC."""
    if isinstance(value, datetime):
        return _format_utc(value)
    return _canonical_timestamp_text(value)


@lru_cache(maxsize=8192)
def _canonical_timestamp_text(value: str) -> str:
    # The fast path skips datetime parsing for the spelling Postgres and Realtime use most; the
    # ingest spends most of its per-change time here otherwise.
    match = _PG_UTC.fullmatch(value.strip())
    if match:
        day, clock, fraction = match.groups()
        return f"{day}T{clock}.{(fraction or '').ljust(6, '0')}Z"
    text = value.strip().replace(" ", "T", 1)
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    return _format_utc(datetime.fromisoformat(text))


def _format_utc(parsed: datetime) -> str:
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_timestamp(value: str | datetime) -> datetime:
    return datetime.strptime(canonical_timestamp(value), "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=UTC
    )


def timestamp_ms(value: str | datetime) -> int:
    """Milliseconds since the epoch, truncated, in UTC."""
    moment = parse_timestamp(value)
    return int(moment.timestamp() * 1_000_000) // 1000


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).lower() in ("t", "true")


def _numeric(value: Any) -> str:
    try:
        return str(Decimal(str(value)).normalize())
    except InvalidOperation:
        return str(value)


def _timestamp(value: Any) -> str:
    try:
        return canonical_timestamp(value)
    except ValueError:
        return str(value)


def _date(value: Any) -> str:
    return date.fromisoformat(str(value)).isoformat()


def _json(value: Any) -> Any:
    return orjson.loads(value) if isinstance(value, str | bytes) else value


def _uuid(value: Any) -> str:
    return str(value).lower()


def _text(value: Any) -> str:
    return value if isinstance(value, str) else str(value)


Converter = Callable[[Any], Any]

_CONVERTERS: dict[str, Converter] = {
    "bool": _bool,
    "numeric": _numeric,
    "date": _date,
    "uuid": _uuid,
    **dict.fromkeys(INT_TYPES, int),
    **dict.fromkeys(FLOAT_TYPES, float),
    **dict.fromkeys(TIMESTAMP_TYPES, _timestamp),
    **dict.fromkeys(JSON_TYPES, _json),
}


def converter(type_name: str) -> Converter:
    """The function that gives a non-null value of ``type_name`` its canonical form.

    Callers converting many rows of one relation look it up once per column, not per value.
    """
    return _CONVERTERS.get(type_name, _text)


def canonical_value(type_name: str, value: Any) -> Any:
    """One column value in its canonical JSON form; text or already-decoded JSON both accepted."""
    if value is None:
        return None
    return converter(type_name)(value)


def canonical_row(row: dict[str, Any], types: dict[str, str]) -> dict[str, Any]:
    return {name: canonical_value(types.get(name, "text"), value) for name, value in row.items()}
