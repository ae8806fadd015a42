"""The peer stage's checks and figures, and its skip when Quix Streams is not installed."""

from __future__ import annotations

import asyncio

import pytest

from workers.bench import peer
from workers.bench.peer import PeerDisagrees, check_totals, peer_figures, peer_stage
from workers.bench.results import BenchFigures
from workers.bench.timing import ProcessRun, StageRate
from workers.services.embedded import Endpoints
from workers.settings import KafkaSettings

TOTALS = {("a", "2026-11-20"): (1, 2, 3, 4, 1), ("b", "2026-11-20"): (2, 0, 0, 0, 0)}


def test_equal_totals_pass() -> None:
    check_totals(TOTALS, dict(TOTALS))


def test_different_totals_fail_loudly_and_say_where() -> None:
    other = dict(TOTALS)
    other[("b", "2026-11-20")] = (2, 1, 0, 0, 0)
    with pytest.raises(PeerDisagrees, match=r"1 of 2 site-days: b 2026-11-20: worker"):
        check_totals(TOTALS, other)


def test_no_worker_totals_is_no_agreement() -> None:
    with pytest.raises(PeerDisagrees, match="nothing to compare"):
        check_totals({}, {})


def test_ratios_are_worker_over_peer_for_rates_and_peer_over_worker_for_cpu() -> None:
    worker = ProcessRun(StageRate(1000, 0.05), 40.0, TOTALS)  # 20,000 changes/s
    quix = ProcessRun(StageRate(1000, 0.1), 100.0, TOTALS)  # 10,000 changes/s
    figures = BenchFigures(partitions=8)
    note = peer_figures(worker, quix, figures)
    assert figures.peer_rate == pytest.approx(10_000)
    assert figures.peer_ratio == pytest.approx(2.0)
    assert figures.peer_cpu_ratio == pytest.approx(2.5)
    assert "10,000 changes/s, worker/peer 2.00" in note
    assert "peer/worker 2.50" in note


def test_without_quix_streams_the_stage_says_how_to_install_it_and_is_skipped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(peer, "peer_installed", lambda: False)
    lines: list[str] = []
    figures = BenchFigures(partitions=8)
    worker = ProcessRun(StageRate(1000, 0.05), 40.0, TOTALS)
    services = Endpoints(dsn="postgresql://nowhere", bootstrap_servers="nowhere:9092", broker="-")
    kafka = KafkaSettings(KAFKA_BOOTSTRAP_SERVERS="nowhere:9092")
    result = asyncio.run(peer_stage(services, kafka, 1000, worker, figures, lines.append))
    assert result is None
    assert lines == [
        "peer: skipped, Quix Streams is not installed (install the extra: pip install -e '.[peer]')"
    ]
    assert (figures.peer_rate, figures.peer_ratio, figures.peer_cpu_ratio) == (None, None, None)


def test_the_peer_figures_reach_the_history_through_the_notes_not_new_columns() -> None:
    figures = BenchFigures(partitions=8, peer_rate=10_000.0, peer_ratio=2.0, peer_cpu_ratio=2.5)
    assert figures.row_cells() == BenchFigures(partitions=8).row_cells()
    assert figures.as_json()["peer_ratio"] == 2.0
