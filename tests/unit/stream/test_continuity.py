from workers.stream.continuity import OffsetContinuity


def test_contiguous_offsets_and_re_reads_leave_no_hole() -> None:
    continuity = OffsetContinuity()
    continuity.reset({0: 10})
    assert [continuity.observe(0, offset) for offset in (10, 11, 12, 11, 12, 13)] == [None] * 6
    assert continuity.expected == {0: 14}


def test_a_jump_past_the_committed_offset_reports_the_hole_once() -> None:
    continuity = OffsetContinuity()
    continuity.reset({0: 263, 1: None})
    assert continuity.observe(0, 305) == (263, 305)
    assert continuity.observe(0, 306) is None
    # Faust delivering the skipped messages after all: re-reads, no new hole.
    assert continuity.observe(0, 263) is None
    assert continuity.observe(0, 307) is None
    assert continuity.observe(0, 309) == (308, 309)


def test_a_partition_without_a_committed_offset_starts_at_its_first_event() -> None:
    continuity = OffsetContinuity()
    continuity.reset({3: None})
    assert continuity.observe(3, 40) is None
    assert continuity.observe(3, 42) == (41, 42)


def test_reset_starts_from_the_new_committed_offsets() -> None:
    continuity = OffsetContinuity()
    continuity.reset({0: 5})
    assert continuity.observe(0, 5) is None
    continuity.reset({0: 9})
    assert continuity.observe(0, 9) is None
    assert continuity.expected == {0: 10}
