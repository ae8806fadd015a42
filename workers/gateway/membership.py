"""Whether a user may watch a site: ``site_members`` answers, cached for a bounded time.

Look-ups that miss the cache within one event-loop turn go to Postgres together, as one query,
so a burst of connecting tabs costs a few queries rather than one each.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable

import psycopg

Pair = tuple[str, str]  # (user_id, site_id)
Lookup = Callable[[list[Pair]], Awaitable[set[Pair]]]

MEMBERS_SQL = """
SELECT m.user_id::text, m.site_id::text
FROM public.site_members AS m
JOIN unnest(%s::uuid[], %s::uuid[]) AS k (user_id, site_id)
  ON m.user_id = k.user_id AND m.site_id = k.site_id
"""


class MembershipUnavailable(RuntimeError):
    pass


class MembershipCache:
    def __init__(
        self,
        lookup: Lookup,
        *,
        ttl_s: float,
        max_entries: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._lookup = lookup
        self._ttl_s = ttl_s
        self._max_entries = max_entries
        self._clock = clock
        self._answers: OrderedDict[Pair, tuple[bool, float]] = OrderedDict()
        self._waiting: dict[Pair, asyncio.Future[bool]] = {}
        self._loading: asyncio.Task[None] | None = None

    def cached(self, pair: Pair) -> bool | None:
        """The answer for ``pair`` if it is younger than the TTL."""
        entry = self._answers.get(pair)
        if entry is None or self._clock() - entry[1] >= self._ttl_s:
            return None
        return entry[0]

    async def is_member(self, user_id: str, site_id: str) -> bool:
        pair = (user_id, site_id)
        answer = self.cached(pair)
        if answer is not None:
            return answer
        waiting = self._waiting.get(pair)
        if waiting is None:
            waiting = asyncio.get_running_loop().create_future()
            self._waiting[pair] = waiting
            if self._loading is None or self._loading.done():
                self._loading = asyncio.create_task(self._load_waiting())
        return await asyncio.shield(waiting)

    async def refresh(self, pairs: Iterable[Pair]) -> dict[Pair, bool]:
        """Fresh answers for the ``pairs`` whose cached answer has expired (one query)."""
        stale = sorted({pair for pair in pairs if self.cached(pair) is None})
        if not stale:
            return {}
        members = await self._lookup(stale)
        now = self._clock()
        answers = {pair: pair in members for pair in stale}
        for pair, answer in answers.items():
            self._remember(pair, answer, now)
        return answers

    async def _load_waiting(self) -> None:
        # Let every handler of this loop turn add its pair before the query goes out.
        await asyncio.sleep(0)
        while self._waiting:
            batch = self._waiting
            self._waiting = {}
            try:
                members = await self._lookup(list(batch))
            except Exception as exc:
                failure = MembershipUnavailable(f"site_members could not be read: {exc}")
                for future in batch.values():
                    if not future.done():
                        future.set_exception(failure)
                continue
            now = self._clock()
            for pair, future in batch.items():
                answer = pair in members
                self._remember(pair, answer, now)
                if not future.done():
                    future.set_result(answer)

    def _remember(self, pair: Pair, answer: bool, now: float) -> None:
        self._answers[pair] = (answer, now)
        self._answers.move_to_end(pair)
        while len(self._answers) > self._max_entries:
            self._answers.popitem(last=False)

    def __len__(self) -> int:
        return len(self._answers)


class PostgresMembers:
    """The ``Lookup`` over ``site_members``: one connection, reopened after a failure."""

    def __init__(self, dsn: str) -> None:
        self._dsn = dsn
        self._connection: psycopg.AsyncConnection[tuple[str, str]] | None = None
        self._lock = asyncio.Lock()

    async def __call__(self, pairs: list[Pair]) -> set[Pair]:
        async with self._lock:
            try:
                if self._connection is None or self._connection.closed:
                    self._connection = await psycopg.AsyncConnection.connect(
                        self._dsn, autocommit=True
                    )
                cursor = await self._connection.execute(
                    MEMBERS_SQL, ([user for user, _ in pairs], [site for _, site in pairs])
                )
                rows = await cursor.fetchall()
            except psycopg.Error:
                await self.close()
                raise
        return {(str(user), str(site)) for user, site in rows}

    async def close(self) -> None:
        if self._connection is not None:
            await self._connection.close()
            self._connection = None
