"""The Realtime websocket side of the emulator: Phoenix sockets, channels and ``postgres_changes``.

Inbound frames of one socket are handled one at a time, as Phoenix's socket process does, so a
delayed join reply also delays everything the client sent after it (which is what makes a
late reply turn into a duplicate join). Outbound frames go through one queue per socket, so the
order the server decides (join reply, then the old channel's ``phx_close``) is the wire order.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from typing import Any

import psycopg
import structlog
from aiohttp import WSMsgType, web
from psycopg import sql

from workers.emulator.bindings import (
    FilterParseError,
    Subscription,
    binding_id,
    matches,
    parse_binding,
)
from workers.emulator.config import EmulatorConfig
from workers.emulator.faults import Counters, Faults
from workers.emulator.phoenix import (
    Frame,
    UnsupportedVsn,
    decode_frame,
    encode_frame,
    reply,
    serializer_for,
    system,
)
from workers.emulator.tokens import TokenCheck, check_token

log = structlog.get_logger("pulse.emulator.realtime")

SUBSCRIBED_MESSAGE = "Subscribed to PostgreSQL"
UNABLE = (
    "Unable to subscribe to changes with given parameters. "
    "Please check Realtime is enabled for the given connect parameters: "
)


@dataclass(eq=False)
class Channel:
    session: Session
    topic: str
    join_ref: str | None
    bindings: list[dict[str, Any]]
    token: str
    claims: dict[str, Any]
    subscriptions: list[Subscription] = field(default_factory=list)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    token_changed: asyncio.Event = field(default_factory=asyncio.Event)

    def stop(self) -> None:
        self.subscriptions = []
        current = asyncio.current_task()
        for task in self.tasks:
            if task is not current:
                task.cancel()


@dataclass(eq=False)
class Session:
    ws: web.WebSocketResponse
    request: web.Request
    serializer: str
    token: str
    channels: dict[str, Channel] = field(default_factory=dict)
    outbox: asyncio.Queue[Frame | None] = field(default_factory=asyncio.Queue)
    closed: bool = False

    def send(self, frame: Frame) -> None:
        if not self.closed:
            self.outbox.put_nowait(frame)

    def send_error(self, channel: Channel) -> None:
        """A channel crash as Phoenix 1.8 reports it: ``phx_error`` with the join ref, empty payload."""
        if self.channels.get(channel.topic) is channel:
            del self.channels[channel.topic]
        channel.stop()
        self.send(Frame(channel.topic, "phx_error", {}, channel.join_ref))

    async def write_loop(self) -> None:
        while True:
            frame = await self.outbox.get()
            if frame is None or self.ws.closed:
                return
            try:
                await self.ws.send_str(encode_frame(frame, self.serializer))
            except (ConnectionError, RuntimeError):
                return


def api_key(request: web.Request) -> str | None:
    return request.headers.get("x-api-key") or request.query.get("apikey")


class RealtimeServer:
    def __init__(self, config: EmulatorConfig, faults: Faults, counters: Counters) -> None:
        self.config = config
        self.faults = faults
        self.counters = counters
        self.sessions: set[Session] = set()
        self.revoked_tokens: set[str] = set()
        self.subscribe_delay_ms = config.subscribe_delay_ms
        self.idle_timeout_s = config.idle_timeout_s
        self.refuse_until = 0.0
        self._conn: psycopg.AsyncConnection[tuple[Any, ...]] | None = None
        self._db_lock = asyncio.Lock()

    # -- database look-ups (publication, columns, casts) -----------------------------------------

    async def _db(self) -> psycopg.AsyncConnection[tuple[Any, ...]]:
        if self._conn is None or self._conn.closed:
            self._conn = await psycopg.AsyncConnection.connect(self.config.dsn, autocommit=True)
        return self._conn

    async def published_tables(self) -> set[tuple[str, str]]:
        async with self._db_lock:
            conn = await self._db()
            rows = await (
                await conn.execute(
                    "SELECT schemaname::text, tablename::text FROM pg_publication_tables WHERE pubname = %s",
                    (self.config.publication,),
                )
            ).fetchall()
        return {(row[0], row[1]) for row in rows}

    async def _check_filters(self, subscription: Subscription) -> str | None:
        """The exception text the subscription trigger would raise, or None when the filters are valid."""
        if not subscription.conditions:
            return None
        async with self._db_lock:
            conn = await self._db()
            rows = await (
                await conn.execute(
                    "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a "
                    "JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
                    "WHERE n.nspname = %s AND c.relname = %s AND a.attnum > 0 AND NOT a.attisdropped",
                    (subscription.schema, subscription.table),
                )
            ).fetchall()
            types = dict(rows)
            for condition in subscription.conditions:
                if condition.column not in types:
                    return f"invalid column for filter {condition.column}"
                values = (
                    condition.value if isinstance(condition.value, tuple) else (condition.value,)
                )
                if condition.op == "is":
                    continue
                for value in values:
                    try:
                        await conn.execute(
                            sql.SQL("SELECT %s::text::{}").format(sql.SQL(types[condition.column])),
                            (value,),
                        )
                    except psycopg.Error:
                        return f"invalid input syntax for type {types[condition.column]}: {value!r}"
        return None

    async def close(self) -> None:
        if self._conn is not None:
            await self._conn.close()

    # -- the websocket endpoint ----------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.StreamResponse:
        delay_s = self.config.connect_error_delay_ms / 1000
        if time.monotonic() < self.refuse_until:
            return web.json_response(
                {"error": "Realtime is restarting, please standby"}, status=503
            )
        token = api_key(request)
        if not token:
            await asyncio.sleep(delay_s)
            return web.json_response({"error": "API key is missing"}, status=401)
        try:
            serializer = serializer_for(request.query.get("vsn"))
        except UnsupportedVsn as exc:
            return web.json_response({"error": str(exc)}, status=403)
        if not token.startswith("sb_"):
            verdict = check_token(token, self.config.jwt_secret)
            if verdict.error is not None:
                await asyncio.sleep(delay_s)
                return web.json_response({"error": verdict.error}, status=401)
        ws = web.WebSocketResponse(autoping=True, max_msg_size=5_000_000)
        if not ws.can_prepare(request).ok:
            return web.json_response({"error": "expected a websocket upgrade"}, status=400)
        await ws.prepare(request)
        session = Session(ws, request, serializer, token)
        self.sessions.add(session)
        self.counters.connections += 1
        writer = asyncio.create_task(session.write_loop())
        try:
            await self._receive_loop(session)
        finally:
            session.closed = True
            self.sessions.discard(session)
            for channel in session.channels.values():
                channel.stop()
            session.channels.clear()
            session.outbox.put_nowait(None)
            writer.cancel()
            with contextlib.suppress(Exception):
                await ws.close()
        return ws

    async def _receive_loop(self, session: Session) -> None:
        while not session.ws.closed:
            try:
                message = await asyncio.wait_for(session.ws.receive(), timeout=self.idle_timeout_s)
            except TimeoutError:
                log.info("emulator closing idle socket")
                await session.ws.close(code=1000)
                return
            if message.type in (
                WSMsgType.CLOSE,
                WSMsgType.CLOSING,
                WSMsgType.CLOSED,
                WSMsgType.ERROR,
            ):
                return
            if message.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
                continue
            frame = decode_frame(message.data, session.serializer)
            if frame is None:
                log.warning("emulator dropped a malformed frame")
                continue
            await self._dispatch(session, frame)

    async def _dispatch(self, session: Session, frame: Frame) -> None:
        if frame.topic == "phoenix" and frame.event == "heartbeat":
            self.counters.heartbeats += 1
            session.send(reply("phoenix", frame.ref, "ok", {}))
            return
        if frame.event == "phx_join":
            await self._join(session, frame)
            return
        channel = session.channels.get(frame.topic)
        if channel is None:
            if frame.event == "phx_leave":
                session.send(reply(frame.topic, frame.ref, "ok", {}))
            else:
                session.send(reply(frame.topic, frame.ref, "error", {"reason": "unmatched topic"}))
            return
        if frame.event == "phx_leave":
            session.send(reply(frame.topic, frame.ref, "ok", {}, channel.join_ref))
            self.close_channel(channel)
        elif frame.event == "access_token":
            self.counters.access_tokens += 1
            await self._access_token(channel, frame.payload)

    # -- channels ------------------------------------------------------------------------------------

    async def _join_error(self, session: Session, frame: Frame, reason: str) -> None:
        await asyncio.sleep(self.config.channel_error_backoff_ms / 1000)
        session.send(reply(frame.topic, frame.ref, "error", {"reason": reason}, frame.join_ref))

    async def _join(self, session: Session, frame: Frame) -> None:
        if not frame.topic.startswith("realtime:"):
            session.send(reply(frame.topic, frame.ref, "error", {"reason": "unmatched topic"}))
            return
        self.counters.joins[frame.topic] += 1
        delay_s = self.faults.take_join_delay_s()
        if delay_s:
            await asyncio.sleep(delay_s)
        if frame.topic == "realtime:":
            await self._join_error(
                session, frame, "TopicNameRequired: You must provide a topic name"
            )
            return
        old = session.channels.pop(frame.topic, None)
        if old is not None:
            self.counters.duplicate_joins[frame.topic] += 1
            old.stop()
        payload = frame.payload if isinstance(frame.payload, dict) else {}
        token = payload.get("access_token") or payload.get("user_token") or session.token
        if not isinstance(token, str) or token.startswith("sb_"):
            token = session.token
        verdict = self._verify(token)
        if verdict.claims is None:
            await self._join_error(session, frame, f"InvalidJWTToken: {verdict.error}")
            if old is not None:
                session.send(Frame(frame.topic, "phx_close", {}, old.join_ref))
            return
        if len(session.channels) >= self.config.max_channels_per_socket:
            await self._join_error(session, frame, "ChannelRateLimitReached: Too many channels")
            return
        config = payload.get("config") if isinstance(payload.get("config"), dict) else {}
        raw = config.get("postgres_changes") if isinstance(config, dict) else None
        bindings = [b for b in raw if isinstance(b, dict)] if isinstance(raw, list) else []
        echoed = [{**binding, "id": binding_id(binding)} for binding in bindings]
        if echoed and self.faults.take_mismatch():
            echoed[0] = {**echoed[0], "table": f"{echoed[0].get('table')}_mismatch"}
        channel = Channel(session, frame.topic, frame.join_ref, bindings, token, verdict.claims)
        session.channels[frame.topic] = channel
        session.send(
            reply(frame.topic, frame.ref, "ok", {"postgres_changes": echoed}, frame.join_ref)
        )
        if old is not None:
            session.send(Frame(frame.topic, "phx_close", {}, old.join_ref))
        if bindings:
            channel.tasks.append(asyncio.create_task(self._subscribe(channel)))
        if verdict.claims.get("exp") is not None:
            channel.tasks.append(asyncio.create_task(self._watch_expiry(channel)))

    async def _subscribe(self, channel: Channel) -> None:
        """Validate every binding and make it live, then tell the client, as ``postgres_subscribe``."""
        await asyncio.sleep(self.subscribe_delay_ms / 1000)
        published = await self.published_tables()
        subscriptions: list[Subscription] = []
        for binding in channel.bindings:
            try:
                subscription = parse_binding(binding)
            except FilterParseError as exc:
                self.system_error(
                    channel, "postgres_changes", f"Error parsing `filter` params: {exc}"
                )
                return
            tables = {t for s, t in published if subscription.schema in ("*", s)}
            if (subscription.table != "*" and subscription.table not in tables) or not tables:
                self.system_error(channel, "postgres_changes", UNABLE + subscription.describe())
                return
            problem = await self._check_filters(subscription)
            if problem is not None:
                self.system_error(
                    channel,
                    "postgres_changes",
                    "Unable to subscribe to changes with given parameters. An exception happened so "
                    f"please check your connect parameters: {subscription.describe()}. Exception: {problem}",
                )
                return
            subscriptions.append(subscription)
        if channel.session.channels.get(channel.topic) is not channel:
            return
        channel.subscriptions = subscriptions
        self.counters.subscribed[channel.topic] += 1
        channel.session.send(system(channel.topic, "postgres_changes", "ok", SUBSCRIBED_MESSAGE))

    def system_error(self, channel: Channel, extension: str, message: str) -> None:
        channel.session.send(system(channel.topic, extension, "error", message))

    def close_channel(self, channel: Channel, message: str | None = None) -> None:
        """Stop a channel; with a message, first the ``system`` error a shutdown sends."""
        if channel.session.channels.get(channel.topic) is channel:
            del channel.session.channels[channel.topic]
        channel.stop()
        if message is not None:
            self.system_error(channel, "system", message)
        channel.session.send(Frame(channel.topic, "phx_close", {}, channel.join_ref))

    async def _watch_expiry(self, channel: Channel) -> None:
        while True:
            exp = channel.claims.get("exp")
            if exp is None:
                return
            wait_s = min(self.config.token_check_max_s, float(exp) - time.time())
            if wait_s > 0:
                channel.token_changed.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(channel.token_changed.wait(), timeout=wait_s)
                continue
            ago = int(time.time() - float(exp))
            self.close_channel(channel, f"Token has expired {ago} seconds ago")
            return

    def _verify(self, token: str) -> TokenCheck:
        if token in self.revoked_tokens:
            return TokenCheck(None, "Token has expired 0 seconds ago")
        return check_token(token, self.config.jwt_secret)

    async def _access_token(self, channel: Channel, payload: Any) -> None:
        token = payload.get("access_token") if isinstance(payload, dict) else None
        if not isinstance(token, str) or token.startswith("sb_") or token == channel.token:
            return
        verdict = self._verify(token)
        if verdict.claims is None:
            self.close_channel(channel, verdict.error)
            return
        channel.token = token
        channel.claims = verdict.claims
        channel.token_changed.set()
        if channel.bindings:
            channel.tasks.append(asyncio.create_task(self._subscribe(channel)))

    # -- changes -------------------------------------------------------------------------------------

    async def deliver(self, data: dict[str, Any]) -> None:
        copies = self.faults.copies_of_next_change()
        if copies == 0:
            self.counters.changes_dropped += 1
            return
        for session in list(self.sessions):
            for channel in list(session.channels.values()):
                ids = [s.id for s in channel.subscriptions if matches(s, data)]
                if not ids:
                    continue
                for _ in range(copies):
                    self.counters.changes_sent[channel.topic] += 1
                    session.send(
                        Frame(channel.topic, "postgres_changes", {"ids": ids, "data": data}, None)
                    )

    async def watch_publication(self) -> None:
        """Re-read the publication; when it changed, every channel re-subscribes, as Realtime does."""
        previous = await self.published_tables()
        while True:
            await asyncio.sleep(self.config.publication_check_s)
            try:
                current = await self.published_tables()
            except psycopg.Error:
                continue
            if current != previous:
                log.info("publication changed; re-subscribing every channel")
                for session in list(self.sessions):
                    for channel in list(session.channels.values()):
                        channel.subscriptions = []
                        if channel.bindings:
                            channel.tasks.append(asyncio.create_task(self._subscribe(channel)))
            previous = current

    # -- faults --------------------------------------------------------------------------------------

    async def drop_sockets(self, code: int) -> int:
        sessions = list(self.sessions)
        for session in sessions:
            session.closed = True
            if code == 1006:
                transport = session.request.transport
                if transport is not None:
                    transport.abort()
            else:
                with contextlib.suppress(Exception):
                    await session.ws.close(code=code)
        return len(sessions)

    async def server_disconnect(self) -> int:
        sessions = list(self.sessions)
        for session in sessions:
            for channel in list(session.channels.values()):
                session.send(system(channel.topic, "system", "ok", "Server requested disconnect"))
        await asyncio.sleep(0.05)
        return await self.drop_sockets(1012)

    def channels(self, topic: str | None) -> list[Channel]:
        return [
            channel
            for session in self.sessions
            for channel in session.channels.values()
            if topic is None or channel.topic == topic
        ]

    def expire_tokens(self) -> int:
        closed = 0
        for channel in self.channels(None):
            self.revoked_tokens.add(channel.token)
            self.close_channel(channel, "Token has expired 0 seconds ago")
            closed += 1
        return closed
