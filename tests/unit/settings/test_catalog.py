"""How the settings catalog names, describes and documents a settings class's variables."""

from __future__ import annotations

from typing import Literal

import faust
import pytest
from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from workers.settings_catalog import (
    FAUST_SETTINGS,
    REQUIRED,
    SettingField,
    accepted_values,
    faust_fields,
    variable_names,
)
from workers.settings_table import render_table


class Sample(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SAMPLE_")

    plain: int = Field(default=3, ge=1, le=9, description="A | piped description.")
    aliased: str | None = Field(default=None, validation_alias="OTHER_NAME")
    choices: Literal["a", "b"] = Field(default="a", validation_alias=AliasChoices("C1", "C2"))
    secret: SecretStr
    flag: bool = True
    slot: str = Field(default="x", pattern=r"^[a-z]+$")


def _names(field: str) -> list[str]:
    return variable_names(Sample, field, Sample.model_fields[field])


def test_variable_names_follow_pydantic_settings_lookup() -> None:
    assert _names("plain") == ["SAMPLE_PLAIN"]
    assert _names("aliased") == ["OTHER_NAME"]
    assert _names("choices") == ["C1", "C2"]


def test_accepted_values() -> None:
    fields = Sample.model_fields
    assert accepted_values(fields["plain"]) == "integer, ≥ 1, ≤ 9"
    assert accepted_values(fields["aliased"]) == "text"
    assert accepted_values(fields["choices"]) == "a | b"
    assert accepted_values(fields["secret"]) == "secret text"
    assert accepted_values(fields["flag"]) == "true | false"
    assert accepted_values(fields["slot"]) == "text matching `^[a-z]+$`"


def test_table_escapes_pipes_and_marks_required() -> None:
    table = render_table(
        [
            SettingField("B_VAR", REQUIRED, "a | b", "A | piped.", "workers.x.Sample"),
            SettingField("A_VAR", "7", "integer", "", "workers.x.Sample"),
        ]
    )
    rows = table.splitlines()
    assert rows[2] == "| `A_VAR` | `7` | integer | `x.Sample` |  |"
    assert rows[3] == "| `B_VAR` | (required) | a \\| b | `x.Sample` | A \\| piped. |"


def test_table_merges_a_variable_read_by_two_classes() -> None:
    table = render_table(
        [
            SettingField("V", "1", "integer", "", "workers.b.Second"),
            SettingField("V", "1", "integer", "Said once.", "workers.a.First"),
        ]
    )
    assert table.splitlines()[2] == "| `V` | `1` | integer | `a.First`, `b.Second` | Said once. |"


def test_faust_variables_are_read_by_faust(monkeypatch: pytest.MonkeyPatch) -> None:
    fields = faust_fields()
    assert fields
    for field in fields:
        monkeypatch.setenv(field.variable, "worker-7")
    app = faust.App("catalog-check", broker="kafka://127.0.0.1:1")
    for name in FAUST_SETTINGS:
        assert getattr(app.conf, name) == "worker-7"
