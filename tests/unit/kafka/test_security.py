"""Kafka TLS and SASL settings become the options every client is built with."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
from faust.auth import SASLCredentials, SSLCredentials
from pydantic import SecretStr

from tests.certificates import issue
from workers.kafka.security import resolve
from workers.settings import KafkaSecuritySettings, SettingError
from workers.stream.broker_credentials import faust_credentials


def settings(**values: object) -> KafkaSecuritySettings:
    return KafkaSecuritySettings.model_validate(values)


def test_plaintext_by_default_and_nothing_else(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("KAFKA_SECURITY_PROTOCOL", "KAFKA_SASL_USERNAME", "KAFKA_SSL_CA_FILE"):
        monkeypatch.delenv(name, raising=False)
    security = resolve(KafkaSecuritySettings())
    assert security.aiokafka_options() == {"security_protocol": "PLAINTEXT"}
    assert faust_credentials(security) is None


def test_sasl_ssl_with_scram_and_a_password_file(tmp_path: Path) -> None:
    files = issue(tmp_path / "certs")
    password_file = tmp_path / "password"
    password_file.write_text("s3cret\n")
    security = resolve(
        settings(
            KAFKA_SECURITY_PROTOCOL="SASL_SSL",
            KAFKA_SSL_CA_FILE=str(files.ca),
            KAFKA_SASL_MECHANISM="SCRAM-SHA-512",
            KAFKA_SASL_USERNAME="pulse",
            KAFKA_SASL_PASSWORD_FILE=str(password_file),
        )
    )
    options = security.aiokafka_options()
    assert options["security_protocol"] == "SASL_SSL"
    assert options["sasl_mechanism"] == "SCRAM-SHA-512"
    assert options["sasl_plain_username"] == "pulse"
    assert options["sasl_plain_password"] == "s3cret"
    context = options["ssl_context"]
    assert isinstance(context, ssl.SSLContext)
    assert context.check_hostname and context.verify_mode == ssl.CERT_REQUIRED
    credentials = faust_credentials(security)
    assert isinstance(credentials, SASLCredentials)
    assert credentials.protocol.value == "SASL_SSL"
    assert credentials.mechanism.value == "SCRAM-SHA-512"
    assert (credentials.username, credentials.password) == ("pulse", "s3cret")
    assert credentials.ssl_context is context


def test_sasl_plaintext_has_no_tls_context() -> None:
    security = resolve(
        settings(
            KAFKA_SECURITY_PROTOCOL="SASL_PLAINTEXT",
            KAFKA_SASL_USERNAME="pulse",
            KAFKA_SASL_PASSWORD="pw",
        )
    )
    assert "ssl_context" not in security.aiokafka_options()
    credentials = faust_credentials(security)
    assert isinstance(credentials, SASLCredentials)
    assert credentials.protocol.value == "SASL_PLAINTEXT"
    assert credentials.mechanism.value == "PLAIN"


def test_mutual_tls_loads_the_client_certificate_and_may_skip_the_hostname(
    tmp_path: Path,
) -> None:
    files = issue(tmp_path / "certs")
    security = resolve(
        settings(
            KAFKA_SECURITY_PROTOCOL="SSL",
            KAFKA_SSL_CA_FILE=str(files.ca),
            KAFKA_SSL_CERT_FILE=str(files.cert),
            KAFKA_SSL_KEY_FILE=str(files.key),
            KAFKA_SSL_CHECK_HOSTNAME="false",
        )
    )
    assert security.sasl is None and security.ssl_context is not None
    assert not security.ssl_context.check_hostname
    assert security.ssl_context.verify_mode == ssl.CERT_REQUIRED
    credentials = faust_credentials(security)
    assert isinstance(credentials, SSLCredentials)
    assert credentials.context is security.ssl_context


@pytest.mark.parametrize(
    ("values", "named"),
    [
        ({"KAFKA_SECURITY_PROTOCOL": "SASL_SSL"}, "KAFKA_SASL_USERNAME is not set"),
        (
            {"KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "KAFKA_SASL_USERNAME": "u"},
            "KAFKA_SASL_PASSWORD (or KAFKA_SASL_PASSWORD_FILE) is not set",
        ),
        (
            {
                "KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
                "KAFKA_SASL_USERNAME": "u",
                "KAFKA_SASL_PASSWORD": "p",
                "KAFKA_SASL_PASSWORD_FILE": "/etc/hostname",
            },
            "set KAFKA_SASL_PASSWORD or KAFKA_SASL_PASSWORD_FILE, not both",
        ),
        (
            {
                "KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
                "KAFKA_SASL_USERNAME": "u",
                "KAFKA_SASL_PASSWORD_FILE": "/nonexistent/password",
            },
            "KAFKA_SASL_PASSWORD_FILE: cannot read /nonexistent/password",
        ),
        (
            {"KAFKA_SECURITY_PROTOCOL": "SSL", "KAFKA_SSL_CA_FILE": "/nonexistent/ca.pem"},
            "KAFKA_SSL_CA_FILE: cannot load /nonexistent/ca.pem",
        ),
        (
            {"KAFKA_SECURITY_PROTOCOL": "SSL", "KAFKA_SSL_CERT_FILE": "/tmp/cert.pem"},
            "KAFKA_SSL_CERT_FILE and KAFKA_SSL_KEY_FILE go together",
        ),
        (
            {"KAFKA_SASL_USERNAME": "u", "KAFKA_SSL_CA_FILE": "/tmp/ca.pem"},
            "KAFKA_SSL_CA_FILE, KAFKA_SASL_USERNAME set, but KAFKA_SECURITY_PROTOCOL=PLAINTEXT",
        ),
    ],
)
def test_settings_that_cannot_work_name_the_variable(values: dict[str, str], named: str) -> None:
    with pytest.raises(SettingError) as caught:
        resolve(settings(**values))
    assert named in str(caught.value)
    assert "\n" not in str(caught.value)


def test_a_wrong_key_file_is_named(tmp_path: Path) -> None:
    files = issue(tmp_path / "certs")
    other = issue(tmp_path / "other")
    with pytest.raises(SettingError, match="KAFKA_SSL_CERT_FILE/KAFKA_SSL_KEY_FILE"):
        resolve(
            settings(
                KAFKA_SECURITY_PROTOCOL="SSL",
                KAFKA_SSL_CERT_FILE=str(files.cert),
                KAFKA_SSL_KEY_FILE=str(other.key),
            )
        )


def test_secrets_never_show_in_the_settings_repr() -> None:
    found = settings(
        KAFKA_SECURITY_PROTOCOL="SASL_PLAINTEXT",
        KAFKA_SASL_USERNAME="u",
        KAFKA_SASL_PASSWORD="hunter2",
    )
    assert isinstance(found.sasl_password, SecretStr)
    assert "hunter2" not in repr(found)
    assert "hunter2" not in repr(resolve(found))
