import pytest

from workers.bench.join_pause import join_pause, longest_gap


def test_the_longest_gap_is_between_arrivals_inside_the_window() -> None:
    assert longest_gap([1.0, 1.5, 4.0, 4.2], since=0.9, until=4.5) == pytest.approx(2.5)


def test_silence_at_the_edges_of_the_window_is_a_gap() -> None:
    assert longest_gap([2.0, 2.1], since=0.0, until=2.5) == pytest.approx(2.0)
    assert longest_gap([0.1, 0.2], since=0.0, until=3.0) == pytest.approx(2.8)
    assert longest_gap([], since=1.0, until=4.0) == pytest.approx(3.0)


def test_arrivals_outside_the_window_do_not_shorten_a_gap() -> None:
    assert longest_gap([0.5, 5.0, 9.0], since=1.0, until=8.0) == pytest.approx(4.0)


def test_a_partition_can_pause_while_the_others_keep_the_dashboard_busy() -> None:
    arrivals = [(0, t / 10) for t in range(0, 101)]  # partition 0 every 0.1 s for 10 s
    arrivals += [(1, 0.0), (1, 1.0), (1, 7.0), (1, 10.0)]  # partition 1 stops for 6 s
    pause = join_pause(arrivals, range(2), since=0.0, until=10.0)
    assert pause.overall_s == pytest.approx(0.1)
    assert pause.worst_partition == 1
    assert pause.worst_partition_s == pytest.approx(6.0)


def test_a_partition_without_arrivals_pauses_for_the_whole_window() -> None:
    pause = join_pause([(0, 2.5), (0, 4.0)], range(3), since=2.0, until=5.0)
    assert pause.overall_s == pytest.approx(1.5)
    assert pause.worst_partition in (1, 2)
    assert pause.worst_partition_s == pytest.approx(3.0)
