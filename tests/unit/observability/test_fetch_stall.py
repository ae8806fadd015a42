"""The fetch stall verdict: lag at an unmoving position for longer than the limit."""

from __future__ import annotations

from workers.observability.fetch_stall import FetchStallCheck, stall_reason


def test_lag_at_one_position_past_the_limit_is_a_stall() -> None:
    check = FetchStallCheck(limit_s=10.0)
    assert check.observe(0.0, {0: 5, 1: 7}, {0: 9, 1: 7}, settled=True) == {}
    assert check.observe(10.0, {0: 5, 1: 7}, {0: 9, 1: 7}, settled=True) == {}
    assert check.observe(12.0, {0: 5, 1: 7}, {0: 12, 1: 9}, settled=True) == {0: 12.0}
    # Partition 1 lags since 12.0; fetching partition 0 again ends its stall.
    assert check.observe(23.0, {0: 12, 1: 7}, {0: 12, 1: 9}, settled=True) == {1: 11.0}


def test_a_moving_position_is_no_stall() -> None:
    check = FetchStallCheck(limit_s=10.0)
    for step in range(10):
        now = step * 6.0
        assert check.observe(now, {0: step}, {0: 100}, settled=True) == {}


def test_no_lag_or_unknown_positions_are_no_stall() -> None:
    check = FetchStallCheck(limit_s=1.0)
    for now in (0.0, 5.0, 10.0):
        assert check.observe(now, {0: 9, 1: None, 2: 4}, {0: 9, 1: 20}, settled=True) == {}


def test_rebalances_and_restores_do_not_count() -> None:
    check = FetchStallCheck(limit_s=10.0)
    check.observe(0.0, {0: 5}, {0: 9}, settled=True)
    assert check.observe(30.0, {0: 5}, {0: 9}, settled=False) == {}
    assert check.observe(35.0, {0: 5}, {0: 9}, settled=True) == {}
    assert check.observe(46.0, {0: 5}, {0: 9}, settled=True) == {0: 11.0}


def test_stall_reason_names_the_partitions_and_the_setting() -> None:
    assert stall_reason({}, 300.0) is None
    reason = stall_reason({3: 301.0, 1: 400.0}, 300.0)
    assert reason is not None
    assert "partitions 1, 3" in reason and "PULSE_FETCH_STALL_LIMIT_S" in reason
