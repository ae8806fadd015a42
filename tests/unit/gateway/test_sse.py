from __future__ import annotations

import pytest

from workers.gateway.sse import BadPosition, frame, json_frame, one_line, resume_position


def test_frame_carries_seq_as_id_and_type_as_event() -> None:
    assert frame("kpi_updated", b'{"a":1}', 42) == b'id: 42\nevent: kpi_updated\ndata: {"a":1}\n\n'


def test_frame_without_seq_has_no_id() -> None:
    assert json_frame("reset", {"x": 1}) == b'event: reset\ndata: {"x":1}\n\n'


def test_multi_line_json_becomes_one_line() -> None:
    assert one_line(b'{\n  "a": "b\\nc"\n}') == b'{"a":"b\\nc"}'
    assert one_line(b'{"a":1}') == b'{"a":1}'


@pytest.mark.parametrize(
    ("header", "query", "expected"),
    [(None, None, None), ("", None, None), ("12", "5", 12), (None, "5", 5), ("", "7", 7)],
)
def test_last_event_id_wins_over_after(
    header: str | None, query: str | None, expected: int | None
) -> None:
    assert resume_position(header, query) == expected


@pytest.mark.parametrize("bad", ["abc", "-1", "1.5"])
def test_a_bad_position_is_refused_with_a_reason(bad: str) -> None:
    with pytest.raises(BadPosition, match="resume position"):
        resume_position(bad, None)
