"""Where a source partition's new owner resumes."""

from __future__ import annotations

from workers.kafka.group_offsets import resume_offset


def test_a_partition_resumes_at_its_committed_offset_or_else_at_its_log_start() -> None:
    assert resume_offset(40, 0) == 40
    assert resume_offset(None, 0) == 0
    assert resume_offset(None, 17) == 17
    assert resume_offset(40, 100) == 100
    assert resume_offset(40, None) == 40
    assert resume_offset(None, None) is None
