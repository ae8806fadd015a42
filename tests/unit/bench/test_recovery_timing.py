from workers.bench.recovery_timing import (
    MEMBER_GONE,
    PROCESSING,
    WORKER_UP,
    Timeline,
    all_advanced,
    member_gone,
)


def test_all_advanced_needs_every_partition_past_its_offset_at_the_fault() -> None:
    baseline = {0: 10, 1: 20, 2: None}
    assert not all_advanced(baseline, {0: 11, 1: 20, 2: 5})
    assert not all_advanced(baseline, {0: 11, 1: 21})
    assert not all_advanced(baseline, {0: 11, 1: 21, 2: None})
    assert all_advanced(baseline, {0: 11, 1: 21, 2: 0})


def test_member_gone_when_a_member_of_the_fault_left_or_was_replaced() -> None:
    assert not member_gone({"a", "b"}, {"a", "b"})
    assert not member_gone({"a", "b"}, {"a", "b", "c"})
    assert member_gone({"a", "b"}, {"a", "c"})
    assert member_gone({"a", "b"}, {"a"})


def test_timeline_keeps_the_first_time_and_lists_in_order() -> None:
    timeline = Timeline()
    timeline.mark(PROCESSING, 7.25)
    timeline.mark(WORKER_UP, 1.5)
    timeline.mark(MEMBER_GONE, 5.94)
    timeline.mark(WORKER_UP, 3.0)
    assert timeline.total_s == 7.25
    assert timeline.describe() == "new process up 1.5 s, dead member gone 5.9 s, processing 7.2 s"
    assert Timeline().total_s is None
    assert Timeline().describe() == "no milestone reached"
