"""Whether our clients can reach and log in to Kafka, told in one line that names what to fix.

aiokafka's clients log each failed bootstrap connection themselves and then raise a bare
"Unable to bootstrap", which hides a refused password or an untrusted certificate behind a
generic error. ``check_access`` connects once, as our clients would, before any of them starts,
and ``describe_failure`` turns what went wrong into one sentence naming the setting to check.
"""

from __future__ import annotations

import ssl
from collections.abc import Sequence

from aiokafka.conn import create_conn
from aiokafka.errors import (
    KafkaError,
    SaslAuthenticationFailed,
    UnsupportedSaslMechanismError,
)

from workers.kafka.security import ClientSecurity, client_security
from workers.settings import (
    CA_FILE,
    CERT_FILE,
    CHECK_HOSTNAME,
    MECHANISM,
    PASSWORD,
    PASSWORD_FILE,
    PROTOCOL,
    USERNAME,
)

BOOTSTRAP = "KAFKA_BOOTSTRAP_SERVERS"
CHECK_TIMEOUT_MS = 15_000


class KafkaAccessError(RuntimeError):
    """No bootstrap server accepted a connection and login; ``str()`` is the line to print."""


def servers(bootstrap: str) -> list[tuple[str, int]]:
    """``host:port`` pairs of a bootstrap list (port 9092 when left out)."""
    found: list[tuple[str, int]] = []
    for item in bootstrap.split(","):
        item = item.strip()
        if not item:
            continue
        host, _, port = item.rpartition(":")
        if not host or not port.isdigit():
            host, port = item, "9092"
        found.append((host.strip("[]"), int(port)))
    return found


def _reason(error: BaseException) -> str:
    return str(error) or type(error).__name__


def describe_failure(
    bootstrap: str, failures: Sequence[tuple[str, BaseException]], client: ClientSecurity
) -> str:
    """One line for the most telling of ``failures`` (server, error), naming the setting."""
    for server, error in failures:
        if isinstance(error, SaslAuthenticationFailed) and client.sasl is not None:
            return (
                f"Kafka at {server} refused the {client.sasl.mechanism} login of "
                f"{USERNAME}={client.sasl.username}: check {PASSWORD} "
                f"(or {PASSWORD_FILE}) and {MECHANISM}"
            )
        if isinstance(error, UnsupportedSaslMechanismError):
            return f"Kafka at {server} refused {MECHANISM}: {_reason(error)}"
    for server, error in failures:
        if isinstance(error, ssl.SSLCertVerificationError):
            return (
                f"TLS to Kafka at {server} failed: {error.verify_message}: check "
                f"{CA_FILE} (and {CHECK_HOSTNAME} for a name mismatch)"
            )
        if isinstance(error, ssl.SSLError):
            return (
                f"TLS to Kafka at {server} failed ({error.reason or _reason(error)}): check "
                f"{PROTOCOL} and the client certificate ({CERT_FILE})"
            )
    detail = "; ".join(f"{server}: {_reason(error)}" for server, error in failures)
    return (
        f"cannot reach Kafka at {bootstrap} (check {BOOTSTRAP}, and "
        f"{PROTOCOL}={client.protocol} matches the listener): {detail}"
    )


async def check_access(
    bootstrap: str, client: ClientSecurity | None = None, timeout_ms: int = CHECK_TIMEOUT_MS
) -> None:
    """Returns once a bootstrap server accepts a connection (and the login, with SASL)."""
    client = client or client_security()
    addresses = servers(bootstrap)
    if not addresses:
        raise KafkaAccessError(f"{BOOTSTRAP}={bootstrap!r} names no server")
    failures: list[tuple[str, BaseException]] = []
    for host, port in addresses:
        try:
            connection = await create_conn(
                host,
                port,
                request_timeout_ms=timeout_ms,
                ssl_context=client.ssl_context,
                security_protocol=client.protocol,
                sasl_mechanism=client.sasl.mechanism if client.sasl else None,
                sasl_plain_username=client.sasl.username if client.sasl else None,
                sasl_plain_password=client.sasl.password if client.sasl else None,
            )
        except (TimeoutError, OSError, KafkaError) as exc:
            failures.append((f"{host}:{port}", exc))
            continue
        connection.close()
        return
    raise KafkaAccessError(describe_failure(bootstrap, failures, client))
