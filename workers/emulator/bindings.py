"""``postgres_changes`` bindings: public ids, parsing (as the Realtime server does) and matching.

Filters are evaluated like ``realtime.is_visible_through_filters``: both sides are brought to the
column's type before comparing, and a filter on a column absent from the row is false.
"""

from __future__ import annotations

import fnmatch
import hashlib
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

import orjson

from workers.changes.values import (
    FLOAT_TYPES,
    INT_TYPES,
    TIMESTAMP_TYPES,
    canonical_value,
)

ID_SPACE = (1 << 27) - 1
ACTIONS = ("INSERT", "UPDATE", "DELETE")
REQUIRED_OPS = ("eq", "neq", "lt", "lte", "gt", "gte", "in")
OPTIONAL_OPS = ("like", "ilike", "is")
MAX_IN_VALUES = 100


class FilterParseError(ValueError):
    pass


def binding_id(raw: dict[str, Any]) -> int:
    """Stable across channels and sockets for equal bindings, like ``:erlang.phash2``; never 0."""
    digest = hashlib.blake2b(orjson.dumps(raw, option=orjson.OPT_SORT_KEYS), digest_size=8).digest()
    return int.from_bytes(digest, "big") % ID_SPACE + 1


@dataclass(frozen=True)
class Condition:
    column: str
    op: str
    negate: bool
    value: str | tuple[str, ...]


@dataclass(frozen=True)
class Subscription:
    id: int
    schema: str
    table: str
    actions: frozenset[str]
    conditions: tuple[Condition, ...]

    def describe(self) -> str:
        filters = ", ".join(
            f"{c.column} {'not.' if c.negate else ''}{c.op} {c.value}" for c in self.conditions
        )
        return f"[event: {'*' if len(self.actions) == 3 else next(iter(self.actions))}, schema: {self.schema}, table: {self.table}, filters: [{filters}]]"


def _split_conditions(text: str) -> list[str]:
    parts: list[str] = []
    depth = 0
    current: list[str] = []
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


def parse_condition(text: str) -> Condition:
    column, sep, rest = text.partition("=")
    if not sep or not column:
        raise FilterParseError(f"{text!r} is not column=op.value")
    negate = rest.startswith("not.")
    if negate:
        rest = rest[len("not.") :]
    op, sep, value = rest.partition(".")
    if not sep or op not in REQUIRED_OPS + OPTIONAL_OPS:
        raise FilterParseError(f"unsupported operator in {text!r}")
    if op == "in":
        if not (value.startswith("(") and value.endswith(")")):
            raise FilterParseError(f"`in` needs a parenthesised list in {text!r}")
        values = tuple(v.strip().strip('"') for v in value[1:-1].split(",") if v.strip())
        if len(values) > MAX_IN_VALUES:
            raise FilterParseError(f"`in` allows at most {MAX_IN_VALUES} values")
        return Condition(column, op, negate, values)
    if op == "is" and value.lower() not in ("null", "true", "false", "unknown"):
        raise FilterParseError(f"`is` takes null, true, false or unknown in {text!r}")
    return Condition(column, op, negate, value.strip('"'))


def parse_binding(raw: dict[str, Any]) -> Subscription:
    """One raw binding as the server reads it; raises FilterParseError for a malformed filter."""
    event = str(raw.get("event") or "*").upper()
    actions = frozenset([event]) if event in ACTIONS else frozenset(ACTIONS)
    schema = str(raw.get("schema") or "public")
    table = str(raw.get("table") or "*")
    conditions: tuple[Condition, ...] = ()
    filter_text = raw.get("filter")
    if filter_text:
        conditions = tuple(parse_condition(part) for part in _split_conditions(str(filter_text)))
    return Subscription(binding_id(raw), schema, table, actions, conditions)


def _typed(type_name: str, value: Any) -> Any:
    canonical = canonical_value(type_name, value)
    if type_name == "numeric" or type_name in INT_TYPES or type_name in FLOAT_TYPES:
        try:
            return Decimal(str(canonical))
        except InvalidOperation:
            return str(canonical)
    if type_name in TIMESTAMP_TYPES:
        return str(canonical)
    return canonical


def _holds(condition: Condition, type_name: str, actual: Any) -> bool:
    op = condition.op
    if op == "is":
        wanted = str(condition.value).lower()
        if wanted in ("null", "unknown"):
            return actual is None
        return actual is not None and _typed("bool", actual) is (wanted == "true")
    if actual is None:
        return False
    left = _typed(type_name, actual)
    if op == "in":
        return any(left == _typed(type_name, v) for v in condition.value)
    right = _typed(type_name, condition.value)
    if op in ("like", "ilike"):
        pattern = str(condition.value).replace("%", "*").replace("_", "?")
        text = str(actual)
        return (
            fnmatch.fnmatchcase(text.lower(), pattern.lower())
            if op == "ilike"
            else fnmatch.fnmatchcase(text, pattern)
        )
    try:
        return bool(
            {
                "eq": left == right,
                "neq": left != right,
                "lt": left < right,
                "lte": left <= right,
                "gt": left > right,
                "gte": left >= right,
            }[op]
        )
    except TypeError:
        return False


def matches(subscription: Subscription, data: dict[str, Any]) -> bool:
    """Whether a change ``data`` payload is for this subscription (table, action and filters)."""
    if subscription.schema not in ("*", data["schema"]):
        return False
    if subscription.table not in ("*", data["table"]):
        return False
    if data["type"] not in subscription.actions:
        return False
    if not subscription.conditions:
        return True
    row = data.get("old_record") if data["type"] == "DELETE" else data.get("record")
    if not row:
        return False
    types = {column["name"]: column["type"] for column in data.get("columns") or []}
    for condition in subscription.conditions:
        if condition.column not in row:
            return False
        result = _holds(condition, types.get(condition.column, "text"), row[condition.column])
        if result == condition.negate:
            return False
    return True
