from workers.bench.latency import split_legs, summarise


def test_p99_per_window_follows_commit_time_and_skips_empty_windows() -> None:
    # 100 samples in each of the first two 10 s windows, none in the third, 100 in the fourth.
    samples = [(1000.0 + i * 0.1, 10.0 + i) for i in range(100)]
    samples += [(1010.0 + i * 0.1, 200.0) for i in range(98)] + [(1019.8, 900.0), (1019.9, 900.0)]
    samples += [(1030.0 + i * 0.1, 50.0) for i in range(100)]
    latency = summarise(samples)
    assert latency.samples == 300
    assert latency.p99_by_window_ms == (108.0, 900.0, 50.0)
    assert latency.p50_ms == 60.0
    assert latency.p99_ms == 200.0


def test_no_samples_give_no_windows() -> None:
    latency = summarise([])
    assert latency.samples == 0
    assert latency.p99_by_window_ms == ()


def test_each_leg_gets_its_own_percentiles() -> None:
    # The slow sends and the slow deliveries belong to different samples: a leg's p99 is its own.
    legs = [(20.0, 5.0)] * 96 + [(400.0, 5.0)] * 2 + [(20.0, 300.0)] * 2
    split = split_legs(legs)
    assert (split.publish_p50_ms, split.publish_p99_ms) == (20.0, 400.0)
    assert (split.deliver_p50_ms, split.deliver_p99_ms) == (5.0, 300.0)
    assert split.describe() == (
        "commit to worker send p50/p99 20/400 ms, send to subscriber 5/300 ms"
    )
