from workers.bench.latency import Timing, split_legs, summarise


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


def test_each_leg_gets_its_own_percentiles_and_windows() -> None:
    # The slow ingest sends and the slow deliveries belong to different changes: a leg's p99 is
    # its own. A change whose ingest record was not read has no legs.
    fast = [
        Timing(1000.0 + i * 0.1, 1000.01 + i * 0.1, 1000.03 + i * 0.1, 1000.035 + i * 0.1)
        for i in range(96)
    ]
    slow_ingest = [Timing(1000.0, 1000.4, 1000.42, 1000.425)] * 2
    slow_delivery = [Timing(1011.0, 1011.01, 1011.03, 1011.33)] * 2
    unmatched = [Timing(1000.0, None, 1000.5, 1000.6)]
    split = split_legs(fast + slow_ingest + slow_delivery + unmatched)
    assert [round(v) for v in split.p50_ms] == [10, 20, 5]
    assert [round(v) for v in split.p99_ms] == [400, 20, 300]
    assert [[round(v) for v in leg] for leg in split.p99_by_window_ms] == [
        [400, 10],
        [20, 20],
        [5, 300],
    ]
    assert split.describe().startswith(
        "legs p50/p99 ms: ingest 10/400, worker 20/20, delivery 5/300;"
    )
