"""Recording what the unmodified ``realtime`` client reports, with waits that fail with context."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from realtime import (
    AsyncRealtimeChannel,
    AsyncRealtimeClient,
    RealtimePostgresChangesListenEvent,
    RealtimeSubscribeStates,
)


@dataclass
class Recorder:
    states: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    system: list[dict[str, Any]] = field(default_factory=list)
    changes: list[dict[str, Any]] = field(default_factory=list)

    def on_state(self, state: RealtimeSubscribeStates, error: Exception | None) -> None:
        self.states.append(state.value)
        if error is not None:
            self.errors.append(str(error))

    def on_system(self, payload: Any) -> None:
        self.system.append(payload.model_dump())

    def on_change(self, payload: Any) -> None:
        self.changes.append(payload)

    def live_count(self) -> int:
        return sum(
            1 for m in self.system if m["extension"] == "postgres_changes" and m["status"] == "ok"
        )

    async def wait_for(
        self, condition: Callable[[], bool], what: str, within: float = 15.0
    ) -> None:
        deadline = time.monotonic() + within
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"timed out waiting for {what}: states={self.states} errors={self.errors} "
                    f"system={self.system} changes={len(self.changes)}"
                )
            await asyncio.sleep(0.05)


def subscribe_tables(
    client: AsyncRealtimeClient, topic: str, recorder: Recorder, tables: list[str], **extra: Any
) -> AsyncRealtimeChannel:
    channel = client.channel(topic)
    for table in tables:
        channel.on_postgres_changes(
            RealtimePostgresChangesListenEvent.All, recorder.on_change, table=table, **extra
        )
    channel.on_system(recorder.on_system)
    return channel
