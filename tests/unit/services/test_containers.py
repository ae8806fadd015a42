from __future__ import annotations

from workers.services.containers import kafka_image, kraft_environment
from workers.services.kafka_dist import kafka_version


def test_docker_runs_the_same_kafka_as_the_embedded_broker() -> None:
    assert kafka_image() == f"apache/kafka:{kafka_version()}"


def test_one_kraft_node_advertises_the_host_port() -> None:
    env = kraft_environment(41234)
    assert env["KAFKA_ADVERTISED_LISTENERS"] == "PLAINTEXT://127.0.0.1:41234"
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    (voter,) = env["KAFKA_CONTROLLER_QUORUM_VOTERS"].split(",")
    assert voter.split("@")[0] == env["KAFKA_NODE_ID"]
    assert env["KAFKA_CONTROLLER_LISTENER_NAMES"] in env["KAFKA_LISTENERS"]
    # Transactions on a single node need these at 1 (the stream worker is exactly-once).
    assert env["KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR"] == "1"
    assert env["KAFKA_TRANSACTION_STATE_LOG_MIN_ISR"] == "1"
