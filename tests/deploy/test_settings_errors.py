"""A wrong setting fails at start with a message that names the variable, for every setting."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from workers.settings_catalog import SettingField, settings_classes, settings_fields


def _invalid_value(field: SettingField) -> str | None:
    accepts = field.accepts
    if accepts.startswith(("integer", "number")) or accepts == "true | false" or " | " in accepts:
        return "definitely-not-valid"
    if accepts.startswith("text matching"):
        return "NOT VALID !"
    return None


CHECKABLE = [f for f in settings_fields() if _invalid_value(f) is not None]


def test_some_settings_are_checkable() -> None:
    assert len(CHECKABLE) >= 5


@pytest.mark.parametrize("field", CHECKABLE, ids=lambda f: f.variable)
def test_invalid_value_names_the_variable(
    field: SettingField, monkeypatch: pytest.MonkeyPatch
) -> None:
    (cls,) = [c for c in settings_classes() if f"{c.__module__}.{c.__qualname__}" == field.owner]
    monkeypatch.setenv(field.variable, _invalid_value(field) or "")
    with pytest.raises(ValidationError) as caught:
        cls()
    assert field.variable in str(caught.value)
