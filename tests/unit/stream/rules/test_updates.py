"""The update builders follow the ``schemas.updates`` models field for field."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from schemas.updates import (
    DataFreshness,
    KpiSnapshot,
    UpdateBase,
    dashboard_update_adapter,
)
from workers.stream.rules import updates
from workers.stream.rules.updates import ENVELOPE_ORDER, Builder, builder

MOMENT = "2026-11-23T10:07:00.000000Z"
ENVELOPE: dict[str, Any] = {
    "event_ids": ["e1"],
    "commit_timestamp": MOMENT,
    "site_id": "site",
    "emitted_at": MOMENT,
    "seq": 7,
}
ROW = {"id": "r1", "session_id": "s1", "status": "open", "created_at": MOMENT, "updated_at": MOMENT}

# One payload per builder the worker uses: every field of the model, as the worker fills it.
PAYLOADS: dict[str, tuple[Builder, dict[str, Any]]] = {
    "session_heartbeat": (
        updates.session_heartbeat,
        {"session_id": "s1", "started_at": MOMENT, "last_seen_at": MOMENT},
    ),
    "event_created": (
        updates.event_created,
        {"event": {"id": "e", "session_id": "s1", "name": "view", "created_at": MOMENT}},
    ),
    "call_created": (updates.call_created, {"call": ROW}),
    "call_updated": (updates.call_updated, {"call": ROW, "deleted": True}),
    "intent_created": (updates.intent_created, {"intent": ROW}),
    "intent_updated": (updates.intent_updated, {"intent": ROW, "deleted": False}),
    "conversion_sealed": (updates.conversion_sealed, {"intent_id": "i", "sealed_at": MOMENT}),
    "kpi_updated": (updates.kpi_updated, {"kpis": KpiSnapshot(day="2026-11-23").model_dump()}),
    "data_freshness": (updates.data_freshness, {"last_change_at": MOMENT, "lag_ms": 1.5}),
    "chart_refresh": (
        updates.chart_refresh,
        {"day": "2026-11-23", "bucket_minutes": 5, "buckets": []},
    ),
}


@pytest.mark.parametrize("kind", PAYLOADS)
def test_a_built_update_is_its_model_with_every_field(kind: str) -> None:
    build, payload = PAYLOADS[kind]
    built = build(**payload, **ENVELOPE)
    model = dashboard_update_adapter.validate_json(orjson.dumps(built))
    assert model.type == kind
    assert list(built) == ["type", *payload, *ENVELOPE_ORDER]
    assert set(built) == set(type(model).model_fields)


@pytest.mark.parametrize("kind", PAYLOADS)
def test_a_field_the_model_lacks_or_misses_is_refused(kind: str) -> None:
    build, payload = PAYLOADS[kind]
    with pytest.raises(TypeError):
        build(**payload, **ENVELOPE, surplus=1)
    with pytest.raises(TypeError):
        build(**payload, **{k: v for k, v in ENVELOPE.items() if k != "site_id"})


def test_a_default_may_be_left_out_but_not_a_factory_made_one() -> None:
    payload = {"day": "2026-11-23", "buckets": []}
    assert updates.chart_refresh(**payload, **ENVELOPE)["bucket_minutes"] == 5
    with pytest.raises(TypeError):
        updates.chart_refresh(**payload, **{k: v for k, v in ENVELOPE.items() if k != "event_ids"})


def test_the_envelope_order_names_the_base_fields() -> None:
    assert set(ENVELOPE_ORDER) == set(UpdateBase.model_fields)


def test_a_new_model_field_reaches_its_builder() -> None:
    class Wider(DataFreshness):
        source: str

    with pytest.raises(TypeError):
        builder(Wider)(last_change_at=MOMENT, lag_ms=0.0, **ENVELOPE)
    wide = builder(Wider)(last_change_at=MOMENT, lag_ms=0.0, source="wal", **ENVELOPE)
    assert wide["source"] == "wal"
