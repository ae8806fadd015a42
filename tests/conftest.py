"""Shared fixtures: one throwaway Postgres cluster and one Apache Kafka broker per test session.

``DATABASE_URL`` and ``KAFKA_BOOTSTRAP_SERVERS`` point the suite at existing servers instead;
where a Docker engine answers, testcontainers' Apache Kafka and Postgres are used; otherwise the
embedded services (initdb, and a KRaft node from the jars ``kafka_dist`` resolves).
Tests isolate themselves with a fresh database (``fresh_db``) and fresh topic names
(``kafka_settings``), never by restarting the shared services; a test that restarts Postgres
gets a cluster of its own (``own_cluster``), one that stops the broker a broker of its own
(``own_broker``).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

from workers.services.apache_kafka import ApacheKafka, start_kafka, throwaway_kafka
from workers.services.containers import (
    docker_available,
    kafka_container,
    kafka_image,
    postgres_container,
)
from workers.services.database import create_database, drop_database
from workers.services.postgres import PostgresCluster, start_postgres
from workers.settings import KafkaSettings


@pytest.fixture(scope="session")
def pg_admin_dsn() -> Iterator[str]:
    existing = os.environ.get("DATABASE_URL")
    if existing:
        yield existing
        return
    if docker_available():
        with postgres_container() as dsn:
            yield dsn
        return
    cluster = start_postgres()
    try:
        yield cluster.dsn
    finally:
        cluster.stop()


def announce(config: pytest.Config, line: str) -> None:
    """A line in the test log, whatever the capture mode: which broker the suite runs on."""
    capture = config.pluginmanager.get_plugin("capturemanager")
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if capture is None or reporter is None:
        return
    with capture.global_and_fixture_disabled():
        reporter.write_line(line)


@pytest.fixture(scope="session")
def bootstrap_servers(pytestconfig: pytest.Config) -> Iterator[str]:
    existing = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if existing:
        announce(pytestconfig, f"broker: the one at KAFKA_BOOTSTRAP_SERVERS={existing}")
        yield existing
        return
    if docker_available():
        with kafka_container() as bootstrap:
            announce(pytestconfig, f"broker: {kafka_image()} in Docker at {bootstrap}")
            yield bootstrap
        return
    broker = start_kafka(say=lambda line: announce(pytestconfig, line.strip()))
    announce(
        pytestconfig, f"broker: {broker.name} (embedded KRaft node) at {broker.bootstrap_servers}"
    )
    try:
        yield broker.bootstrap_servers
    finally:
        broker.stop()


@pytest.fixture
def fresh_db(pg_admin_dsn: str) -> Iterator[str]:
    """DSN of a new database with the project's schema; dropped (with its slots) afterwards."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    dsn = create_database(pg_admin_dsn, name)
    try:
        yield dsn
    finally:
        drop_database(pg_admin_dsn, name)


@pytest.fixture
def own_cluster() -> Iterator[PostgresCluster]:
    """A Postgres cluster of the test's own, for tests that stop and start the server."""
    cluster = start_postgres()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def own_broker() -> Iterator[ApacheKafka]:
    """An Apache Kafka broker of the test's own, for tests that pause, stop or restart it."""
    with throwaway_kafka(say=lambda line: None) as broker:
        yield broker


@pytest.fixture
def kafka_settings(bootstrap_servers: str) -> KafkaSettings:
    """Topic names unique to the test, so tests never see each other's records."""
    suffix = uuid.uuid4().hex[:8]
    return KafkaSettings(
        KAFKA_BOOTSTRAP_SERVERS=bootstrap_servers,
        PULSE_CHANGES_TOPIC=f"supabase_changes_{suffix}",
        PULSE_UPDATES_TOPIC=f"dashboard_updates_{suffix}",
        PULSE_REJECTED_TOPIC=f"supabase_changes_rejected_{suffix}",
        PULSE_PARTITIONS=4,
    )
