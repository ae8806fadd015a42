"""The chart's and compose's liveness checks fit the limits after which ``/healthz`` fails.

- A loop stall shorter than ``PULSE_LOOP_STALL_LIMIT_S`` must not restart a process through
  probe timeouts alone: the probe's failure window (period x threshold) is at least the limit.
- A worker that stops fetching is restarted by its liveness probe before ``PulseWorkerStalled``
  pages: ``PULSE_FETCH_STALL_LIMIT_S`` plus the failure window stays within the alert's ``for``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from workers.settings import LivenessSettings
from workers.stream.settings import StreamSettings

ROOT = Path(__file__).resolve().parents[2]
UNIT_S = {"s": 1, "m": 60, "h": 3600}


def seconds(duration: str) -> float:
    match = re.fullmatch(r"(\d+)([smh])", duration)
    assert match, f"unexpected duration {duration!r}"
    return int(match[1]) * UNIT_S[match[2]]


def _load(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / name).read_text())
    return loaded


def test_the_charts_liveness_window_fits_the_limits() -> None:
    values = _load("helm/values.yaml")
    liveness = values["probes"]["liveness"]
    window = liveness["periodSeconds"] * liveness["failureThreshold"]
    assert window >= LivenessSettings().loop_stall_limit_s
    alert_after = seconds(values["prometheusRule"]["stalledWorker"]["for"])
    assert StreamSettings().fetch_stall_limit_s + window <= alert_after


def test_composes_healthcheck_window_fits_the_loop_limit() -> None:
    compose = _load("docker-compose.yml")
    for name in ("ingest", "gateway", "worker-1", "worker-2"):
        check = compose["services"][name]["healthcheck"]
        assert check["test"][-1] == "workers.observability.container_health", name
        window = seconds(check["interval"]) * check["retries"]
        assert window >= LivenessSettings().loop_stall_limit_s, name
