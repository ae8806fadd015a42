"""Which ``pulse bench`` runs fill the pipeline's table of the history (``cli.bench_cmd``)."""

from __future__ import annotations

from workers.cli.bench_cmd import has_pipeline_figures


def test_a_recovery_run_alone_records_its_figures() -> None:
    assert has_pipeline_figures(["recovery"])
    assert has_pipeline_figures(["stream", "peer"])
    assert has_pipeline_figures(["fanout", "memory"])


def test_a_fanout_run_alone_fills_only_its_own_table() -> None:
    assert not has_pipeline_figures(["fanout"])
