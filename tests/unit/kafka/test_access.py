"""What a failed connection to Kafka is reported as: one line naming the setting to check."""

from __future__ import annotations

import ssl

import pytest
from aiokafka.errors import (
    KafkaConnectionError,
    SaslAuthenticationFailed,
    UnsupportedSaslMechanismError,
)

from workers.kafka.access import KafkaAccessError, check_access, describe_failure, servers
from workers.kafka.security import ClientSecurity, SaslLogin
from workers.services.ports import free_port

SCRAM = ClientSecurity(
    protocol="SASL_SSL",
    ssl_context=ssl.create_default_context(),
    sasl=SaslLogin("SCRAM-SHA-512", "pulse", "not-this"),
)
PLAIN = ClientSecurity(protocol="PLAINTEXT", ssl_context=None, sasl=None)


def test_bootstrap_lists_are_split_into_hosts_and_ports() -> None:
    assert servers("a:1, b:2,,c") == [("a", 1), ("b", 2), ("c", 9092)]
    assert servers("[::1]:9093") == [("::1", 9093)]


def test_a_refused_login_names_the_user_and_the_password_settings() -> None:
    failures = [
        ("a:1", KafkaConnectionError("Connection at a:1 closed")),
        ("b:2", SaslAuthenticationFailed("Authentication failed during authentication")),
    ]
    line = describe_failure("a:1,b:2", failures, SCRAM)
    assert line.startswith("Kafka at b:2 refused the SCRAM-SHA-512 login")
    assert "KAFKA_SASL_USERNAME=pulse" in line and "KAFKA_SASL_PASSWORD" in line
    assert "not-this" not in line and "\n" not in line


def test_an_unknown_mechanism_names_the_mechanism_setting() -> None:
    failures = [("a:1", UnsupportedSaslMechanismError("enabled: PLAIN"))]
    assert "KAFKA_SASL_MECHANISM" in describe_failure("a:1", failures, SCRAM)


def test_an_untrusted_certificate_names_the_ca_file() -> None:
    error = ssl.SSLCertVerificationError(1, "certificate verify failed")
    error.verify_message = "unable to get local issuer certificate"
    line = describe_failure("a:1", [("a:1", error)], SCRAM)
    assert "unable to get local issuer certificate" in line
    assert "KAFKA_SSL_CA_FILE" in line and "KAFKA_SSL_CHECK_HOSTNAME" in line


def test_an_unreachable_broker_names_the_bootstrap_and_protocol_settings() -> None:
    failures = [("a:1", ConnectionRefusedError(111, "Connect call failed"))]
    line = describe_failure("a:1", failures, PLAIN)
    assert line.startswith("cannot reach Kafka at a:1")
    assert "KAFKA_BOOTSTRAP_SERVERS" in line and "KAFKA_SECURITY_PROTOCOL=PLAINTEXT" in line
    assert "Connect call failed" in line and "\n" not in line


async def test_a_closed_port_fails_the_check_with_one_line() -> None:
    bootstrap = f"127.0.0.1:{free_port()}"
    with pytest.raises(KafkaAccessError) as caught:
        await check_access(bootstrap, PLAIN, timeout_ms=2000)
    assert str(caught.value).startswith(f"cannot reach Kafka at {bootstrap}")
    assert "\n" not in str(caught.value)
