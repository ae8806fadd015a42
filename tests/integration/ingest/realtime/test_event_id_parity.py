"""Event IDs from real pgoutput bytes (the WAL path) and from the emulator's pushes, same changes."""

from __future__ import annotations

import asyncio
import secrets

import psycopg
import pytest
from realtime import AsyncRealtimeClient

from schemas.changes import ChangeRecord
from tests.integration.ingest.realtime.conftest import RunningEmulator
from tests.integration.ingest.realtime.recorder import Recorder, subscribe_tables
from workers.changes.keying import KeyedChange
from workers.ingest.realtime.changes import change_from_push
from workers.ingest.wal.pgoutput import decode
from workers.ingest.wal.transactions import TransactionAssembler

pytestmark = pytest.mark.integration


async def test_pushes_carry_the_event_ids_of_the_decoded_wal(emulator: RunningEmulator) -> None:
    async with await psycopg.AsyncConnection.connect(emulator.dsn, autocommit=True) as slot_conn:
        await slot_conn.execute(
            "SELECT pg_create_logical_replication_slot('parity', 'pgoutput', true)"
        )
        client = AsyncRealtimeClient(emulator.realtime_url, token=emulator.service_key)
        recorder = Recorder()
        try:
            channel = subscribe_tables(client, "parity", recorder, ["sessions", "events"])
            await channel.subscribe(recorder.on_state)
            await recorder.wait_for(lambda: recorder.live_count() >= 1, "subscribed")
            big = secrets.token_hex(8000)  # stored out of line, so an UPDATE leaves it "unchanged"
            async with await psycopg.AsyncConnection.connect(emulator.dsn, autocommit=True) as conn:
                site = (
                    await (
                        await conn.execute("INSERT INTO sites (name) VALUES ('p') RETURNING id")
                    ).fetchone()
                    or [None]
                )[0]
                session = (
                    await (
                        await conn.execute(
                            "INSERT INTO sessions (site_id) VALUES (%s) RETURNING id", (site,)
                        )
                    ).fetchone()
                    or [None]
                )[0]
                event = (
                    await (
                        await conn.execute(
                            "INSERT INTO events (site_id, session_id, name) VALUES (%s, %s, %s) RETURNING id",
                            (site, session, big),
                        )
                    ).fetchone()
                    or [None]
                )[0]
                async with conn.transaction():
                    await conn.execute(
                        "UPDATE sessions SET last_seen_at = now() + interval '1 s' WHERE id = %s",
                        (session,),
                    )
                    await conn.execute(
                        "UPDATE sessions SET last_seen_at = now() + interval '2 s' WHERE id = %s",
                        (session,),
                    )
                await conn.execute(
                    "UPDATE events SET session_id = gen_random_uuid() WHERE id = %s", (event,)
                )
                await conn.execute("DELETE FROM events WHERE id = %s", (event,))
            await recorder.wait_for(lambda: len(recorder.changes) >= 6, "six pushes")
        finally:
            await client.close()
        await asyncio.sleep(0.3)
        rows = await (
            await slot_conn.execute(
                "SELECT lsn::text, data FROM pg_logical_slot_get_binary_changes('parity', NULL, NULL, "
                "'proto_version', '1', 'publication_names', 'supabase_realtime')"
            )
        ).fetchall()
    assembler = TransactionAssembler()
    wal: list[ChangeRecord] = []
    for position, (_lsn, data) in enumerate(rows):
        for item in assembler.feed(decode(bytes(data)), position):
            if isinstance(item, KeyedChange) and item.table in ("sessions", "events"):
                wal.append(ChangeRecord.model_validate(item.body))
    pushes = [change_from_push(payload) for payload in recorder.changes]
    assert all(isinstance(p, ChangeRecord) for p in pushes)
    assert [p.event_id for p in pushes if isinstance(p, ChangeRecord)] == [c.event_id for c in wal]
    assert [(p.record, p.old_record) for p in pushes if isinstance(p, ChangeRecord)] == [
        (c.record, c.old_record) for c in wal
    ]
    updated = next(c for c in wal if c.table == "events" and c.op == "UPDATE")
    assert updated.record is not None and updated.record["name"] == big
    assert len({c.event_id for c in wal if c.table == "sessions"}) == 3
