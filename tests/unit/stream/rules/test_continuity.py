from workers.stream.rules.continuity import CommittedPositions, OffsetContinuity


def test_contiguous_runs_and_re_reads_leave_no_hole() -> None:
    continuity = OffsetContinuity()
    continuity.reset({0: 10})
    runs = [(10, 10), (11, 12), (11, 13), (12, 12), (14, 20)]
    assert [continuity.observe(0, first, last) for first, last in runs] == [None] * 5
    assert continuity.expected == {0: 21}


def test_a_jump_past_the_committed_offset_reports_the_hole_once() -> None:
    continuity = OffsetContinuity()
    continuity.reset({0: 263, 1: None})
    assert continuity.observe(0, 305, 310) == (263, 305)
    assert continuity.observe(0, 311, 311) is None
    # Faust delivering the skipped messages after all: re-reads, no new hole.
    assert continuity.observe(0, 263, 300) is None
    assert continuity.observe(0, 312, 320) is None
    assert continuity.observe(0, 323, 330) == (321, 323)


def test_a_partition_without_a_committed_offset_starts_at_its_first_run() -> None:
    continuity = OffsetContinuity()
    continuity.reset({3: None})
    assert continuity.observe(3, 40, 41) is None
    assert continuity.observe(3, 43, 50) == (42, 43)


def test_reset_starts_from_the_new_committed_offsets() -> None:
    continuity = OffsetContinuity()
    continuity.reset({0: 5})
    assert continuity.observe(0, 5, 8) is None
    continuity.reset({0: 9})
    assert continuity.observe(0, 9, 9) is None
    assert continuity.expected == {0: 10}


def test_a_hole_that_could_not_be_read_is_reported_again_by_the_next_run() -> None:
    continuity = OffsetContinuity()
    continuity.reset({0: 100})
    assert continuity.observe(0, 120, 130) == (100, 120)
    continuity.rewind(0, 100)
    assert continuity.observe(0, 131, 140) == (100, 131)


def test_committed_positions_only_grow_and_mark_what_was_committed_here() -> None:
    committed = CommittedPositions()
    assert committed.first_new(0) == 0
    committed.advance(0, 232)
    committed.advance(0, 100)  # an older offset never moves it back
    assert committed.first_new(0) == 232
    assert committed.first_new(1) == 0
