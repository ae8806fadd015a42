"""Running the Realtime source against the emulator, a writer, and the checks against Postgres."""

from __future__ import annotations

import asyncio
import random
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg
from aiokafka.structs import ConsumerRecord
from psycopg import sql
from psycopg.rows import dict_row

from schemas.changes import ChangeRecord
from schemas.updates import PulseStatus
from tests.integration.topic_reading import read_changes, read_rejected, read_topic
from workers.changes.values import canonical_row
from workers.ingest.realtime.changes import CATCHUP_COLUMN_TYPES
from workers.ingest.realtime.runner import RealtimeProgress, run_realtime_ingest
from workers.ingest.realtime.token import TokenSource
from workers.ingest.settings import RealtimeIngestSettings
from workers.observability.readiness import Readiness
from workers.settings import KafkaSettings, ReconnectSettings

TABLES = ("sessions", "events", "calls", "intents")


def fast_options(**overrides: Any) -> RealtimeIngestSettings:
    """Short timeouts so each fault plays out in seconds (the client's join timeout is 2 s)."""
    values: dict[str, Any] = {
        "PULSE_REALTIME_JOIN_TIMEOUT_S": 2,
        "PULSE_REALTIME_INITIAL_BACKOFF_S": 0.2,
        "PULSE_REALTIME_LIVE_DEADLINE_S": 8,
        "PULSE_REALTIME_REBUILD_BACKOFF_S": 0.2,
        "PULSE_REALTIME_CATCHUP_INTERVAL_S": 1.5,
        "PULSE_REALTIME_CATCHUP_LOOKBACK_S": 2,
        "PULSE_REALTIME_FLUSH_MS": 10,
        **overrides,
    }
    return RealtimeIngestSettings(**values)


@dataclass
class RunningSource:
    task: asyncio.Task[RealtimeProgress]
    stop: asyncio.Event
    progress: RealtimeProgress

    async def live(self, generation_at_least: int = 1, within: float = 20.0) -> None:
        await wait_until(
            lambda: any(
                t.status == "LIVE" and t.generation >= generation_at_least
                for t in self.progress.tracker.history
            ),
            f"LIVE in generation {generation_at_least}",
            within,
            self,
        )

    async def catchups_after_now(self, count: int = 2, within: float = 20.0) -> None:
        """Wait until ``count`` more catch-ups finished (the last one started after this call)."""
        target = self.progress.catchups + count
        await wait_until(
            lambda: self.progress.catchups >= target, f"{count} more catch-ups", within, self
        )

    def statuses(self) -> list[str]:
        return [t.status for t in self.progress.tracker.history]

    async def close(self) -> RealtimeProgress:
        self.stop.set()
        return await asyncio.wait_for(self.task, timeout=40)


async def wait_until(
    condition: Callable[[], bool], what: str, within: float, source: RunningSource | None = None
) -> None:
    deadline = time.monotonic() + within
    while not condition():
        if source is not None and source.task.done():
            source.task.result()
        if time.monotonic() > deadline:
            context = source.statuses() if source is not None else ""
            raise AssertionError(f"timed out waiting for {what}; statuses={context}")
        await asyncio.sleep(0.05)


def start_source(
    url: str,
    key: str,
    kafka: KafkaSettings,
    options: RealtimeIngestSettings,
    token_source: TokenSource | None = None,
    readiness: Readiness | None = None,
    reconnect: ReconnectSettings | None = None,
) -> RunningSource:
    stop = asyncio.Event()
    progress = RealtimeProgress()
    task = asyncio.create_task(
        run_realtime_ingest(
            url,
            key,
            kafka,
            options,
            stop,
            token_source=token_source,
            progress=progress,
            readiness=readiness,
            reconnect=reconnect,
        )
    )
    return RunningSource(task, stop, progress)


async def make_sites(dsn: str, count: int = 2) -> list[str]:
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        sites = []
        for number in range(count):
            row = await (
                await conn.execute(
                    "INSERT INTO sites (name) VALUES (%s) RETURNING id::text", (f"site {number}",)
                )
            ).fetchone()
            assert row is not None
            sites.append(str(row[0]))
        return sites


