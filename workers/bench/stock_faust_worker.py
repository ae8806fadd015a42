"""The state floor's work in a stock Faust agent: ``python -m workers.bench.stock_faust_worker G``.

``G`` is Faust's ``processing_guarantee`` (``exactly_once`` or ``at_least_once``). The stream
worker commits its own transactions (``stream.checkpoint``) instead of using Faust's
exactly-once mode; this app measures what that mode costs on the same input. Per change it does
what the bench's ``state`` floor does (a lookup and a write in ``dedup`` and in ``entities``,
one record published), the way Faust's documentation writes it: one event at a time, tables
assigned key by key, and Faust committing (with ``exactly_once``: a transaction per source
partition on its commit timer). Configured by the environment like ``pulse worker``; only
``pulse bench`` starts it.
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any, Literal

import faust
import orjson
from prometheus_client import start_http_server

from workers.bench.floor import ROW_STATE_STAND_IN
from workers.kafka.topics import ensure_project_topics
from workers.logs import configure_logging
from workers.observability.metrics import RECORDS_IN
from workers.settings import KafkaSettings
from workers.stream.processing import decode_envelope, entity_key, event_parts
from workers.stream.rules.dedup import encode_seen
from workers.stream.settings import StreamSettings

Guarantee = Literal["exactly_once", "at_least_once"]
GUARANTEES: tuple[Guarantee, ...] = ("exactly_once", "at_least_once")


def build_app(guarantee: Guarantee, worker: StreamSettings, kafka: KafkaSettings) -> faust.App:
    assert kafka.bootstrap_servers
    app = faust.App(
        worker.app_id,
        broker=";".join(f"kafka://{s}" for s in kafka.bootstrap_servers.split(",")),
        store="rocksdb://",
        datadir=str(worker.data_dir),
        autodiscover=False,
        topic_partitions=kafka.partitions,
        consumer_auto_offset_reset="earliest",
        broker_commit_interval=1.0,
        processing_guarantee=guarantee,
        producer_acks=-1,
        key_serializer="raw",
        value_serializer="raw",
        web_enabled=False,
    )
    source = app.topic(kafka.changes_topic, key_type=bytes, value_type=bytes)
    output = app.topic(kafka.updates_topic, key_type=bytes, value_type=bytes)
    tables = {
        name: app.Table(
            name,
            partitions=kafka.partitions,
            key_type=bytes,
            value_type=bytes,
            options={"driver": "rocksdict"},
        )
        for name in ("dedup", "entities")
    }
    dedup, entities = tables["dedup"], tables["entities"]

    @app.agent(source)
    async def process(stream: Any) -> None:
        async for raw in stream:
            site, changes = decode_envelope(raw)
            for change in changes:
                event_id = change["event_id"]
                row = change["old_record"] if change["op"] == "DELETE" else change["record"]
                event_key = event_id.encode()
                row_key = entity_key(change["table"], row)
                dedup.get(event_key)
                entities.get(row_key)
                dedup[event_key] = encode_seen(event_parts(event_id)[0], change.get("lsn"))
                entities[row_key] = ROW_STATE_STAND_IN
                await output.send(key=site.encode(), value=orjson.dumps(change))
                RECORDS_IN.labels("stream", str(change["table"])).inc()

    return app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m workers.bench.stock_faust_worker",
        description="The state floor's work in a stock Faust agent, for pulse bench.",
    )
    parser.add_argument("guarantee", choices=GUARANTEES)
    args = parser.parse_args(argv)
    configure_logging()
    worker = StreamSettings()
    kafka = KafkaSettings()
    assert kafka.bootstrap_servers, "KAFKA_BOOTSTRAP_SERVERS is set by pulse bench"
    asyncio.run(ensure_project_topics(kafka.bootstrap_servers, kafka))
    asyncio.set_event_loop(asyncio.new_event_loop())
    if worker.metrics_port:
        start_http_server(worker.metrics_port, addr="127.0.0.1")
    app = build_app(args.guarantee, worker, kafka)
    faust_worker = faust.Worker(app, loglevel=worker.log_level, quiet=True)
    faust_worker.spinner = None
    faust_worker.execute_from_commandline()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
