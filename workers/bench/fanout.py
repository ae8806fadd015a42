"""The fan-out stage: N SSE clients over M sites, fed by the whole pipeline.

Events are written to Postgres at a steady rate and go through the WAL ingest (in this process),
a stream worker and one gateway (child processes) to the clients of a separate load process.
Each client is a user of its own, member of one site, with a token signed by a secret made for
the run. The clients' latency is Postgres commit to the client's read; a subscriber of
``dashboard_updates`` measures the same updates up to Kafka, so the gap between the two is the
gateway's share.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

import jwt
import psycopg

from workers.bench.gateway_process import GatewayProcess, running_gateway
from workers.bench.latency import LatencyProbe
from workers.bench.live_ingest import running_wal_ingest
from workers.bench.load_process import load_process
from workers.bench.process_usage import cpu_seconds, cpu_wait_seconds, rss_mb
from workers.bench.results import FanoutFigures
from workers.bench.run import Say, fresh_topics
from workers.bench.worker_process import running_worker
from workers.kafka.topics import ensure_project_topics
from workers.services.embedded import Endpoints

WARM_UP_S = 10.0
TICK_S = 0.05
TOKEN_TTL_S = 4 * 3600
AUDIENCE = "authenticated"


@dataclass(frozen=True)
class FanoutOptions:
    clients: int = 10_000
    sites: int = 100
    # Events written per second; each yields an event_created and, per worker batch and site,
    # a kpi_updated, so the delivered rate is about 2 x rate x clients / sites at this size.
    rate: float = 250.0
    seconds: float = 60.0


@dataclass(frozen=True)
class Audience:
    sessions: list[tuple[str, str]]  # (site, session) to write events into
    clients: list[tuple[str, str]]  # (site, token) of each client


def client_sites(clients: int, site_ids: list[str]) -> list[str]:
    """The site of each client: as even a spread as ``clients`` allows."""
    return [site_ids[i % len(site_ids)] for i in range(clients)]


def user_token(user_id: str, secret: str, now: float) -> str:
    claims = {
        "sub": user_id,
        "aud": AUDIENCE,
        "role": "authenticated",
        "exp": int(now) + TOKEN_TTL_S,
    }
    return jwt.encode(claims, secret, algorithm="HS256")


def prepare_audience(dsn: str, options: FanoutOptions, secret: str) -> Audience:
    """The sites with a session each, and one member and token per client."""
    site_ids = [str(uuid.uuid4()) for _ in range(options.sites)]
    sessions = [(site, str(uuid.uuid4())) for site in site_ids]
    members = [(str(uuid.uuid4()), site) for site in client_sites(options.clients, site_ids)]
    with psycopg.connect(dsn) as conn, conn.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO sites (id, name) VALUES (%s, %s)",
            [(site, f"fanout {n}") for n, site in enumerate(site_ids)],
        )
        cursor.executemany(
            "INSERT INTO sessions (id, site_id) VALUES (%s, %s)",
            [(session, site) for site, session in sessions],
        )
        with cursor.copy("COPY site_members (user_id, site_id) FROM STDIN") as copy:
            for member in members:
                copy.write_row(member)
    now = time.time()
    return Audience(sessions, [(site, user_token(user, secret, now)) for user, site in members])


def write_events(
    dsn: str, sessions: list[tuple[str, str]], rate: float, stop: threading.Event
) -> int:
    """Events at ``rate`` per second, round-robin over the sessions, one transaction per tick,
    until ``stop`` is set; returns how many were committed."""
    written = 0
    started = time.monotonic()
    with psycopg.connect(dsn) as conn:
        while not stop.is_set():
            due = int((time.monotonic() - started) * rate) - written
            if due > 0:
                with conn.cursor() as cursor:
                    cursor.executemany(
                        "INSERT INTO events (session_id, site_id, name) VALUES (%s, %s, 'view')",
                        [
                            (session, site)
                            for site, session in (
                                sessions[(written + i) % len(sessions)] for i in range(due)
                            )
                        ],
                    )
                conn.commit()
                written += due
            stop.wait(TICK_S)
    return written


async def fanout_stage(
    services: Endpoints, options: FanoutOptions, partitions: int, figures: FanoutFigures, say: Say
) -> None:
    kafka = fresh_topics(services.bootstrap_servers, "fanout", partitions)
    await ensure_project_topics(services.bootstrap_servers, kafka)
    secret = secrets.token_urlsafe(32)
    say(f"fan-out: {options.clients:,} clients over {options.sites:,} sites ...")
    audience = await asyncio.to_thread(prepare_audience, services.dsn, options, secret)
    stop_writing = threading.Event()
    async with running_wal_ingest(services.dsn, kafka, "pulse_bench_fanout"):
        try:
            with (
                running_worker(services.dsn, kafka),
                running_gateway(services.dsn, kafka, secret) as gateway,
                load_process() as load,
            ):
                started = time.monotonic()
                connected = await load.connect("127.0.0.1", gateway.port, audience.clients)
                figures.connected = int(connected["connected"])
                say(
                    f"  {connected['connected']:,} connected, {connected['refused']:,} refused, "
                    f"{connected['failed']:,} failed in {time.monotonic() - started:.0f} s"
                )
                # Writing starts once every client is in: updates written while thousands connect
                # would pile up behind the connections and be timed as fan-out. The stream must then
                # run before the clock means anything: groups joined, fetches warm.
                writer = asyncio.create_task(
                    asyncio.to_thread(
                        write_events, services.dsn, audience.sessions, options.rate, stop_writing
                    )
                )
                await asyncio.sleep(WARM_UP_S)
                probe = LatencyProbe(
                    services.bootstrap_servers, kafka.updates_topic, kafka.changes_topic
                )
                await probe.start()
                say(f"  measuring for {options.seconds:.0f} s at {options.rate:,.0f} events/s ...")
                before = _usage(gateway)
                load_wait = cpu_wait_seconds(load.pid)
                load_average = os.getloadavg()[0]
                load.measure()
                await asyncio.sleep(options.seconds)
                after = _usage(gateway)
                load_wait = cpu_wait_seconds(load.pid) - load_wait
                load_average_end = os.getloadavg()[0]
                read = await load.stop()
                stop_writing.set()
                kafka_side = await probe.stop()
                written = await writer
        finally:
            stop_writing.set()
    seconds = after["wall"] - before["wall"]
    figures.delivered_rate = read["delivered"] / read["seconds"]
    figures.fanout_p50_ms, figures.fanout_p95_ms, figures.fanout_p99_ms = (
        read["p50_ms"],
        read["p95_ms"],
        read["p99_ms"],
    )
    figures.gateway_rss_mb = after["peak_rss"]
    figures.gateway_cpu_pct = (after["cpu"] - before["cpu"]) / seconds * 100
    queued = (after["queued"] - before["queued"]) / seconds
    closed = {key: value for key, value in after["closed"].items() if value}
    notes = [
        f"{written:,} events written",
        f"commit to dashboard_updates p50/p95/p99 {kafka_side.p50_ms:.0f}/"
        f"{kafka_side.p95_ms:.0f}/{kafka_side.p99_ms:.0f} ms",
        f"gateway queued {queued:,.0f} messages/s",
        f"gateway waited for a CPU {(after['wait'] - before['wait']) / seconds * 100:.0f} % "
        "of the window",
        f"load process CPU {read['cpu_s'] / read['seconds'] * 100:.0f} % of a core, waited for "
        f"one {load_wait / seconds * 100:.0f} %, RSS {read['rss_mb']:,.0f} MiB",
        f"{read['samples']:,} latency samples, max {read['max_ms']:,.0f} ms",
        f"streams lost while measuring {read['lost']:,}",
        f"machine load average (1 min) {load_average:.1f} at the start, "
        f"{load_average_end:.1f} at the end",
    ]
    if closed:
        notes.append("gateway closed " + ", ".join(f"{k} {v:,.0f}" for k, v in closed.items()))
    if connected["refused"] or connected["failed"]:
        notes.append(f"{connected['refused']:,} refused, {connected['failed']:,} failed to connect")
    for note in notes:
        figures.add_note(note)
    say(
        f"  {figures.delivered_rate:,.0f} messages/s delivered, p50 {read['p50_ms']:.0f} ms, "
        f"p95 {read['p95_ms']:.0f} ms, p99 {read['p99_ms']:.0f} ms; gateway RSS "
        f"{figures.gateway_rss_mb:,.0f} MiB, CPU {figures.gateway_cpu_pct:.0f} %"
    )
    say("  " + "; ".join(notes))


def _usage(gateway: GatewayProcess) -> dict[str, Any]:
    return {
        "wall": time.monotonic(),
        "cpu": cpu_seconds(gateway.pid),
        "wait": cpu_wait_seconds(gateway.pid),
        "peak_rss": rss_mb(gateway.pid)[1],
        "queued": gateway.counter("pulse_gateway_messages_total"),
        "closed": {
            reason: gateway.counter("pulse_gateway_streams_closed_total", reason=reason)
            for reason in ("slow_client", "client_gone")
        },
    }
