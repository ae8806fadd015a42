from workers.bench.group import GroupRun, group_note
from workers.bench.join_pause import JoinPause
from workers.bench.latency import Latency
from workers.bench.latency_stage import (
    LegResult,
    WorkerLoad,
    combined,
    leg_note,
    record,
    transaction_size,
    writers,
)
from workers.bench.memory_stage import RssReading, steps
from workers.bench.memory_stage import record as record_memory
from workers.bench.results import BenchFigures
from workers.bench.timing import StageRate
from workers.traffic import TrafficSummary


def test_transactions_keep_a_hundred_commits_a_second_at_any_rate() -> None:
    assert transaction_size(1_000) == 10
    assert transaction_size(10_000) == 100
    assert transaction_size(20) == 1


def leg(rate: float, p99: float) -> LegResult:
    latency = Latency(100, 10.0, 50.0, p99, (p99, p99 / 2))
    return LegResult(rate, rate * 0.9, latency, "legs ...", WorkerLoad(412.4, 0.475))


def test_the_first_leg_is_the_e2e_figures_and_the_second_the_high_ones() -> None:
    figures = BenchFigures(partitions=8)
    record([leg(1_000, 140.0), leg(10_000, 280.0)], figures)
    assert figures.e2e_p99_ms == 140.0
    assert figures.e2e_p99_ms_high == 280.0
    assert figures.high_rate == 10_000
    assert figures.high_rate_written == 9_000
    assert "latency at 1,000 changes/s (900 written): p99 per 10 s 140, 70 ms" in figures.notes
    assert "latency at 10,000 changes/s" in figures.notes


def test_without_a_second_leg_the_high_figures_stay_empty() -> None:
    figures = BenchFigures(partitions=8)
    record([leg(1_000, 140.0)], figures)
    assert figures.e2e_p99_ms_high is None
    assert figures.high_rate is None
    assert leg_note(leg(1_000, 140.0)).endswith("; legs ...; worker 412 commits/s, 48 % of a core")


def test_memory_is_read_after_the_first_ids_then_in_steps_of_as_many() -> None:
    assert steps(1_000_000, 5_000_000) == [1_000_000, 2_000_000, 3_000_000, 4_000_000, 5_000_000]
    assert steps(1_000_000, 1_500_000) == [1_000_000, 1_500_000]
    assert steps(1_000_000, 1_000_000) == [1_000_000]
    assert steps(1_000_000, 10) == [1_000_000]


def test_the_first_reading_is_worker_rss_mb_and_the_last_the_final_figures() -> None:
    figures = BenchFigures(partitions=8)
    record_memory(
        [RssReading(1_000_000, 250.0, 280.0), RssReading(2_000_000, 255.0, 290.0)], figures
    )
    assert figures.worker_rss_mb == 280.0
    assert (figures.memory_final_ids, figures.worker_rss_final_mb) == (2_000_000, 255.0)
    assert figures.worker_rss_peak_final_mb == 290.0
    assert figures.notes == "rss by ids: 1,000,000 250 MiB (peak 280), 2,000,000 255 MiB (peak 290)"


def test_the_group_note_gives_both_rates_their_ratio_and_the_pauses() -> None:
    one = GroupRun(StageRate(200_000, 10.0), 30.0)
    two = GroupRun(StageRate(200_000, 8.0), 34.5)
    note = group_note(one, two, JoinPause(3.25, 6.5, 4))
    assert note == (
        "group: one worker 20,000 changes/s, two 25,000 (ratio 1.25); CPU per change 30.0 us "
        "alone, 34.5 us in two; second worker's join: no update for 3.2 s, worst partition 4 "
        "for 6.5 s"
    )


def test_a_fast_leg_is_written_by_several_processes_whose_rates_add_up() -> None:
    assert writers(1_000) == 1
    assert writers(2_000) == 1
    assert writers(10_000) == 5
    summaries = [
        TrafficSummary([], changes=20_000, forged=0, seconds=10.0),
        TrafficSummary([], changes=20_000, forged=0, seconds=8.0),
    ]
    assert combined(summaries) == 4_000
    assert combined([]) == 0
