"""Dashboard updates as the JSON objects the worker publishes, built by functions generated from
the ``schemas.updates`` models: an update cannot carry a field its model lacks, nor miss one.

The worker builds updates in its hottest loop, so a builder is a plain function returning a dict
(no model is constructed or validated). Its keyword parameters are the model's fields; one that
is missing or not a field raises ``TypeError``. A field with a default may be left out; one whose
default is made by a factory must be given, so no builder hands out a shared mutable default.

Keys come in the order the worker has always written them: ``type``, the model's own fields,
then ``event_ids``, ``commit_timestamp``, ``site_id``, ``emitted_at`` and ``seq``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from schemas.updates import (
    CallCreated,
    CallUpdated,
    ChartRefresh,
    ConversionSealed,
    DataFreshness,
    EventCreated,
    IntentCreated,
    IntentUpdated,
    KpiUpdated,
    SessionHeartbeat,
    UpdateBase,
)

Builder = Callable[..., dict[str, Any]]

ENVELOPE_ORDER: tuple[str, ...] = ("event_ids", "commit_timestamp", "site_id", "emitted_at", "seq")


def builder(model: type[UpdateBase]) -> Builder:
    """The function that builds ``model``'s JSON object from keyword arguments."""
    fields = model.model_fields
    if set(ENVELOPE_ORDER) != set(UpdateBase.model_fields):
        raise TypeError("ENVELOPE_ORDER must name exactly the fields of UpdateBase")
    kind = fields["type"].default
    names = [name for name in fields if name != "type" and name not in ENVELOPE_ORDER] + list(
        ENVELOPE_ORDER
    )
    defaults: dict[str, Any] = {}
    parameters = []
    for name in names:
        field = fields[name]
        if field.is_required() or field.default_factory is not None:
            parameters.append(name)
        else:
            defaults[f"_{name}_default"] = field.default
            parameters.append(f"{name}=_{name}_default")
    items = ", ".join([f"'type': {kind!r}", *(f"{name!r}: {name}" for name in names)])
    source = f"def {kind}(*, {', '.join(parameters)}):\n    return {{{items}}}\n"
    # Compiled from source, as dataclasses makes its __init__: a call costs what the dict literal
    # costs, and Python's own argument binding refuses a missing or unknown field.
    namespace: dict[str, Any] = dict(defaults)
    exec(source, namespace)
    built: Builder = namespace[kind]
    return built


session_heartbeat = builder(SessionHeartbeat)
event_created = builder(EventCreated)
call_created = builder(CallCreated)
call_updated = builder(CallUpdated)
intent_created = builder(IntentCreated)
intent_updated = builder(IntentUpdated)
conversion_sealed = builder(ConversionSealed)
kpi_updated = builder(KpiUpdated)
data_freshness = builder(DataFreshness)
chart_refresh = builder(ChartRefresh)
