from datetime import UTC, datetime

import pytest

from workers.bench.sse_frames import StreamTally, commit_seconds, frame_event, split_frames

COMMITTED = datetime(2026, 12, 5, 3, 0, 0, 250_000, tzinfo=UTC)


def update_frame(seq: int, kind: str = "event_created") -> bytes:
    data = (
        f'{{"type":"{kind}","site_id":"s","seq":{seq},'
        f'"commit_timestamp":"{COMMITTED.isoformat().replace("+00:00", "Z")}"}}'
    )
    return f"id: {seq}\nevent: {kind}\ndata: {data}\n\n".encode()


def test_a_frame_cut_by_a_read_is_kept_for_the_next_one() -> None:
    stream = b"retry: 1000\n: stream open\n\n" + update_frame(1) + update_frame(2)
    cut = len(stream) - 10
    frames, rest = split_frames(stream[:cut])
    assert [frame_event(frame) for frame in frames] == [None, "event_created"]
    frames, rest = split_frames(rest + stream[cut:])
    assert [frame_event(frame) for frame in frames] == ["event_created"]
    assert rest == b""


def test_a_chunk_size_line_between_frames_does_not_hide_the_event() -> None:
    frames, _ = split_frames(b"\r\n1a3\r\n" + update_frame(7, "kpi_updated"))
    assert frame_event(frames[0]) == "kpi_updated"


def test_the_commit_time_is_read_from_the_data() -> None:
    assert commit_seconds(update_frame(1)) == pytest.approx(COMMITTED.timestamp())
    assert commit_seconds(b"event: snapshot\ndata: {}") is None


def test_only_updates_read_while_measuring_count_and_only_per_change_ones_are_timed() -> None:
    tally = StreamTally()
    received = COMMITTED.timestamp() + 0.1
    tally.take([update_frame(1)], received)
    assert tally.delivered == 0
    tally.start()
    snapshot = b"id: 1\nevent: snapshot\ndata: {}"
    heartbeat = b": heartbeat"
    frames = [snapshot, heartbeat, update_frame(2), update_frame(3, "kpi_updated")]
    tally.take([frame.rstrip(b"\n") for frame in frames], received)
    assert tally.delivered == 2
    assert tally.latencies_ms == [pytest.approx(100.0)]
    assert tally.stream_events == {"snapshot": 1}
