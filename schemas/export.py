"""Write the JSON Schema of the boundary models into ``schemas/jsonschema/``.

Run ``python -m schemas.export`` after changing a model; a test fails while the files are stale.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from schemas.changes import ChangeBatch, ChangeRecord, RejectedRecord
from schemas.updates import dashboard_update_adapter

SCHEMA_DIR = Path(__file__).parent / "jsonschema"


def rendered_schemas() -> dict[str, str]:
    schemas: dict[str, dict[str, Any]] = {
        "change_record.json": ChangeRecord.model_json_schema(by_alias=True),
        "change_batch.json": ChangeBatch.model_json_schema(by_alias=True),
        "rejected_record.json": RejectedRecord.model_json_schema(by_alias=True),
        "dashboard_update.json": dashboard_update_adapter.json_schema(by_alias=True),
    }
    return {
        name: json.dumps(body, indent=2, sort_keys=True) + "\n" for name, body in schemas.items()
    }


def main() -> None:
    SCHEMA_DIR.mkdir(exist_ok=True)
    for name, text in rendered_schemas().items():
        (SCHEMA_DIR / name).write_text(text)
        print(f"wrote {SCHEMA_DIR / name}")


if __name__ == "__main__":
    main()
