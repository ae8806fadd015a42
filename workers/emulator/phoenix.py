"""Phoenix channel framing: the v1 JSON-object serializer and the v2 array serializer (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

V1 = "1"
V2 = "2"


class UnsupportedVsn(ValueError):
    pass


@dataclass(frozen=True)
class Frame:
    topic: str
    event: str
    payload: Any
    ref: str | None
    join_ref: str | None = None


def serializer_for(vsn: str | None) -> str:
    """Which serializer a socket uses; Phoenix refuses an unknown ``vsn`` with HTTP 403."""
    if vsn is None or vsn.startswith("1.0"):
        return V1
    if vsn.startswith("2.0"):
        return V2
    raise UnsupportedVsn(f"unsupported vsn {vsn!r}")


def _ref(value: Any) -> str | None:
    return None if value is None else str(value)


def decode_frame(text: str | bytes, serializer: str) -> Frame | None:
    """A client frame, or None for one Phoenix would drop (the socket stays open)."""
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    if serializer == V2:
        if not isinstance(data, list) or len(data) != 5:
            return None
        join_ref, ref, topic, event, payload = data
        if not isinstance(topic, str) or not isinstance(event, str):
            return None
        return Frame(topic, event, payload, _ref(ref), _ref(join_ref))
    if not isinstance(data, dict) or not {"topic", "event", "payload", "ref"} <= data.keys():
        return None
    if not isinstance(data["topic"], str) or not isinstance(data["event"], str):
        return None
    return Frame(
        data["topic"], data["event"], data["payload"], _ref(data["ref"]), _ref(data.get("join_ref"))
    )


def encode_frame(frame: Frame, serializer: str) -> str:
    """v1 output never carries ``join_ref``; v2 output is ``[join_ref, ref, topic, event, payload]``."""
    if serializer == V2:
        return orjson.dumps(
            [frame.join_ref, frame.ref, frame.topic, frame.event, frame.payload]
        ).decode()
    return orjson.dumps(
        {"topic": frame.topic, "event": frame.event, "payload": frame.payload, "ref": frame.ref}
    ).decode()


def reply(
    topic: str, ref: str | None, status: str, response: Any, join_ref: str | None = None
) -> Frame:
    return Frame(topic, "phx_reply", {"status": status, "response": response}, ref, join_ref)


def system(topic: str, extension: str, status: str, message: str) -> Frame:
    channel = topic.removeprefix("realtime:")
    return Frame(
        topic,
        "system",
        {"channel": channel, "extension": extension, "message": message, "status": status},
        None,
    )