@dataclass
class Writer:
    """Inserts and updates on every tracked table, in small transactions, until stopped.

    With ``unsited`` (the calls table must accept a null ``site_id``), every round also inserts
    a call without a site and deletes the previous one: changes only a push carries, which the
    ingest must quarantine. Their IDs are kept in ``unsited_calls``.
    """

    dsn: str
    sites: list[str]
    pause_s: float = 0.02
    unsited: bool = False
    transactions: int = 0
    unsited_calls: list[str] = field(default_factory=list)
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> int:
        self._stop.set()
        assert self._task is not None
        await self._task
        return self.transactions

    async def _run(self) -> None:
        chance = random.Random(7)
        calls: list[str] = []
        intents: list[str] = []
        async with await psycopg.AsyncConnection.connect(self.dsn, autocommit=True) as conn:
            while not self._stop.is_set():
                site = chance.choice(self.sites)
                async with conn.transaction():
                    session = await (
                        await conn.execute(
                            "INSERT INTO sessions (site_id) VALUES (%s) RETURNING id::text", (site,)
                        )
                    ).fetchone()
                    assert session is not None
                    await conn.execute(
                        "INSERT INTO events (site_id, session_id, name) VALUES (%s, %s, 'view')",
                        (site, session[0]),
                    )
                    call = await (
                        await conn.execute(
                            "INSERT INTO calls (site_id, session_id) VALUES (%s, %s) RETURNING id::text",
                            (site, session[0]),
                        )
                    ).fetchone()
                    assert call is not None
                    calls.append(str(call[0]))
                if calls and chance.random() < 0.6:
                    await conn.execute(
                        "UPDATE calls SET status = %s WHERE id = %s",
                        (chance.choice(["answered", "ended"]), chance.choice(calls)),
                    )
                async with conn.transaction():
                    intent = await (
                        await conn.execute(
                            "INSERT INTO intents (site_id) VALUES (%s) RETURNING id::text", (site,)
                        )
                    ).fetchone()
                    assert intent is not None
                    intents.append(str(intent[0]))
                    # Two updates of one row in one transaction: one commit time, two versions.
                    target = chance.choice(intents)
                    await conn.execute(
                        "UPDATE intents SET status = 'qualified' WHERE id = %s", (target,)
                    )
                    await conn.execute(
                        "UPDATE intents SET status = 'sealed', sealed_at = now() WHERE id = %s",
                        (target,),
                    )
                await conn.execute(
                    "UPDATE sessions SET last_seen_at = now() WHERE id = %s", (session[0],)
                )
                if self.unsited:
                    await self._replace_unsited_call(conn)
                self.transactions += 1
                await asyncio.sleep(self.pause_s)
            if self.unsited_calls:
                await conn.execute("DELETE FROM calls WHERE id = %s", (self.unsited_calls[-1],))

    async def _replace_unsited_call(self, conn: psycopg.AsyncConnection[Any]) -> None:
        row = await (
            await conn.execute("INSERT INTO calls (site_id) VALUES (NULL) RETURNING id::text")
        ).fetchone()
        assert row is not None
        if self.unsited_calls:
            await conn.execute("DELETE FROM calls WHERE id = %s", (self.unsited_calls[-1],))
        self.unsited_calls.append(str(row[0]))


