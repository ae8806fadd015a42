"""The Realtime source with writes running: every fault leaves the topic holding every row's state.

What the source can promise, and what these tests check against Postgres: after recovery, the
topic holds the current state of every row (pushed, or re-read by a catch-up). Intermediate
versions committed while the stream was down are not recoverable (Realtime has no replay), and
neither are deletes made then; both are outside the claim.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Awaitable, Callable

import pytest

from tests.integration.ingest.realtime.conftest import JWT_SECRET, RunningEmulator
from tests.integration.ingest.realtime.harness import (
    RunningSource,
    Writer,
    database_rows,
    fast_options,
    in_order,
    make_sites,
    missing_final_states,
    pushed,
    start_source,
    status_updates,
    topic_changes,
)
from workers.emulator.tokens import mint_token
from workers.ingest.realtime.runner import RealtimeProgress
from workers.ingest.realtime.token import TokenSource
from workers.ingest.settings import RealtimeIngestSettings
from workers.settings import KafkaSettings

pytestmark = pytest.mark.integration

Fault = Callable[[RunningSource], Awaitable[None]]


async def with_writes_during(
    emulator: RunningEmulator,
    kafka: KafkaSettings,
    fault: Fault,
    *,
    options: RealtimeIngestSettings | None = None,
    token_source: TokenSource | None = None,
) -> tuple[RealtimeProgress, list[str]]:
    """Live source, writer started, ``fault`` injected (it waits for recovery), then catch-up."""
    sites = await make_sites(emulator.dsn)
    source = start_source(
        emulator.url,
        emulator.service_key,
        kafka,
        options or fast_options(),
        token_source=token_source,
    )
    try:
        await source.live()
        writer = Writer(emulator.dsn, sites)
        writer.start()
        await asyncio.sleep(0.5)
        await fault(source)
        await writer.stop()
        await source.catchups_after_now(2)
    finally:
        progress = await source.close()
    return progress, sites


async def test_dropped_socket_gap_is_filled_by_catch_up(
    emulator: RunningEmulator, kafka_settings: KafkaSettings
) -> None:
    sites = await make_sites(emulator.dsn)
    source = start_source(emulator.url, emulator.service_key, kafka_settings, fast_options())
    try:
        await source.live()
        await source.catchups_after_now(1)
        writer = Writer(emulator.dsn, sites)
        writer.start()
        await asyncio.sleep(1.0)
        # The rejoin's subscription goes live a second late: what is committed meanwhile is lost upstream.
        await emulator.control.delay_subscribe(1000)
        await emulator.control.drop_socket(1006)
        await asyncio.sleep(2.5)
        await writer.stop()
        await source.catchups_after_now(2)
    finally:
        progress = await source.close()
    changes = await topic_changes(kafka_settings)
    db = await database_rows(emulator.dsn)
    assert not missing_final_states(db, changes)
    # The gap was real: some final states never came as pushes, only through the catch-up.
    assert missing_final_states(db, pushed(changes))
    statuses = [t.status for t in progress.tracker.history]
    assert in_order(
        statuses, ["SUBSCRIBED", "LIVE", "CHANNEL_ERROR", "SUBSCRIBED", "LIVE", "OFFLINE"]
    )
    assert progress.catchup_rows > 0 and progress.pushes > 0
    published = [u.status for u in await status_updates(kafka_settings) if u.site_id == sites[0]]
    assert in_order(published, ["LIVE", "CHANNEL_ERROR", "SUBSCRIBED", "LIVE", "OFFLINE"])


async def test_late_join_reply_times_out_and_the_client_is_rebuilt(
    emulator: RunningEmulator, kafka_settings: KafkaSettings
) -> None:
    async def late_join(source: RunningSource) -> None:
        # The reconnect's join is answered after the client's 2 s timeout.
        await emulator.control.delay_join_reply(3000)
        await emulator.control.drop_socket(1011)
        await source.live(generation_at_least=2, within=20)
        await asyncio.sleep(0.5)

    progress, sites = await with_writes_during(emulator, kafka_settings, late_join)
    db = await database_rows(emulator.dsn)
    changes = await topic_changes(kafka_settings)
    assert not missing_final_states(db, changes)
    statuses = [t.status for t in progress.tracker.history]
    assert in_order(statuses, ["LIVE", "CHANNEL_ERROR", "TIMED_OUT", "SUBSCRIBED", "LIVE"])
    assert "CLOSED" not in statuses, (
        "a rebuilt client on a new topic never meets the duplicate-join close"
    )
    published = [u.status for u in await status_updates(kafka_settings) if u.site_id == sites[1]]
    assert in_order(published, ["LIVE", "CHANNEL_ERROR", "TIMED_OUT", "SUBSCRIBED", "LIVE"])


async def test_expired_token_closes_the_channel_and_a_fresh_token_resumes(
    emulator: RunningEmulator, kafka_settings: KafkaSettings
) -> None:
    minted: list[str] = []

    async def user_tokens() -> str:
        minted.append(
            mint_token(JWT_SECRET, role="authenticated", ttl_s=3600, sub=f"user-{len(minted)}")
        )
        return minted[-1]

    async def expire(source: RunningSource) -> None:
        await emulator.control.expire_token()
        await source.live(generation_at_least=2, within=20)
        await asyncio.sleep(0.5)

    progress, sites = await with_writes_during(
        emulator, kafka_settings, expire, token_source=user_tokens
    )
    db = await database_rows(emulator.dsn)
    assert not missing_final_states(db, await topic_changes(kafka_settings))
    statuses = [t.status for t in progress.tracker.history]
    assert in_order(statuses, ["LIVE", "CHANNEL_ERROR", "CLOSED", "SUBSCRIBED", "LIVE"])
    expired = [t.detail for t in progress.tracker.history if t.status == "CHANNEL_ERROR"]
    assert any("Token has expired" in (detail or "") for detail in expired)
    assert len(minted) >= 2
    published = [u for u in await status_updates(kafka_settings) if u.site_id == sites[0]]
    assert in_order(
        [u.status for u in published], ["LIVE", "CHANNEL_ERROR", "CLOSED", "SUBSCRIBED", "LIVE"]
    )
    assert any("Token has expired" in (u.detail or "") for u in published)


async def test_restarted_poller_gap_is_filled_by_the_periodic_catch_up(
    emulator: RunningEmulator, kafka_settings: KafkaSettings
) -> None:
    async def restart_poller(_source: RunningSource) -> None:
        # No status shows this gap: the slot is dropped with what it held, the channel stays joined.
        await emulator.control.pause_poller()
        await asyncio.sleep(1.0)
        await emulator.control.restart_poller()
        await emulator.control.resume_poller()
        await asyncio.sleep(1.0)

    progress, _sites = await with_writes_during(emulator, kafka_settings, restart_poller)
    db = await database_rows(emulator.dsn)
    changes = await topic_changes(kafka_settings)
    assert not missing_final_states(db, changes)
    assert missing_final_states(db, pushed(changes)), "the restart should have lost pushes"
    assert [t.status for t in progress.tracker.history][:2] == ["SUBSCRIBED", "LIVE"]
    assert "CHANNEL_ERROR" not in [t.status for t in progress.tracker.history]


async def test_dropped_and_duplicated_pushes(
    emulator: RunningEmulator, kafka_settings: KafkaSettings
) -> None:
    async def duplicate_then_drop(_source: RunningSource) -> None:
        await emulator.control.duplicate_next(5)
        await asyncio.sleep(0.5)
        await emulator.control.drop_next(5)
        await asyncio.sleep(1.0)

    await with_writes_during(emulator, kafka_settings, duplicate_then_drop)
    counters = await emulator.control.counters()
    assert counters["changes_dropped"] == 5
    changes = await topic_changes(kafka_settings)
    assert not missing_final_states(await database_rows(emulator.dsn), changes)
    ids = [c.event_id for c in pushed(changes)]
    assert len(ids) - len(set(ids)) >= 5, "a duplicated push carries the same event ID twice"


async def test_user_token_is_refreshed_before_it_expires(
    emulator: RunningEmulator, kafka_settings: KafkaSettings
) -> None:
    minted: list[str] = []

    async def short_tokens() -> str:
        minted.append(
            mint_token(JWT_SECRET, role="authenticated", ttl_s=4, sub=f"user-{len(minted)}")
        )
        return minted[-1]

    async def outlive_tokens(_source: RunningSource) -> None:
        await asyncio.sleep(5.5)

    progress, _sites = await with_writes_during(
        emulator,
        kafka_settings,
        outlive_tokens,
        options=fast_options(PULSE_REALTIME_TOKEN_MARGIN_S=2.5),
        token_source=short_tokens,
    )
    statuses = [t.status for t in progress.tracker.history]
    assert statuses.count("SUBSCRIBED") == 1 and "CLOSED" not in statuses, statuses
    counters = await emulator.control.counters()
    assert counters["access_tokens"] >= 3 and len(minted) >= 4
    # Each accepted token re-ran the subscription: "Subscribed to PostgreSQL" again, same channel.
    assert statuses.count("LIVE") >= 3
    # PostgREST got each fresh token too: no catch-up was refused for an expired JWT.
    assert progress.catchups >= 3 and progress.catchup_failures == 0
    assert not missing_final_states(
        await database_rows(emulator.dsn), await topic_changes(kafka_settings)
    )


async def test_sighup_rebuilds_the_client(
    emulator: RunningEmulator, kafka_settings: KafkaSettings
) -> None:
    await make_sites(emulator.dsn, 1)
    source = start_source(emulator.url, emulator.service_key, kafka_settings, fast_options())
    try:
        await source.live()
        os.kill(os.getpid(), signal.SIGHUP)
        await source.live(generation_at_least=2)
    finally:
        progress = await source.close()
    counters = await emulator.control.counters()
    assert len(counters["joins"]) == 2 and not counters["duplicate_joins"]
    assert [t.generation for t in progress.tracker.history if t.status == "LIVE"] == [1, 2]


async def test_client_that_gave_up_reconnecting_is_rebuilt(
    emulator: RunningEmulator, kafka_settings: KafkaSettings
) -> None:
    async def refuse_reconnects(source: RunningSource) -> None:
        # Longer than the client's two attempts: it gives up and tells nobody.
        await emulator.control.refuse_connections(5)
        await emulator.control.drop_socket(1012)
        await source.live(generation_at_least=2, within=25)
        await asyncio.sleep(0.5)

    options = fast_options(PULSE_REALTIME_MAX_RETRIES=2, PULSE_REALTIME_LIVE_DEADLINE_S=3)
    progress, _sites = await with_writes_during(
        emulator, kafka_settings, refuse_reconnects, options=options
    )
    assert not missing_final_states(
        await database_rows(emulator.dsn), await topic_changes(kafka_settings)
    )
    history = progress.tracker.history
    assert any("not live" in (t.detail or "") or t.status == "CHANNEL_ERROR" for t in history)
    assert in_order([t.status for t in history], ["LIVE", "CHANNEL_ERROR", "SUBSCRIBED", "LIVE"])


async def test_subscription_error_rebuilds_instead_of_rejoining_the_same_topic(
    emulator: RunningEmulator, kafka_settings: KafkaSettings
) -> None:
    await make_sites(emulator.dsn, 1)
    source = start_source(emulator.url, emulator.service_key, kafka_settings, fast_options())
    try:
        await source.live()
        await emulator.control.pg_subscription_error("Too many database timeouts")
        await source.live(generation_at_least=2)
        await asyncio.sleep(1.5)
    finally:
        progress = await source.close()
    counters = await emulator.control.counters()
    assert not counters["duplicate_joins"], (
        "a rejoin on the same socket would have been a duplicate join"
    )
    assert "CLOSED" not in [t.status for t in progress.tracker.history]
    assert in_order(
        [t.status for t in progress.tracker.history],
        ["LIVE", "CHANNEL_ERROR", "SUBSCRIBED", "LIVE"],
    )
