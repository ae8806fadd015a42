"""Every environment variable the workers read, found by importing the package's settings classes.

The README's configuration table, the docker-compose test and the Helm chart test all start from
this list, so a setting added anywhere under ``workers/`` shows up in all three without a
hand-kept registry.
"""

from __future__ import annotations

import importlib
import inspect
from dataclasses import dataclass
from pathlib import Path
from types import UnionType
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import AliasChoices, AliasPath
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined
from pydantic_settings import BaseSettings

import workers

REQUIRED = "(required)"


@dataclass(frozen=True)
class SettingField:
    variable: str
    default: str
    accepts: str
    description: str
    owner: str  # "module.ClassName"


def _modules_mentioning(package: str, words: tuple[str, ...]) -> list[str]:
    # Reading the source first keeps the walk from importing every module of the package
    # (a Faust app, the demo's console...) just to look for settings classes.
    root = importlib.import_module(package)
    names: list[str] = []
    for directory in root.__path__:
        base = Path(directory)
        for path in sorted(base.rglob("*.py")):
            source = path.read_text(encoding="utf-8")
            if not any(word in source for word in words):
                continue
            parts = path.relative_to(base).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            names.append(".".join((package, *parts)))
    return names


def settings_classes(package: str = workers.__name__) -> list[type[BaseSettings]]:
    """BaseSettings subclasses defined in ``package`` and its subpackages, in module order."""
    found: list[type[BaseSettings]] = []
    for name in _modules_mentioning(package, ("BaseSettings", "validation_alias")):
        module = importlib.import_module(name)
        for _, member in inspect.getmembers(module, inspect.isclass):
            if (
                issubclass(member, BaseSettings)
                and member is not BaseSettings
                and member.__module__ == module.__name__
            ):
                found.append(member)
    return found


def variable_names(cls: type[BaseSettings], name: str, field: FieldInfo) -> list[str]:
    """The environment variables that set ``field``, as pydantic-settings looks them up."""
    alias = field.validation_alias
    if isinstance(alias, str):
        return [alias]
    if isinstance(alias, AliasChoices):
        return [choice for choice in alias.choices if isinstance(choice, str)]
    if isinstance(alias, AliasPath):
        return [str(alias.path[0])]
    if field.alias:
        return [field.alias]
    prefix = cls.model_config.get("env_prefix", "")
    return [f"{prefix}{name}".upper()]


def _default_text(field: FieldInfo) -> str:
    if field.is_required():
        return REQUIRED
    if field.default_factory is not None:
        return "(computed)"
    if field.default is None or field.default is PydanticUndefined:
        return "(unset)"
    if field.default == "":
        return '""'
    if isinstance(field.default, bool):
        return "true" if field.default else "false"
    return str(field.default)


def _base_type(annotation: Any) -> Any:
    args = [arg for arg in get_args(annotation) if arg is not type(None)]
    if get_origin(annotation) in (Union, UnionType) and len(args) == 1:
        return args[0]
    return annotation


def _bounds(field: FieldInfo) -> list[str]:
    words = {"ge": "≥", "gt": ">", "le": "≤", "lt": "<"}
    found: list[str] = []
    for item in field.metadata:
        for attribute, symbol in words.items():
            value = getattr(item, attribute, None)
            if value is not None:
                found.append(f"{symbol} {value}")
    return found


def _pattern(field: FieldInfo) -> str | None:
    for item in field.metadata:
        pattern = getattr(item, "pattern", None)
        if isinstance(pattern, str):
            return pattern
    return None


def accepted_values(field: FieldInfo) -> str:
    """A short human description of what the variable may hold."""
    annotation = _base_type(field.annotation)
    if get_origin(annotation) is Literal:
        return " | ".join(str(value) for value in get_args(annotation))
    if annotation is bool:
        return "true | false"
    if annotation in (int, float):
        kind = "integer" if annotation is int else "number"
        return ", ".join([kind, *_bounds(field)])
    pattern = _pattern(field)
    if pattern is not None:
        return f"text matching `{pattern}`"
    if isinstance(annotation, type):
        plain = {"str": "text", "SecretStr": "secret text", "Path": "path"}
        return plain.get(annotation.__name__, annotation.__name__)
    return str(annotation)


def settings_fields(package: str = workers.__name__) -> list[SettingField]:
    fields: list[SettingField] = []
    for cls in settings_classes(package):
        owner = f"{cls.__module__}.{cls.__qualname__}"
        for name, field in cls.model_fields.items():
            for variable in variable_names(cls, name, field):
                fields.append(
                    SettingField(
                        variable=variable,
                        default=_default_text(field),
                        accepts=accepted_values(field),
                        description=" ".join((field.description or "").split()),
                        owner=owner,
                    )
                )
    return fields + faust_fields()


# Faust settings the deployment sets through Faust's own environment variable (Faust reads them
# in ``Settings``, before any keyword argument of ``faust.App``), with why we set them.
FAUST_SETTINGS = {
    "consumer_group_instance_id": "Static group membership (the Helm chart uses the pod name): "
    "a restarted worker gets its partitions back without a group-wide rebalance. Unset: "
    "dynamic membership.",
}


def faust_fields() -> list[SettingField]:
    from faust import Settings

    fields: list[SettingField] = []
    for name, description in FAUST_SETTINGS.items():
        param = Settings.SETTINGS[name]
        if param.env_name is None:
            raise LookupError(f"Faust reads no environment variable for {name}")
        fields.append(
            SettingField(
                variable=param.env_name,
                default="(unset)" if param.default is None else str(param.default),
                accepts="text",
                description=description,
                owner=f"faust.Settings.{name}",
            )
        )
    return fields


def known_variables(package: str = workers.__name__) -> set[str]:
    return {field.variable for field in settings_fields(package)}