@dataclass
class RaceWriter:
    """Writes, on rows of one site until stopped, the histories a commit millisecond cannot order.

    Each round: a call and an intent inserted and updated in one transaction; the seal (the
    intent qualified, then sealed, in one transaction); two transactions on the call back to
    back, which often commit in the same millisecond; A, B, A on the call in one transaction; the
    intent taken back and sealed again in two transactions; every fifth round, while ``deletes``
    is set, the call deleted.
    """

    dsn: str
    site: str
    pause_s: float = 0.05
    rounds: int = 0
    deleted: int = 0
    deletes: asyncio.Event = field(default_factory=asyncio.Event)
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.deletes.set()
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> int:
        self._stop.set()
        assert self._task is not None
        await self._task
        return self.rounds

    async def _run(self) -> None:
        async with await psycopg.AsyncConnection.connect(self.dsn, autocommit=True) as conn:

            async def one(query: str, *params: Any) -> str:
                row = await (await conn.execute(query, params)).fetchone()
                assert row is not None
                return str(row[0])

            while not self._stop.is_set():
                async with conn.transaction():
                    call = await one(
                        "INSERT INTO calls (site_id) VALUES (%s) RETURNING id", self.site
                    )
                    await conn.execute(
                        "UPDATE calls SET status = 'answered' WHERE id = %s", (call,)
                    )
                    intent = await one(
                        "INSERT INTO intents (site_id, call_id) VALUES (%s, %s) RETURNING id",
                        self.site,
                        call,
                    )
                async with conn.transaction():
                    await conn.execute(
                        "UPDATE intents SET status = 'qualified' WHERE id = %s", (intent,)
                    )
                    await conn.execute(
                        "UPDATE intents SET status = 'sealed', sealed_at = now() WHERE id = %s",
                        (intent,),
                    )
                await conn.execute("UPDATE calls SET status = 'on_hold' WHERE id = %s", (call,))
                await conn.execute("UPDATE calls SET status = 'answered' WHERE id = %s", (call,))
                async with conn.transaction():
                    for status in ("ended", "answered", "ended"):
                        await conn.execute(
                            "UPDATE calls SET status = %s WHERE id = %s", (status, call)
                        )
                await conn.execute(
                    "UPDATE intents SET status = 'quoted', sealed_at = NULL WHERE id = %s",
                    (intent,),
                )
                await conn.execute(
                    "UPDATE intents SET status = 'sealed', sealed_at = now() WHERE id = %s",
                    (intent,),
                )
                if self.rounds % 5 == 4 and self.deletes.is_set():
                    await conn.execute("DELETE FROM calls WHERE id = %s", (call,))
                    self.deleted += 1
                self.rounds += 1
                await asyncio.sleep(self.pause_s)


async def database_rows(dsn: str) -> dict[tuple[str, str], dict[str, Any]]:
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    async with await psycopg.AsyncConnection.connect(dsn, row_factory=dict_row) as conn:
        for table in TABLES:
            query = sql.SQL("SELECT * FROM {}").format(sql.Identifier(table))
            for row in await (await conn.execute(query)).fetchall():
                record = canonical_row(dict(row), CATCHUP_COLUMN_TYPES[table])
                rows[(table, record["id"])] = record
    return rows


async def topic_changes(kafka: KafkaSettings, min_changes: int = 0) -> list[ChangeRecord]:
    assert kafka.bootstrap_servers is not None
    return await read_changes(
        kafka.bootstrap_servers, kafka.changes_topic, min_changes=min_changes, quiet_s=1.0
    )


async def quarantined_pushes(kafka: KafkaSettings) -> list[tuple[str, str, str]]:
    """``(table, op, row id)`` of every ingest reject on the quarantine topic, repeats kept."""
    assert kafka.bootstrap_servers is not None
    rejects = await read_rejected(kafka.bootstrap_servers, kafka.rejected_topic, quiet_s=1.0)
    keys = []
    for reject in rejects:
        assert reject.stage == "ingest" and reject.table is not None and reject.event_id
        row = reject.payload["record"] or reject.payload["old_record"]
        keys.append((reject.table, str(reject.payload["op"]), str(row["id"])))
    return keys


def missing_final_states(
    db: dict[tuple[str, str], dict[str, Any]], changes: list[ChangeRecord]
) -> list[tuple[str, str]]:
    """Rows whose current state no record in the topic carries."""
    seen: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for change in changes:
        if change.record is not None:
            seen[(change.table, str(change.record.get("id")))].append(change.record)
    return [key for key, row in db.items() if row not in seen.get(key, [])]


def pushed(changes: list[ChangeRecord]) -> list[ChangeRecord]:
    return [change for change in changes if change.source == "realtime"]


async def status_updates(kafka: KafkaSettings) -> list[PulseStatus]:
    assert kafka.bootstrap_servers is not None

    def decode(record: ConsumerRecord[bytes, bytes]) -> list[PulseStatus]:
        update = PulseStatus.model_validate_json(record.value)
        assert record.key == update.site_id.encode()
        return [update]

    return await read_topic(kafka.bootstrap_servers, kafka.updates_topic, decode, quiet_s=1.0)


def in_order(sequence: Sequence[str], expected: Sequence[str]) -> bool:
    """Whether ``expected`` occurs in ``sequence`` as a subsequence."""
    position = iter(sequence)
    return all(any(item == wanted for item in position) for wanted in expected)
