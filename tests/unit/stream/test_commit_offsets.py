"""The committed offset of a source partition never passes a record that was not acknowledged."""

from __future__ import annotations

from workers.stream.commit_offsets import committable_offset, resume_offset


def test_the_commit_moves_past_acknowledged_offsets_contiguous_from_the_next() -> None:
    assert committable_offset([5, 6, 7], 5) == 8
    assert committable_offset([7, 5, 6, 9], 5) == 8
    assert committable_offset([3, 4, 5, 6], 5) == 7


def test_an_unacknowledged_head_holds_the_commit_back() -> None:
    # The failed batch 0..4 of a fresh group, then the agent's next batch acknowledged.
    assert committable_offset([5, 6, 7], 0) == 0
    # One missing offset, which Faust lets through.
    assert committable_offset([32, 33], 31) == 31
    assert committable_offset([], 12) == 12


def test_a_partition_resumes_at_its_committed_offset_or_else_at_its_log_start() -> None:
    assert resume_offset(40, 0) == 40
    assert resume_offset(None, 0) == 0
    assert resume_offset(None, 17) == 17
    assert resume_offset(40, 100) == 100
    assert resume_offset(40, None) == 40
    assert resume_offset(None, None) is None
