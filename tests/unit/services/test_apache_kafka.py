"""The embedded Apache Kafka's settings and cluster IDs."""

from __future__ import annotations

import base64
from pathlib import Path

from workers.services.apache_kafka import random_cluster_id, server_properties


def test_cluster_ids_are_sixteen_bytes_in_url_safe_base64() -> None:
    for _ in range(200):
        cluster_id = random_cluster_id()
        assert len(cluster_id) == 22
        assert len(base64.urlsafe_b64decode(cluster_id + "==")) == 16


def test_one_node_is_broker_and_controller_with_single_replica_internal_topics() -> None:
    properties = server_properties(9092, 9093, Path("/tmp/data"))
    assert properties["process.roles"] == "broker,controller"
    assert properties["controller.quorum.voters"] == "1@127.0.0.1:9093"
    assert properties["listeners"] == "PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093"
    assert properties["offsets.topic.replication.factor"] == "1"
    assert properties["transaction.state.log.replication.factor"] == "1"
    assert properties["transaction.state.log.min.isr"] == "1"
    assert properties["group.initial.rebalance.delay.ms"] == "0"
