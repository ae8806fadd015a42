"""The emulator's pure protocol pieces: framing, binding ids, filter parsing and matching."""

from __future__ import annotations

import orjson
import pytest

from workers.emulator.bindings import FilterParseError, binding_id, matches, parse_binding
from workers.emulator.phoenix import (
    V1,
    V2,
    Frame,
    UnsupportedVsn,
    decode_frame,
    encode_frame,
    serializer_for,
)

COLUMNS = [
    {"name": "id", "type": "int8"},
    {"name": "status", "type": "text"},
    {"name": "amount", "type": "numeric"},
    {"name": "at", "type": "timestamptz"},
]


def _data(
    kind: str, record: dict[str, object], old: dict[str, object] | None = None
) -> dict[str, object]:
    data: dict[str, object] = {
        "schema": "public",
        "table": "calls",
        "type": kind,
        "columns": COLUMNS,
    }
    if kind != "DELETE":
        data["record"] = record
    if kind != "INSERT":
        data["old_record"] = old or {}
    return data


def test_vsn_selects_the_serializer() -> None:
    assert (
        serializer_for(None) == V1
        and serializer_for("1.0.0") == V1
        and serializer_for("2.0.0") == V2
    )
    with pytest.raises(UnsupportedVsn):
        serializer_for("3.0.0")


def test_v1_output_has_exactly_four_keys_and_no_join_ref() -> None:
    text = encode_frame(Frame("realtime:x", "phx_reply", {"status": "ok"}, "1", join_ref="1"), V1)
    assert set(orjson.loads(text)) == {"topic", "event", "payload", "ref"}
    assert orjson.loads(encode_frame(Frame("t", "postgres_changes", {}, None, None), V2)) == [
        None,
        None,
        "t",
        "postgres_changes",
        {},
    ]


def test_frames_missing_a_required_key_are_dropped() -> None:
    assert decode_frame('{"topic":"t","event":"e","payload":{}}', V1) is None
    assert decode_frame("not json", V1) is None
    assert decode_frame('[null,"1","t","e"]', V2) is None
    frame = decode_frame('{"topic":"t","event":"e","payload":{},"ref":3}', V1)
    assert frame is not None and frame.ref == "3" and frame.join_ref is None


def test_binding_ids_are_stable_and_never_zero() -> None:
    binding = {"event": "*", "schema": "public", "table": "calls"}
    assert binding_id(binding) == binding_id(dict(reversed(list(binding.items()))))
    assert binding_id(binding) != binding_id({**binding, "table": "events"})
    assert all(0 < binding_id({"table": f"t{n}"}) < 2**27 for n in range(200))


def test_event_and_table_selection() -> None:
    inserts = parse_binding({"event": "insert", "schema": "public", "table": "calls"})
    anything = parse_binding({"event": "bogus", "table": "*"})
    assert matches(inserts, _data("INSERT", {"id": 1}))
    assert not matches(inserts, _data("UPDATE", {"id": 1}))
    assert matches(anything, _data("DELETE", {}, {"id": 1}))
    assert not matches(parse_binding({"event": "*", "table": "events"}), _data("INSERT", {"id": 1}))


def test_filters_compare_in_the_column_type() -> None:
    def hits(filter_text: str, record: dict[str, object]) -> bool:
        return matches(
            parse_binding({"event": "*", "table": "calls", "filter": filter_text}),
            _data("INSERT", record),
        )

    assert hits("id=eq.42", {"id": 42}) and not hits("id=eq.42", {"id": 43})
    assert hits("id=gt.9", {"id": 10}), "numbers, not text: 10 > 9"
    assert hits("amount=lte.2.50", {"amount": 2.5})
    assert hits("status=in.(a,b)", {"status": "b"}) and not hits("status=in.(a,b)", {"status": "c"})
    assert hits("status=neq.a", {"status": "b"}) and hits("status=not.eq.a", {"status": "b"})
    assert hits("at=gte.2025-11-03T09:00:00Z", {"at": "2025-11-03T10:00:00+01:00"})
    assert hits("status=is.null", {"status": None})
    assert hits("id=gt.1,status=eq.a", {"id": 2, "status": "a"}) and not hits(
        "id=gt.1,status=eq.a", {"id": 2, "status": "b"}
    )
    assert not hits("missing=eq.1", {"id": 1}), "a filter on an absent column is false"


def test_delete_filters_look_at_the_old_record() -> None:
    binding = parse_binding({"event": "DELETE", "table": "calls", "filter": "status=eq.a"})
    assert matches(binding, _data("DELETE", {}, {"id": 1, "status": "a"}))
    assert not matches(binding, _data("DELETE", {}, {"id": 1}))


def test_malformed_filters_are_refused() -> None:
    for text in (
        "status",
        "status=eq",
        "status=like",
        "status=in.a,b",
        "status=bogus.x",
        "status=is.maybe",
    ):
        with pytest.raises(FilterParseError):
            parse_binding({"table": "calls", "filter": text})
    with pytest.raises(FilterParseError):
        parse_binding(
            {"table": "calls", "filter": "id=in.(" + ",".join(map(str, range(101))) + ")"}
        )
