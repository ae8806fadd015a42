"""Server-Sent Events framing, and reading the client's resume position.

Each update becomes one frame, encoded once and shared by every client of its site: ``id`` is the
update's per-site ``seq`` (what the browser sends back as ``Last-Event-ID``), ``event`` its type.
"""

from __future__ import annotations

import orjson

RETRY_MS = 1000
HEARTBEAT = b": heartbeat\n\n"


class BadPosition(ValueError):
    pass


def frame(event: str, data: bytes, seq: int | None = None) -> bytes:
    """One SSE frame; ``data`` must be one line (compact JSON is)."""
    head = f"id: {seq}\nevent: {event}\n" if seq is not None else f"event: {event}\n"
    return b"".join((head.encode(), b"data: ", data, b"\n\n"))


def json_frame(event: str, payload: object, seq: int | None = None) -> bytes:
    return frame(event, orjson.dumps(payload), seq)


def opening(retry_ms: int = RETRY_MS) -> bytes:
    """The first bytes of a stream: the browser's reconnect delay, and a comment that flushes
    the response headers through proxies."""
    return f"retry: {retry_ms}\n: stream open\n\n".encode()


def one_line(raw: bytes) -> bytes:
    """``raw`` JSON as a single line: a record written with indentation is re-encoded."""
    if b"\n" in raw or b"\r" in raw:
        return orjson.dumps(orjson.loads(raw))
    return raw


def resume_position(last_event_id: str | None, after: str | None) -> int | None:
    """The seq a client has already seen: ``Last-Event-ID`` (set by the browser on its own
    reconnects) wins over ``?after=``; None for a fresh client."""
    raw = last_event_id if last_event_id not in (None, "") else after
    if raw is None or raw == "":
        return None
    try:
        position = int(raw)
    except ValueError:
        raise BadPosition(f"resume position {raw[:40]!r} is not an integer seq") from None
    if position < 0:
        raise BadPosition(f"resume position {position} is negative")
    return position
