"""The Faust worker's ``broker_credentials``, from the security every other client uses."""

from __future__ import annotations

from faust.auth import SASLCredentials, SSLCredentials
from faust.types.auth import CredentialsT

from workers.kafka.security import ClientSecurity


def faust_credentials(security: ClientSecurity) -> CredentialsT | None:
    """Faust's credentials object for ``security``; None means plaintext.

    Faust derives the protocol from the object: SASL credentials with a TLS context are SASL_SSL,
    without one SASL_PLAINTEXT; TLS credentials alone are SSL.
    """
    if security.sasl is not None:
        return SASLCredentials(
            username=security.sasl.username,
            password=security.sasl.password,
            ssl_context=security.ssl_context,
            mechanism=security.sasl.mechanism,
        )
    if security.ssl_context is not None:
        return SSLCredentials(security.ssl_context)
    return None
