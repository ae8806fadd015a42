"""The peer: the worker's work in a Quix Streams app, ``python -m workers.bench.peer_worker``.

Quix Streams is an optional extra (``pip install -e '.[peer]'``); only ``pulse bench`` starts
this module, configured by the environment like ``pulse worker``. The app is written the way
Quix's documentation writes one: a ``StreamingDataFrame`` over the source topic, one stateful
``apply`` per message (``peer_logic``) whose records are expanded into one output each, Quix's
RocksDB state with its changelog topics, and ``exactly-once`` processing with Quix's default
commit interval. Each output's timestamp is the time it was produced, as the worker's are, so
that the bench reads the same clock from both.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import psycopg
from prometheus_client import start_http_server
from quixstreams import Application, State

from workers.bench.peer_logic import process_message
from workers.kafka.topics import ensure_project_topics
from workers.logs import configure_logging
from workers.observability.metrics import RECORDS_IN, RECORDS_OUT
from workers.settings import DatabaseSettings, KafkaSettings
from workers.stream.session_lookup import QUERY, valid_uuids
from workers.stream.settings import StreamSettings

# The bench waits on these: changes consumed (read as the stream component, like every process
# it measures) and records handed to the producer, which it then reads back from the topic.
CONSUMED = RECORDS_IN.labels("stream", "all")
PRODUCED = RECORDS_OUT.labels("peer", "updates", "applied_change")


class PostgresSessionSites:
    """The worker's session lookup, synchronous as Quix's processing is."""

    def __init__(self, dsn: str | None) -> None:
        self._dsn = dsn
        self._conn: psycopg.Connection[tuple[str, str]] | None = None

    def __call__(self, session_ids: list[str]) -> dict[str, str]:
        wanted = valid_uuids(session_ids)
        if self._dsn is None or not wanted:
            return {}
        if self._conn is None:
            self._conn = psycopg.connect(self._dsn, autocommit=True)
        return {session: site for session, site in self._conn.execute(QUERY, (wanted,))}


def build_app(worker: StreamSettings, kafka: KafkaSettings, dsn: str | None) -> Application:
    assert kafka.bootstrap_servers
    app = Application(
        broker_address=kafka.bootstrap_servers,
        consumer_group=worker.app_id,
        auto_offset_reset="earliest",
        processing_guarantee="exactly-once",
        state_dir=str(worker.data_dir),
        loglevel="WARNING",
    )
    source = app.topic(kafka.changes_topic, key_deserializer="bytes", value_deserializer="bytes")
    output = app.topic(kafka.updates_topic, key_serializer="bytes", value_serializer="bytes")
    sessions_in_postgres = PostgresSessionSites(dsn)

    def process(raw: bytes, state: State[bytes, bytes]) -> list[bytes]:
        result = process_message(raw, state, sessions_in_postgres)
        # Outputs first: once the bench sees every change consumed, the output count is final.
        PRODUCED.inc(len(result.records))
        CONSUMED.inc(result.changes)
        return result.records

    def produced_now(_value: Any, _key: Any, _timestamp: int, _headers: Any) -> int:
        return int(time.time() * 1000)

    sdf = app.dataframe(source)
    sdf = sdf.apply(process, stateful=True, expand=True).set_timestamp(produced_now)
    sdf.to_topic(output)
    return app


def main() -> int:
    configure_logging()
    worker = StreamSettings()
    kafka = KafkaSettings()
    assert kafka.bootstrap_servers, "KAFKA_BOOTSTRAP_SERVERS is set by pulse bench"
    asyncio.run(ensure_project_topics(kafka.bootstrap_servers, kafka))
    if worker.metrics_port:
        start_http_server(worker.metrics_port, addr="127.0.0.1")
    build_app(worker, kafka, DatabaseSettings().database_url).run()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
