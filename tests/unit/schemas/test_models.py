"""The boundary models: JSON Schema files are current, updates discriminate on ``type``."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from schemas.export import SCHEMA_DIR, rendered_schemas
from schemas.updates import UPDATE_TYPES, KpiUpdated, dashboard_update_adapter


def test_exported_json_schema_is_current() -> None:
    for name, text in rendered_schemas().items():
        path = SCHEMA_DIR / name
        assert path.exists(), f"{path} missing: run `python -m schemas.export`"
        assert path.read_text() == text, f"{path} is stale: run `python -m schemas.export`"


def test_every_update_type_has_a_model_carrying_site_id() -> None:
    schema = dashboard_update_adapter.json_schema()
    mapping = schema["discriminator"]["mapping"]
    assert set(mapping) == set(UPDATE_TYPES)
    for ref in mapping.values():
        model = schema["$defs"][ref.rsplit("/", 1)[1]]
        assert "site_id" in model["required"] and "seq" in model["required"]


def test_updates_round_trip_through_the_union() -> None:
    now = datetime(2025, 1, 1, tzinfo=UTC)
    update = KpiUpdated(site_id="s", seq=3, emitted_at=now, kpis={"day": "2025-01-01", "events": 2})  # type: ignore[arg-type]
    parsed = dashboard_update_adapter.validate_json(update.model_dump_json())
    assert isinstance(parsed, KpiUpdated) and parsed.kpis.events == 2
    with pytest.raises(ValidationError):
        dashboard_update_adapter.validate_python(
            {"type": "nope", "site_id": "s", "seq": 1, "emitted_at": now}
        )
