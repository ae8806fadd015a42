"""Reading the children's own statements: the worker's progress log and its /metrics text."""

from __future__ import annotations

from workers.demo.launch import worker_has_partitions
from workers.demo.observers import metric_value

PROGRESS_EMPTY = '{"assigned": [], "event": "stream progress", "level": "info"}'
PROGRESS_ASSIGNED = '{"assigned": [0, 1], "event": "stream progress", "level": "info"}'


def test_the_worker_is_ready_once_its_progress_log_lists_partitions() -> None:
    assert not worker_has_partitions("[INFO] [^Worker]: Starting...\n" + PROGRESS_EMPTY)
    assert worker_has_partitions(
        "\n".join(["[INFO] [^Worker]: Ready", PROGRESS_EMPTY, PROGRESS_ASSIGNED])
    )
    assert not worker_has_partitions('not json but mentions "stream progress"')


def test_metric_value_reads_a_counter_from_the_exposition() -> None:
    exposition = (
        "# HELP pulse_dedup_hits_total Changes dropped as re-deliveries of a seen event ID.\n"
        "# TYPE pulse_dedup_hits_total counter\n"
        "pulse_dedup_hits_total 150.0\n"
        "pulse_dedup_hits_created 1.7e+09\n"
    )
    assert metric_value(exposition, "pulse_dedup_hits_total") == 150.0
    assert metric_value(exposition, "pulse_rejects_total") is None
