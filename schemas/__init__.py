"""Boundary models (pydantic v2), the SQL schema and the exported JSON Schema."""

from schemas.changes import (
    TRACKED_TABLES,
    ChangeBatch,
    ChangeOp,
    ChangeRecord,
    ChangeSource,
    RejectedRecord,
    RejectReason,
)
from schemas.updates import DashboardUpdate, KpiSnapshot, dashboard_update_adapter

__all__ = [
    "TRACKED_TABLES",
    "ChangeBatch",
    "ChangeOp",
    "ChangeRecord",
    "ChangeSource",
    "DashboardUpdate",
    "KpiSnapshot",
    "RejectReason",
    "RejectedRecord",
    "dashboard_update_adapter",
]
