"""Apache Kafka and Postgres in Docker (testcontainers), where a Docker engine answers.

The embedded services (``postgres.py``, ``broker.py``) are the default on machines without
Docker; with one, the test fixtures prefer these, which are the real Apache Kafka (KRaft) and
the official Postgres image with logical replication on.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

POSTGRES_IMAGE = "postgres:15"
KAFKA_IMAGE = "confluentinc/cp-kafka:7.6.0"


def docker_available() -> bool:
    try:
        import docker

        docker.from_env(timeout=3).ping()
    except Exception:
        return False
    return True


@contextlib.contextmanager
def postgres_container() -> Iterator[str]:
    """Yield a superuser DSN of a Postgres container with ``wal_level=logical``."""
    from testcontainers.postgres import PostgresContainer

    container = PostgresContainer(
        POSTGRES_IMAGE, username="postgres", password="postgres", dbname="postgres", driver=None
    )
    container.with_command(
        "postgres -c wal_level=logical -c max_replication_slots=20 -c max_wal_senders=20"
    )
    with container:
        yield container.get_connection_url()


@contextlib.contextmanager
def kafka_container() -> Iterator[str]:
    """Yield the bootstrap address of a single-node Apache Kafka in KRaft mode."""
    from testcontainers.kafka import KafkaContainer

    with KafkaContainer(KAFKA_IMAGE).with_kraft() as container:
        yield container.get_bootstrap_server()
