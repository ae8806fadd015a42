"""Reconnect delays and the one-line-per-state-change link to a dependency."""

from __future__ import annotations

from typing import Any

import pytest
from aiokafka.errors import KafkaConnectionError, KafkaError
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import REGISTRY

from workers.observability.probes import ready_response
from workers.observability.readiness import RECOVERED, SOURCE_LIVE, Readiness
from workers.resilience.backoff import Backoff, BackoffPolicy, backoff_delay
from workers.resilience.link import DependencyLink, one_line_error


def test_delays_double_up_to_the_cap_without_jitter() -> None:
    policy = BackoffPolicy(initial_s=0.25, maximum_s=2.0, jitter=0.0)
    backoff = Backoff(policy, draw=lambda: 0.0)
    assert [backoff.next_delay() for _ in range(6)] == [0.25, 0.5, 1.0, 2.0, 2.0, 2.0]
    backoff.reset()
    assert backoff.next_delay() == 0.25


@given(attempt=st.integers(1, 10_000), draw=st.floats(0, 1, exclude_max=True))
def test_a_delay_stays_within_its_jittered_bounds(attempt: int, draw: float) -> None:
    policy = BackoffPolicy(initial_s=0.1, maximum_s=5.0, jitter=0.5)
    ceiling = 5.0 if attempt > 64 else min(5.0, 0.1 * 2 ** (attempt - 1))
    delay = backoff_delay(policy, attempt, lambda: draw)
    assert ceiling * 0.5 <= delay <= ceiling <= 5.0


def test_an_inconsistent_policy_is_refused() -> None:
    with pytest.raises(ValueError, match="invalid backoff policy"):
        BackoffPolicy(initial_s=5.0, maximum_s=1.0)


def sample(name: str) -> float | None:
    return REGISTRY.get_sample_value(name, {"component": "unit", "dependency": "postgres"})


class Lines:
    def __init__(self) -> None:
        self.lines: list[tuple[str, str, dict[str, Any]]] = []

    def warning(self, event: str, **fields: Any) -> None:
        self.lines.append(("warning", event, fields))

    def info(self, event: str, **fields: Any) -> None:
        self.lines.append(("info", event, fields))


def test_an_outage_is_two_lines_one_reconnect_and_readiness_meanwhile() -> None:
    readiness = Readiness()
    readiness.set(RECOVERED)
    readiness.set(SOURCE_LIVE)
    lines = Lines()
    now = [100.0]
    link = DependencyLink("unit", "postgres", readiness, lines, clock=lambda: now[0])
    before = sample("pulse_reconnects_total") or 0.0

    link.lost(OSError("connection refused\n\tIs the server running?"))
    for _ in range(5):
        link.lost(OSError("still refused"))
    assert not readiness.ready and readiness.dependencies_away() == ["postgres"]
    assert b'"reconnecting_to":["postgres"]' in ready_response(readiness).body
    assert sample("pulse_dependency_up") == 0
    now[0] = 103.5
    link.restored()
    link.restored()

    assert readiness.ready and ready_response(readiness).status == 200
    assert sample("pulse_dependency_up") == 1
    assert (sample("pulse_reconnects_total") or 0.0) == before + 1
    assert lines.lines == [
        (
            "warning",
            "postgres lost; reconnecting",
            {"error": "OSError: connection refused Is the server running?"},
        ),
        ("info", "postgres reconnected", {"away_s": 3.5, "failed_attempts": 5}),
    ]


def test_an_error_is_one_line_naming_its_class_once() -> None:
    assert one_line_error(OSError("connection\n  refused")) == "OSError: connection refused"
    assert one_line_error(TimeoutError()) == "TimeoutError"
    assert one_line_error(KafkaError("no metadata")) == "KafkaError: no metadata"
    assert one_line_error(KafkaConnectionError()) == "KafkaConnectionError"
