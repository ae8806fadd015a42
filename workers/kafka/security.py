"""How our Kafka clients authenticate and encrypt: the TLS and SASL settings, resolved.

Every client (aiokafka producers, consumers and admin clients, and the Faust worker's own) takes
its security options from here, so one set of variables reaches a secured cluster everywhere.
Secrets may come from files (``KAFKA_SASL_PASSWORD_FILE``, ``KAFKA_SSL_KEY_PASSWORD_FILE``), as
Kubernetes mounts them. A combination that cannot work, or a file that cannot be read, raises a
``SettingError`` whose message names the variable.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from workers.settings import (
    CA_FILE,
    CERT_FILE,
    KEY_FILE,
    KEY_PASSWORD,
    KEY_PASSWORD_FILE,
    PASSWORD,
    PASSWORD_FILE,
    PROTOCOL,
    USERNAME,
    KafkaSecuritySettings,
    SaslMechanism,
    SecurityProtocol,
    SettingError,
)


@dataclass(frozen=True)
class SaslLogin:
    mechanism: SaslMechanism
    username: str
    # Kept out of repr: a ClientSecurity may end up in a log line or a traceback.
    password: str = field(repr=False)


@dataclass(frozen=True)
class ClientSecurity:
    """The resolved security of our clients: secrets read, TLS context built."""

    protocol: SecurityProtocol
    ssl_context: ssl.SSLContext | None
    sasl: SaslLogin | None

    def aiokafka_options(self) -> dict[str, Any]:
        """Keyword arguments of aiokafka's producer, consumer and admin client."""
        options: dict[str, Any] = {"security_protocol": self.protocol}
        if self.ssl_context is not None:
            options["ssl_context"] = self.ssl_context
        if self.sasl is not None:
            options["sasl_mechanism"] = self.sasl.mechanism
            options["sasl_plain_username"] = self.sasl.username
            options["sasl_plain_password"] = self.sasl.password
        return options


def uses_tls(protocol: SecurityProtocol) -> bool:
    return protocol in ("SSL", "SASL_SSL")


def uses_sasl(protocol: SecurityProtocol) -> bool:
    return protocol in ("SASL_PLAINTEXT", "SASL_SSL")


def unused_variables(settings: KafkaSecuritySettings) -> list[str]:
    """Variables set that the chosen protocol ignores: almost certainly a mistake."""
    tls = {
        CA_FILE: settings.ssl_ca_file,
        CERT_FILE: settings.ssl_cert_file,
        KEY_FILE: settings.ssl_key_file,
        KEY_PASSWORD: settings.ssl_key_password,
        KEY_PASSWORD_FILE: settings.ssl_key_password_file,
    }
    sasl = {
        USERNAME: settings.sasl_username,
        PASSWORD: settings.sasl_password,
        PASSWORD_FILE: settings.sasl_password_file,
    }
    unused: list[str] = []
    if not uses_tls(settings.security_protocol):
        unused += [name for name, value in tls.items() if value is not None]
    if not uses_sasl(settings.security_protocol):
        unused += [name for name, value in sasl.items() if value is not None]
    return unused


def secret(value: SecretStr | None, file: Path | None, variable: str, file_variable: str) -> str:
    """A secret given directly or in a file, never both."""
    if value is not None and file is not None:
        raise SettingError(f"set {variable} or {file_variable}, not both")
    if file is None:
        return value.get_secret_value() if value is not None else ""
    try:
        return file.read_text(encoding="utf-8").rstrip("\r\n")
    except OSError as exc:
        raise SettingError(f"{file_variable}: cannot read {file}: {exc.strerror}") from None


def sasl_login(settings: KafkaSecuritySettings) -> SaslLogin:
    protocol = f"{PROTOCOL}={settings.security_protocol}"
    if not settings.sasl_username:
        raise SettingError(f"{USERNAME} is not set; it is needed with {protocol}")
    password = secret(settings.sasl_password, settings.sasl_password_file, PASSWORD, PASSWORD_FILE)
    if not password:
        raise SettingError(
            f"{PASSWORD} (or {PASSWORD_FILE}) is not set; it is needed with {protocol}"
        )
    return SaslLogin(settings.sasl_mechanism, settings.sasl_username, password)


def tls_context(settings: KafkaSecuritySettings) -> ssl.SSLContext:
    if (settings.ssl_cert_file is None) != (settings.ssl_key_file is None):
        raise SettingError(f"{CERT_FILE} and {KEY_FILE} go together: set both or neither")
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    if settings.ssl_ca_file is not None:
        try:
            context.load_verify_locations(cafile=str(settings.ssl_ca_file))
        except (OSError, ssl.SSLError) as exc:
            raise SettingError(f"{CA_FILE}: cannot load {settings.ssl_ca_file}: {exc}") from None
    if settings.ssl_cert_file is not None and settings.ssl_key_file is not None:
        key_password = secret(
            settings.ssl_key_password,
            settings.ssl_key_password_file,
            KEY_PASSWORD,
            KEY_PASSWORD_FILE,
        )
        try:
            context.load_cert_chain(
                str(settings.ssl_cert_file), str(settings.ssl_key_file), key_password or None
            )
        except (OSError, ssl.SSLError) as exc:
            raise SettingError(
                f"{CERT_FILE}/{KEY_FILE}: cannot load the client certificate: {exc}"
            ) from None
    context.check_hostname = settings.ssl_check_hostname
    return context


def resolve(settings: KafkaSecuritySettings) -> ClientSecurity:
    """Reads the secrets and builds the TLS context the settings describe."""
    unused = unused_variables(settings)
    if unused:
        raise SettingError(
            f"{', '.join(unused)} set, but {PROTOCOL}={settings.security_protocol} does not use it"
        )
    protocol = settings.security_protocol
    return ClientSecurity(
        protocol=protocol,
        ssl_context=tls_context(settings) if uses_tls(protocol) else None,
        sasl=sasl_login(settings) if uses_sasl(protocol) else None,
    )


def client_security() -> ClientSecurity:
    """The security the environment asks for, read afresh (a rotated secret file is picked up)."""
    return resolve(KafkaSecuritySettings())
