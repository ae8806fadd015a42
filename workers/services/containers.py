"""Apache Kafka and Postgres in Docker (testcontainers), where a Docker engine answers.

The embedded services (``postgres.py``, ``broker.py``) are the default on machines without
Docker; with one, the test fixtures prefer these, which are the real Apache Kafka (KRaft, the
same version the embedded broker runs) and the official Postgres image with logical replication on.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from workers.services.kafka_dist import kafka_version
from workers.services.ports import free_port

POSTGRES_IMAGE = "postgres:15"
KAFKA_PORT = 9092
KAFKA_STARTED = "Kafka Server started"


def kafka_image() -> str:
    return f"apache/kafka:{kafka_version()}"


def kraft_environment(host_port: int) -> dict[str, str]:
    """apache/kafka settings of one broker-and-controller node that clients reach on the host.

    The broker advertises the host's port, which therefore has to be chosen before the start.
    """
    return {
        "KAFKA_NODE_ID": "1",
        "KAFKA_PROCESS_ROLES": "broker,controller",
        "KAFKA_CONTROLLER_QUORUM_VOTERS": "1@localhost:9093",
        "KAFKA_LISTENERS": f"PLAINTEXT://:{KAFKA_PORT},CONTROLLER://:9093",
        "KAFKA_ADVERTISED_LISTENERS": f"PLAINTEXT://127.0.0.1:{host_port}",
        "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "KAFKA_CONTROLLER_LISTENER_NAMES": "CONTROLLER",
        "KAFKA_INTER_BROKER_LISTENER_NAME": "PLAINTEXT",
        "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR": "1",
        "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR": "1",
        "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR": "1",
        "KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS": "0",
    }


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
    # testcontainers' KafkaContainer drives Confluent's images only; apache/kafka is configured
    # through its environment instead.
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.waiting_utils import wait_for_logs

    host_port = free_port()
    container = (
        DockerContainer(kafka_image())
        .with_bind_ports(KAFKA_PORT, host_port)
        .with_envs(**kraft_environment(host_port))
    )
    with container:
        wait_for_logs(container, KAFKA_STARTED, timeout=120)
        yield f"127.0.0.1:{host_port}"
