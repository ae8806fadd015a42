"""Connected clients by site, and the fan-out of one encoded frame to a site's clients.

A client never blocks the fan-out: frames go into its own bounded queue, and a client whose
queue would pass its limit is closed as slow (it resumes by ``Last-Event-ID``). Writing the
queue to the socket is the client's own task's job.
"""

from __future__ import annotations

import asyncio
import zlib
from collections import deque
from collections.abc import Iterator

from workers.gateway.sse import json_frame

SITE_BUCKETS = 16
# Largest single write to a socket: a long replay goes out in pieces, not one joined copy.
WRITE_CHUNK_BYTES = 256 * 1024


def site_bucket(site_id: str) -> str:
    """A small, stable label for a site: per-site labels would grow without bound."""
    return str(zlib.crc32(site_id.encode()) % SITE_BUCKETS)


class Client:
    __slots__ = (
        "closing",
        "expires_at",
        "final",
        "limit_bytes",
        "pending",
        "pending_bytes",
        "site_id",
        "skip_through",
        "start_bytes",
        "user_id",
        "wake",
    )

    def __init__(
        self,
        site_id: str,
        user_id: str,
        *,
        expires_at: float | None,
        limit_bytes: int,
        skip_through: int = -1,
    ) -> None:
        self.site_id = site_id
        self.user_id = user_id
        self.expires_at = expires_at
        self.limit_bytes = limit_bytes
        self.skip_through = skip_through
        self.pending: deque[bytes] = deque()
        self.pending_bytes = 0
        self.start_bytes = 0
        self.wake = asyncio.Event()
        self.closing: str | None = None
        self.final: bytes | None = None

    def push_start(self, frame: bytes) -> None:
        """Queues part of the client's start (reset, snapshot, replay) outside the limit: the
        replay is bounded by what the site holds, and its frames are shared, not copied."""
        self.pending.append(frame)
        self.start_bytes += len(frame)
        self.wake.set()

    def push(self, frame: bytes, seq: int | None = None) -> bool:
        """Queues ``frame``; False when the client is closing or has just been closed as slow."""
        if self.closing is not None:
            return False
        if seq is not None and seq <= self.skip_through:
            return True
        size = len(frame)
        if self.pending_bytes + size > self.limit_bytes:
            detail = f"more than {self.limit_bytes} bytes queued; resume with Last-Event-ID"
            self.close(
                "slow_client", json_frame("disconnect", {"reason": "slow_client", "detail": detail})
            )
            return False
        self.pending.append(frame)
        self.pending_bytes += size
        self.wake.set()
        return True

    def close(self, reason: str, final: bytes | None) -> None:
        """Ends the stream: what is queued is dropped and ``final`` (if any) is the last frame."""
        if self.closing is not None:
            return
        self.closing = reason
        self.final = final
        self.pending.clear()
        self.pending_bytes = 0
        self.start_bytes = 0
        self.wake.set()

    def take(self, max_bytes: int = WRITE_CHUNK_BYTES) -> bytes:
        """The oldest queued frames, up to ``max_bytes`` (at least one frame), as one write."""
        taken: list[bytes] = []
        size = 0
        while self.pending and (not taken or size + len(self.pending[0]) <= max_bytes):
            frame = self.pending.popleft()
            taken.append(frame)
            size += len(frame)
        # The start's frames are always at the front of the queue.
        from_start = min(size, self.start_bytes)
        self.start_bytes -= from_start
        self.pending_bytes -= size - from_start
        if not self.pending:
            self.wake.clear()
        return b"".join(taken)


class Registry:
    def __init__(self) -> None:
        self._by_site: dict[str, set[Client]] = {}
        self._count = 0

    def add(self, client: Client) -> None:
        self._by_site.setdefault(client.site_id, set()).add(client)
        self._count += 1

    def remove(self, client: Client) -> None:
        clients = self._by_site.get(client.site_id)
        if clients is None or client not in clients:
            return
        clients.discard(client)
        self._count -= 1
        if not clients:
            del self._by_site[client.site_id]

    def publish(self, site_id: str, frame: bytes, seq: int) -> tuple[int, list[Client]]:
        """Queues ``frame`` for every client of ``site_id``: (clients queued, clients closed as
        slow by this frame)."""
        clients = self._by_site.get(site_id)
        if not clients:
            return 0, []
        queued = 0
        slow: list[Client] = []
        for client in clients:
            was_open = client.closing is None
            if client.push(frame, seq):
                queued += 1
            elif was_open and client.closing == "slow_client":
                slow.append(client)
        return queued, slow

    def clients(self) -> Iterator[Client]:
        for clients in list(self._by_site.values()):
            yield from list(clients)

    def of_site(self, site_id: str) -> list[Client]:
        return list(self._by_site.get(site_id, ()))

    def __len__(self) -> int:
        return self._count

    def sites(self) -> int:
        return len(self._by_site)
