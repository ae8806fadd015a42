"""The embedded Apache Kafka's settings and cluster IDs."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from workers.services.apache_kafka import (
    SecuredListener,
    random_cluster_id,
    scram_arguments,
    server_properties,
)


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


def test_a_secured_node_adds_a_sasl_ssl_listener_with_scram() -> None:
    listener = SecuredListener(Path("/tmp/keystore.pem"), {"pulse": "s3cret"})
    properties = server_properties(9092, 9093, Path("/tmp/data"), 9094, listener)
    assert properties["listeners"].split(",") == [
        "PLAINTEXT://127.0.0.1:9092",
        "CONTROLLER://127.0.0.1:9093",
        "SASL_SSL://127.0.0.1:9094",
    ]
    assert "SASL_SSL://127.0.0.1:9094" in properties["advertised.listeners"]
    assert "SASL_SSL:SASL_SSL" in properties["listener.security.protocol.map"]
    assert properties["inter.broker.listener.name"] == "PLAINTEXT"
    assert properties["listener.name.sasl_ssl.ssl.keystore.location"] == "/tmp/keystore.pem"
    assert "ScramLoginModule" in properties["listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config"]
    assert scram_arguments({"pulse": "s3cret"}) == [
        "--add-scram=SCRAM-SHA-256=[name=pulse,password=s3cret]",
        "--add-scram=SCRAM-SHA-512=[name=pulse,password=s3cret]",
    ]


def test_scram_users_the_storage_tool_cannot_quote_are_refused() -> None:
    with pytest.raises(ValueError, match="cannot quote"):
        scram_arguments({"pulse": "a,b"})
