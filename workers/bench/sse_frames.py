"""Reading the gateway's SSE streams in the fan-out benchmark's load process, cheaply.

The load process reads tens of thousands of frames a second on a shared core, so a frame is not
parsed as a whole: only its ``event`` type and, for updates that derive from one change, the
``commit_timestamp`` in its data are picked out.

The gateway writes whole frames per write, so HTTP/1.1 chunk-size lines only ever sit between
frames (at the start of a piece split on the blank line), where they are skipped like any other
line that is not ``event:`` or ``data:``.
"""

from __future__ import annotations

from datetime import datetime

from workers.bench.latency import PER_CHANGE_TYPES

# Frames that are not updates of the site: the stream's own events.
STREAM_EVENTS = frozenset({"snapshot", "reset", "disconnect", "auth_expired", "access_revoked"})
_EVENT = b"event: "
_COMMIT = b'"commit_timestamp":"'


def split_frames(buffer: bytes) -> tuple[list[bytes], bytes]:
    """The complete frames in ``buffer`` and the incomplete rest to prepend to the next read."""
    end = buffer.rfind(b"\n\n")
    if end < 0:
        return [], buffer
    return buffer[:end].split(b"\n\n"), buffer[end + 2 :]


def frame_event(frame: bytes) -> str | None:
    """The frame's ``event`` type; None for a comment, a ``retry`` line or a chunk-size line."""
    start = frame.find(_EVENT)
    if start < 0:
        return None
    start += len(_EVENT)
    end = frame.find(b"\n", start)
    return frame[start : end if end >= 0 else len(frame)].decode()


def commit_seconds(frame: bytes) -> float | None:
    """The update's ``commit_timestamp`` as epoch seconds, if its data carries one."""
    start = frame.find(_COMMIT)
    if start < 0:
        return None
    start += len(_COMMIT)
    end = frame.find(b'"', start)
    if end < 0:
        return None
    return datetime.fromisoformat(frame[start:end].decode()).timestamp()


class StreamTally:
    """What one load process has read: updates delivered, and commit-to-client latencies of the
    per-change updates, while ``measuring`` is on."""

    def __init__(self) -> None:
        self.measuring = False
        self.delivered = 0
        self.latencies_ms: list[float] = []
        self.stream_events: dict[str, int] = {}

    def take(self, frames: list[bytes], received_s: float) -> None:
        for frame in frames:
            event = frame_event(frame)
            if event is None:
                continue
            if event in STREAM_EVENTS:
                self.stream_events[event] = self.stream_events.get(event, 0) + 1
                continue
            if not self.measuring:
                continue
            self.delivered += 1
            if event in PER_CHANGE_TYPES:
                committed = commit_seconds(frame)
                if committed is not None:
                    self.latencies_ms.append((received_s - committed) * 1000)

    def start(self) -> None:
        self.measuring = True
        self.delivered = 0
        self.latencies_ms = []
