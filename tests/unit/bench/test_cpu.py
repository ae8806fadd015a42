"""CPU per change of the stream stage's two sides, and how the bench compares them."""

from __future__ import annotations

from workers.bench.run import cpu_comparison, floor_figures, stock_faust_figures
from workers.bench.timing import StageRate


def test_cpu_per_change_needs_both_a_cpu_time_and_changes() -> None:
    assert StageRate(200_000, 4.0, 2.0).cpu_per_change_us == 10.0
    assert StageRate(200_000, 4.0).cpu_per_change_us is None
    assert StageRate(0, 0.0, 1.0).cpu_per_change_us is None


def test_the_comparison_reads_passthrough_over_worker() -> None:
    passthrough = StageRate(100_000, 2.0, 1.0).cpu_per_change_us
    note = cpu_comparison(passthrough, 50.0)
    assert note == "CPU per change: passthrough 10.0 us, stream worker 50.0 us (ratio 0.20)"
    assert cpu_comparison(StageRate(100_000, 2.0).cpu_per_change_us, 50.0) is None
    assert cpu_comparison(passthrough, None) is None


def test_a_floors_note_gives_its_rate_and_cpu_ratios_to_passthrough() -> None:
    passthrough = StageRate(100_000, 2.0, 1.5)  # 50,000 changes/s, 15 us per change
    assert floor_figures("state", 15_000.0, passthrough, 50.0) == (
        "state 15,000 changes/s, ratio 0.30 (CPU ratio 0.30)"
    )
    assert floor_figures("framework", 25_000.0, StageRate(100_000, 2.0), None) == (
        "framework 25,000 changes/s, ratio 0.50 (CPU ratio -)"
    )


def test_stock_faust_figures_compare_the_state_floor_with_it() -> None:
    assert stock_faust_figures("exactly_once", 2_000.0, 400.0, 24_000.0, 40.0) == (
        "exactly_once 2,000 changes/s, state floor 12.00x its rate and 10.00x less CPU per change"
    )
    assert stock_faust_figures("at_least_once", 3_000.0, None, None, 40.0).endswith(
        "state floor -x its rate and -x less CPU per change"
    )
