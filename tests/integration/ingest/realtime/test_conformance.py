"""The unmodified ``realtime`` client against the emulator: what it must do to pass for the server.

Each test drives real Postgres writes through the emulator's slot to the client, so it checks
the framing, the join/reply/system sequence and the payload shapes together.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator
from typing import Any

import orjson
import psycopg
import pytest
import websockets
from realtime import AsyncRealtimeClient, RealtimePostgresChangesListenEvent

from tests.cli_command import PULSE
from tests.integration.ingest.realtime.conftest import JWT_SECRET, RunningEmulator
from tests.integration.ingest.realtime.recorder import Recorder, subscribe_tables
from workers.emulator.config import EmulatorConfig
from workers.emulator.server import Emulator
from workers.emulator.tokens import mint_token
from workers.services.ports import free_port

pytestmark = pytest.mark.integration


TABLES = ["sessions", "calls", "intents"]


@pytest.fixture
async def client(emulator: RunningEmulator) -> AsyncIterator[AsyncRealtimeClient]:
    rt = AsyncRealtimeClient(
        emulator.realtime_url, token=emulator.service_key, timeout=2, initial_backoff=0.2
    )
    try:
        yield rt
    finally:
        await rt.close()


async def _site(dsn: str) -> str:
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        row = await (
            await conn.execute("INSERT INTO sites (name) VALUES ('s') RETURNING id::text")
        ).fetchone()
        assert row is not None
        return str(row[0])


async def _execute(dsn: str, statement: str, params: tuple[Any, ...] = ()) -> Any:
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        cursor = await conn.execute(statement, params)
        return await cursor.fetchone() if cursor.description else None


async def _live(
    client: AsyncRealtimeClient, recorder: Recorder, topic: str, tables: list[str], **extra: Any
) -> None:
    channel = subscribe_tables(client, topic, recorder, tables, **extra)
    await channel.subscribe(recorder.on_state)
    await recorder.wait_for(lambda: recorder.live_count() >= 1, "Subscribed to PostgreSQL")


async def test_subscribe_three_tables_reports_subscribed_then_system_ok(
    emulator: RunningEmulator, client: AsyncRealtimeClient
) -> None:
    recorder = Recorder()
    await _live(client, recorder, "three", TABLES)
    assert recorder.states == ["SUBSCRIBED"]
    assert recorder.system == [
        {
            "channel": "three",
            "extension": "postgres_changes",
            "message": "Subscribed to PostgreSQL",
            "status": "ok",
        }
    ]
    callbacks = client.channels["realtime:three"].postgres_changes_callbacks
    assert all(callback.id for callback in callbacks) and len({c.id for c in callbacks}) == 3
    counters = await emulator.control.counters()
    assert counters["joins"] == {"realtime:three": 1} and counters["heartbeats"] >= 1


async def test_insert_update_delete_key_sets_and_values(
    emulator: RunningEmulator, client: AsyncRealtimeClient
) -> None:
    recorder = Recorder()
    await _live(client, recorder, "crud", ["calls"])
    site = await _site(emulator.dsn)
    row = await _execute(
        emulator.dsn, "INSERT INTO calls (site_id) VALUES (%s) RETURNING id::text", (site,)
    )
    call_id = row[0]
    await _execute(emulator.dsn, "UPDATE calls SET status = 'answered' WHERE id = %s", (call_id,))
    await _execute(emulator.dsn, "ALTER TABLE calls REPLICA IDENTITY DEFAULT")
    await _execute(emulator.dsn, "UPDATE calls SET status = 'ended' WHERE id = %s", (call_id,))
    await _execute(emulator.dsn, "DELETE FROM calls WHERE id = %s", (call_id,))
    await recorder.wait_for(lambda: len(recorder.changes) >= 4, "four changes")
    insert, full_update, key_update, delete = (c["data"] for c in recorder.changes)
    common = {"schema", "table", "type", "commit_timestamp", "columns", "errors"}
    assert set(insert) == common | {"record"} and insert["type"] == "INSERT"
    assert set(full_update) == common | {"record", "old_record"}
    assert set(delete) == common | {"old_record"} and delete["type"] == "DELETE"
    assert insert["errors"] is None and insert["table"] == "calls" and insert["schema"] == "public"
    assert [c["name"] for c in insert["columns"]] == [
        "id",
        "site_id",
        "session_id",
        "status",
        "created_at",
        "updated_at",
        "row_version",
    ]
    assert {c["name"]: c["type"] for c in insert["columns"]}["created_at"] == "timestamptz"
    assert insert["record"]["id"] == call_id and insert["record"]["session_id"] is None
    assert (
        insert["record"]["created_at"].endswith("+00:00") and "T" in insert["record"]["created_at"]
    )
    assert insert["commit_timestamp"].endswith("Z") and len(insert["commit_timestamp"]) == len(
        "2025-11-19T00:22:40.877Z"
    )
    # REPLICA IDENTITY FULL (the project's default) gives the whole old row; DEFAULT gives the key.
    assert (
        full_update["old_record"]["status"] == "ringing"
        and full_update["record"]["status"] == "answered"
    )
    assert key_update["old_record"] == {"id": call_id}
    assert delete["old_record"] == {"id": call_id}
    assert all(c["ids"] for c in recorder.changes)


async def test_eq_and_in_filters_exclude_other_rows(
    emulator: RunningEmulator, client: AsyncRealtimeClient
) -> None:
    recorder = Recorder()
    channel = client.channel("filtered")
    channel.on_postgres_changes(
        RealtimePostgresChangesListenEvent.Insert,
        recorder.on_change,
        table="calls",
        filter="status=eq.wanted",
    )
    channel.on_postgres_changes(
        RealtimePostgresChangesListenEvent.Insert,
        recorder.on_change,
        table="intents",
        filter="status=in.(a,b)",
    )
    channel.on_system(recorder.on_system)
    await channel.subscribe(recorder.on_state)
    await recorder.wait_for(lambda: recorder.live_count() >= 1, "subscribed")
    site = await _site(emulator.dsn)
    for status in ("other", "wanted"):
        await _execute(
            emulator.dsn, "INSERT INTO calls (site_id, status) VALUES (%s, %s)", (site, status)
        )
    for status in ("a", "c", "b"):
        await _execute(
            emulator.dsn, "INSERT INTO intents (site_id, status) VALUES (%s, %s)", (site, status)
        )
    await recorder.wait_for(lambda: len(recorder.changes) >= 3, "three matching rows")
    await asyncio.sleep(0.5)
    seen = [(c["data"]["table"], c["data"]["record"]["status"]) for c in recorder.changes]
    assert seen == [("calls", "wanted"), ("intents", "a"), ("intents", "b")]


async def test_binding_mismatch_gives_channel_error(
    emulator: RunningEmulator, client: AsyncRealtimeClient
) -> None:
    await emulator.control.mismatch_join()
    recorder = Recorder()
    channel = subscribe_tables(client, "mismatch", recorder, ["calls"])
    await channel.subscribe(recorder.on_state)
    assert recorder.states[0] == "CHANNEL_ERROR"
    assert "mismatch between server and client bindings" in recorder.errors[0]


async def test_filter_and_publication_errors_arrive_as_system_errors(
    emulator: RunningEmulator, client: AsyncRealtimeClient
) -> None:
    await _execute(emulator.dsn, "CREATE TABLE unpublished (id int PRIMARY KEY)")
    recorder = Recorder()
    channel = client.channel("bad")
    channel.on_postgres_changes(
        RealtimePostgresChangesListenEvent.All, recorder.on_change, table="unpublished"
    )
    channel.on_system(recorder.on_system)
    await channel.subscribe(recorder.on_state)
    await recorder.wait_for(lambda: "CHANNEL_ERROR" in recorder.states, "channel error")
    assert recorder.states[0] == "SUBSCRIBED"
    assert "Unable to subscribe to changes with given parameters" in recorder.errors[0]
    other = Recorder()
    bad_filter = client.channel("badfilter")
    bad_filter.on_postgres_changes(
        RealtimePostgresChangesListenEvent.All,
        other.on_change,
        table="calls",
        filter="status=nope.x",
    )
    await bad_filter.subscribe(other.on_state)
    await other.wait_for(lambda: "CHANNEL_ERROR" in other.states, "filter error")
    assert "Error parsing `filter` params" in other.errors[0]


async def test_heartbeat_reply_and_v1_framing(emulator: RunningEmulator) -> None:
    url = f"ws://127.0.0.1:{emulator.emulator.port}/realtime/v1/websocket?apikey={emulator.service_key}&vsn=1.0.0"
    async with websockets.connect(url) as ws:
        await ws.send(
            '{"event":"heartbeat","payload":{},"topic":"phoenix","ref":null,"join_ref":null}'
        )
        assert orjson.loads(await ws.recv()) == {
            "topic": "phoenix",
            "event": "phx_reply",
            "payload": {"status": "ok", "response": {}},
            "ref": None,
        }
        await ws.send('{"event":"heartbeat","payload":{},"topic":"phoenix","ref":"7"}')
        assert orjson.loads(await ws.recv())["ref"] == "7"
        await ws.send('{"event":"phx_leave","payload":{},"topic":"realtime:nobody","ref":"8"}')
        assert orjson.loads(await ws.recv())["payload"] == {"status": "ok", "response": {}}
        await ws.send('{"event":"broadcast","payload":{},"topic":"realtime:nobody","ref":"9"}')
        assert orjson.loads(await ws.recv())["payload"] == {
            "status": "error",
            "response": {"reason": "unmatched topic"},
        }
        await ws.send('{"event":"no-ref"}')
        await ws.send(
            '{"event":"phx_join","payload":{},"topic":"realtime:","ref":"10","join_ref":"10"}'
        )
        assert orjson.loads(await ws.recv())["payload"]["response"] == {
            "reason": "TopicNameRequired: You must provide a topic name"
        }
    v2 = url.replace("vsn=1.0.0", "vsn=2.0.0")
    async with websockets.connect(v2) as ws:
        await ws.send('[null,"1","phoenix","heartbeat",{}]')
        assert orjson.loads(await ws.recv()) == [
            None,
            "1",
            "phoenix",
            "phx_reply",
            {"status": "ok", "response": {}},
        ]


async def test_connect_refusals(emulator: RunningEmulator) -> None:
    base = f"ws://127.0.0.1:{emulator.emulator.port}/realtime/v1/websocket"
    expired = mint_token(JWT_SECRET, ttl_s=-30)
    for query, status in (
        ("vsn=1.0.0", 401),
        (f"apikey={expired}&vsn=1.0.0", 401),
        ("apikey=bad&vsn=1.0.0", 401),
        (f"apikey={emulator.service_key}&vsn=3.0.0", 403),
    ):
        with pytest.raises(websockets.InvalidStatus) as refused:
            async with websockets.connect(f"{base}?{query}"):
                pass
        assert refused.value.response.status_code == status


async def test_dropped_socket_rejoins_and_misses_changes_meanwhile(
    emulator: RunningEmulator, client: AsyncRealtimeClient
) -> None:
    recorder = Recorder()
    await _live(client, recorder, "drop", ["sessions"])
    read_before = (await emulator.control.counters())["poller"]["changes_read"]
    site = await _site(emulator.dsn)
    while (await emulator.control.counters())["poller"]["changes_read"] <= read_before:
        await asyncio.sleep(0.05)
    # The rejoin's subscription goes live only 1.5 s later, as on the real server (0-3 s).
    await emulator.control.delay_subscribe(1500)
    await emulator.control.drop_socket(1006)
    await recorder.wait_for(lambda: "CHANNEL_ERROR" in recorder.states, "channel error")
    read_before = (await emulator.control.counters())["poller"]["changes_read"]
    await _execute(emulator.dsn, "INSERT INTO sessions (site_id) VALUES (%s)", (site,))
    await recorder.wait_for(lambda: len(recorder.states) >= 3, "SUBSCRIBED again")
    while (await emulator.control.counters())["poller"]["changes_read"] <= read_before:
        await asyncio.sleep(0.05)
    await recorder.wait_for(lambda: recorder.live_count() >= 2, "re-subscribed")
    await _execute(emulator.dsn, "INSERT INTO sessions (site_id) VALUES (%s)", (site,))
    await recorder.wait_for(lambda: len(recorder.changes) >= 1, "a change after the rejoin")
    await asyncio.sleep(0.5)
    assert recorder.states == ["SUBSCRIBED", "CHANNEL_ERROR", "SUBSCRIBED"]
    assert len(recorder.changes) == 1


async def test_late_join_reply_ends_in_duplicate_join_and_closed_channel(
    emulator: RunningEmulator, client: AsyncRealtimeClient
) -> None:
    await emulator.control.delay_join_reply(2600)
    recorder = Recorder()
    channel = subscribe_tables(client, "late", recorder, ["calls"])
    await channel.subscribe(recorder.on_state)
    assert recorder.states == ["TIMED_OUT"]
    await recorder.wait_for(
        lambda: "CLOSED" in recorder.states, "CLOSED after the duplicate join", within=10
    )
    assert recorder.states[-2:] == ["SUBSCRIBED", "CLOSED"]
    assert "realtime:late" not in client.channels
    counters = await emulator.control.counters()
    assert counters["duplicate_joins"] == {"realtime:late": 1}


async def test_token_expiry_sends_system_error_then_closes(emulator: RunningEmulator) -> None:
    client = AsyncRealtimeClient(emulator.realtime_url, token=emulator.service_key, timeout=2)
    try:
        await client.set_auth(mint_token(JWT_SECRET, role="authenticated", ttl_s=2))
        recorder = Recorder()
        await _live(client, recorder, "expiring", ["calls"])
        await recorder.wait_for(lambda: "CLOSED" in recorder.states, "CLOSED on expiry", within=8)
        assert recorder.states[-2:] == ["CHANNEL_ERROR", "CLOSED"]
        assert "Token has expired" in recorder.errors[-1]
    finally:
        await client.close()


async def test_restart_poller_leaves_a_gap(
    emulator: RunningEmulator, client: AsyncRealtimeClient
) -> None:
    recorder = Recorder()
    await _live(client, recorder, "gap", ["events"])
    site = await _site(emulator.dsn)
    await emulator.control.pause_poller()
    await _execute(
        emulator.dsn,
        "INSERT INTO events (site_id, session_id, name) VALUES (%s, gen_random_uuid(), 'lost')",
        (site,),
    )
    await asyncio.sleep(0.3)
    await emulator.control.restart_poller()
    await emulator.control.resume_poller()
    await _execute(
        emulator.dsn,
        "INSERT INTO events (site_id, session_id, name) VALUES (%s, gen_random_uuid(), 'kept')",
        (site,),
    )
    await recorder.wait_for(lambda: len(recorder.changes) >= 1, "the change after the restart")
    await asyncio.sleep(0.5)
    assert [c["data"]["record"]["name"] for c in recorder.changes] == ["kept"]
    assert recorder.states == ["SUBSCRIBED"]


async def test_idle_socket_is_closed(emulator: RunningEmulator) -> None:
    await emulator.control.set_idle_timeout(0.5)
    url = f"ws://127.0.0.1:{emulator.emulator.port}/socket/websocket?apikey={emulator.service_key}"
    async with websockets.connect(url) as ws:
        with pytest.raises(websockets.ConnectionClosed):
            await asyncio.wait_for(ws.recv(), timeout=5)


async def test_pulse_emulator_command_serves_the_client(fresh_db: str) -> None:
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        *PULSE,
        "emulator",
        "--port",
        str(port),
        "--jwt-secret",
        JWT_SECRET,
        env={**os.environ, "DATABASE_URL": fresh_db, "PULSE_LOG_FORMAT": "json"},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        assert process.stdout is not None
        lines = [(await asyncio.wait_for(process.stdout.readline(), 30)).decode() for _ in range(2)]
        printed = dict(line.strip().split("=", 1) for line in lines)
        assert printed["SUPABASE_URL"] == f"http://127.0.0.1:{port}"
        client = AsyncRealtimeClient(
            f"{printed['SUPABASE_URL']}/realtime/v1", token=printed["SUPABASE_SERVICE_KEY"]
        )
        recorder = Recorder()
        await _live(client, recorder, "cli", ["calls"])
        await client.close()
    finally:
        process.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(process.wait(), 20) == 0


async def test_table_without_primary_key_gets_the_error_payload(emulator: RunningEmulator) -> None:
    await _execute(emulator.dsn, "CREATE TABLE nopk (label text)")
    await _execute(emulator.dsn, "ALTER PUBLICATION supabase_realtime ADD TABLE nopk")
    url = f"ws://127.0.0.1:{emulator.emulator.port}/realtime/v1/websocket?apikey={emulator.service_key}&vsn=1.0.0"
    join = {
        "topic": "realtime:raw",
        "event": "phx_join",
        "payload": {
            "config": {"postgres_changes": [{"event": "*", "schema": "public", "table": "nopk"}]}
        },
        "ref": "1",
        "join_ref": "1",
    }
    async with websockets.connect(url) as ws:
        await ws.send(orjson.dumps(join).decode())
        reply = orjson.loads(await ws.recv())
        assert (
            reply["payload"]["status"] == "ok"
            and reply["payload"]["response"]["postgres_changes"][0]["table"] == "nopk"
        )
        assert orjson.loads(await ws.recv())["payload"]["message"] == "Subscribed to PostgreSQL"
        await _execute(emulator.dsn, "INSERT INTO nopk VALUES ('x')")
        push = orjson.loads(await asyncio.wait_for(ws.recv(), 10))
    assert push["event"] == "postgres_changes" and push["ref"] is None
    assert push["payload"]["data"] == {
        "schema": "public",
        "table": "nopk",
        "type": "INSERT",
        "commit_timestamp": None,
        "columns": [],
        "record": {},
        "errors": ["Error 400: Bad Request, no primary key"],
    }


async def test_rate_limit_drops_changes_while_on(
    emulator: RunningEmulator, client: AsyncRealtimeClient
) -> None:
    recorder = Recorder()
    await _live(client, recorder, "limited", ["sessions"])
    read_before = (await emulator.control.counters())["poller"]["changes_read"]
    site = await _site(emulator.dsn)
    while (await emulator.control.counters())["poller"]["changes_read"] <= read_before:
        await asyncio.sleep(0.05)
    await emulator.control.rate_limit_on()
    await _execute(emulator.dsn, "INSERT INTO sessions (site_id) VALUES (%s)", (site,))
    while (await emulator.control.counters())["changes_dropped"] < 1:
        await asyncio.sleep(0.05)
    await emulator.control.rate_limit_off()
    await _execute(emulator.dsn, "INSERT INTO sessions (site_id) VALUES (%s)", (site,))
    await recorder.wait_for(lambda: len(recorder.changes) >= 1, "the change after the limit")
    await asyncio.sleep(0.3)
    assert len(recorder.changes) == 1


async def test_publication_change_resubscribes_every_channel(fresh_db: str) -> None:
    instance = Emulator(EmulatorConfig(dsn=fresh_db, publication_check_s=0.3, poll_interval_ms=50))
    await instance.start()
    client = AsyncRealtimeClient(f"{instance.url}/realtime/v1", token="any-key")
    try:
        recorder = Recorder()
        await _live(client, recorder, "pub", ["calls"])
        await _execute(fresh_db, "CREATE TABLE extra (id int PRIMARY KEY)")
        await _execute(fresh_db, "ALTER PUBLICATION supabase_realtime ADD TABLE extra")
        await recorder.wait_for(
            lambda: recorder.live_count() >= 2, "a second Subscribed to PostgreSQL"
        )
        await _execute(fresh_db, "ALTER PUBLICATION supabase_realtime DROP TABLE calls")
        await recorder.wait_for(
            lambda: "CHANNEL_ERROR" in recorder.states, "the unpublished table's error"
        )
        assert "Unable to subscribe to changes" in recorder.errors[-1]
    finally:
        await client.close()
        await instance.stop()
