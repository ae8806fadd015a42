"""The bodies of ``/metrics``, ``/healthz`` and ``/readyz``, independent of the web framework.

Both HTTP front ends (the ingest worker's ``health_server`` and the stream worker's Faust views)
answer from these functions, so the two workers' endpoints behave identically.
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest

from workers.observability.readiness import Readiness

METRICS_PATH = "/metrics"
HEALTH_PATH = "/healthz"
READY_PATH = "/readyz"

JSON = "application/json"


@dataclass(frozen=True)
class ProbeResponse:
    status: int
    content_type: str
    body: bytes


def metrics_response(registry: CollectorRegistry = REGISTRY) -> ProbeResponse:
    return ProbeResponse(200, CONTENT_TYPE_LATEST, generate_latest(registry))


def health_response(readiness: Readiness) -> ProbeResponse:
    if readiness.alive:
        return ProbeResponse(200, JSON, orjson.dumps({"status": "ok"}))
    return ProbeResponse(503, JSON, orjson.dumps({"status": "failed", "reason": readiness.failure}))


def ready_response(readiness: Readiness) -> ProbeResponse:
    body: dict[str, object] = {
        "status": "ready" if readiness.ready else "not ready",
        "conditions": readiness.conditions(),
    }
    away = readiness.dependencies_away()
    if away:
        body["reconnecting_to"] = away
    if readiness.failure is not None:
        body["reason"] = readiness.failure
    return ProbeResponse(200 if readiness.ready else 503, JSON, orjson.dumps(body))
