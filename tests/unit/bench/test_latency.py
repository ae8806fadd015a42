from workers.bench.latency import summarise


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
