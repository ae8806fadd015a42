"""A throwaway Apache Kafka broker: one KRaft node (broker and controller) on free loopback ports.

The jars come from ``kafka_dist``; the node's configuration, metadata and logs live in a temp
directory that ``stop`` removes. Unlike the memory-only fallback broker, its data survive
``restart``, and a SIGTERM gives the controlled shutdown a real deployment sees.

An optional second listener speaks SASL_SSL with SCRAM logins, as managed clusters do; its users
are written into the metadata when the log directory is formatted, with Kafka's own storage tool.
"""

from __future__ import annotations

import base64
import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from workers.services import lifeline
from workers.services.kafka_dist import kafka_classpath, kafka_version, require_java
from workers.services.ports import free_port, wait_for_port

# Capped for machines that also run PostgreSQL, the workers and the tests on two cores; G1 with
# short pauses, as Kafka's own start script passes.
DEFAULT_HEAP = "512m"
JVM_FLAGS = [
    "-XX:+UseG1GC",
    "-XX:MaxGCPauseMillis=20",
    "-XX:InitiatingHeapOccupancyPercent=35",
    "-XX:+ExplicitGCInvokesConcurrent",
    "-Djava.awt.headless=true",
]
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 30.0

LOG4J = """\
log4j.rootLogger=WARN, file
log4j.appender.file=org.apache.log4j.FileAppender
log4j.appender.file.File={logfile}
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.server.KafkaRaftServer=INFO
"""


SCRAM_MECHANISMS = ("SCRAM-SHA-256", "SCRAM-SHA-512")
SCRAM_LOGIN = "org.apache.kafka.common.security.scram.ScramLoginModule required;"


@dataclass(frozen=True)
class SecuredListener:
    """A SASL_SSL listener: TLS with ``keystore``, a PEM file holding the broker's unencrypted
    PKCS#8 private key and its certificate chain, and SCRAM logins (both SHA-256 and SHA-512)
    for ``users``, name to password."""

    keystore: Path
    users: Mapping[str, str]


def secured_properties(listener: SecuredListener) -> dict[str, str]:
    """What the SASL_SSL listener adds to (or changes in) a node's settings."""
    properties = {
        "sasl.enabled.mechanisms": ",".join(SCRAM_MECHANISMS),
        "listener.name.sasl_ssl.ssl.keystore.type": "PEM",
        "listener.name.sasl_ssl.ssl.keystore.location": str(listener.keystore),
    }
    for mechanism in SCRAM_MECHANISMS:
        properties[f"listener.name.sasl_ssl.{mechanism.lower()}.sasl.jaas.config"] = SCRAM_LOGIN
    return properties


def scram_arguments(users: Mapping[str, str]) -> list[str]:
    """``kafka-storage format`` arguments that create ``users`` with every SCRAM mechanism."""
    arguments: list[str] = []
    for name, password in users.items():
        if not name.isidentifier() or any(c in password for c in ',[]="\\'):
            raise ValueError(f"the storage tool cannot quote SCRAM user {name!r} or its password")
        for mechanism in SCRAM_MECHANISMS:
            arguments.append(f"--add-scram={mechanism}=[name={name},password={password}]")
    return arguments


def server_properties(
    port: int,
    controller_port: int,
    log_dir: Path,
    secured_port: int | None = None,
    secured: SecuredListener | None = None,
) -> dict[str, str]:
    """A single node's settings: every internal topic with one replica, groups formed at once."""
    listeners = [f"PLAINTEXT://127.0.0.1:{port}", f"CONTROLLER://127.0.0.1:{controller_port}"]
    advertised = [f"PLAINTEXT://127.0.0.1:{port}"]
    protocols = ["PLAINTEXT:PLAINTEXT", "CONTROLLER:PLAINTEXT"]
    extra: dict[str, str] = {}
    if secured is not None and secured_port is not None:
        listeners.append(f"SASL_SSL://127.0.0.1:{secured_port}")
        advertised.append(f"SASL_SSL://127.0.0.1:{secured_port}")
        protocols.append("SASL_SSL:SASL_SSL")
        extra = secured_properties(secured)
    return {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.voters": f"1@127.0.0.1:{controller_port}",
        "listeners": ",".join(listeners),
        "advertised.listeners": ",".join(advertised),
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": ",".join(protocols),
        "log.dirs": str(log_dir),
        "num.partitions": "1",
        "offsets.topic.replication.factor": "1",
        "offsets.topic.num.partitions": "8",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "transaction.state.log.num.partitions": "8",
        "group.initial.rebalance.delay.ms": "0",
        "auto.create.topics.enable": "true",
        **extra,
    }


def random_cluster_id() -> str:
    """A cluster ID as Kafka writes them: 16 random bytes, URL-safe base64 without padding."""
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()


@dataclass
class ApacheKafka:
    port: int
    controller_port: int
    home: Path
    command: list[str]
    version: str
    process: subprocess.Popen[bytes] | None = None
    pid: int = 0
    secured_port: int | None = None
    _stopped: bool = field(default=False)

    @property
    def name(self) -> str:
        return f"Apache Kafka {self.version}"

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def secured_bootstrap_servers(self) -> str:
        """The SASL_SSL listener's address (only with a ``SecuredListener``)."""
        if self.secured_port is None:
            raise RuntimeError(f"{self.name} was started without a secured listener")
        return f"127.0.0.1:{self.secured_port}"

    @property
    def files(self) -> Path:
        return self.home

    @property
    def logfile(self) -> Path:
        return self.home / "server.log"

    def launch(self) -> None:
        with (self.home / "stdout.log").open("ab") as out:
            self.process = subprocess.Popen(
                self.command,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self.pid = self.process.pid
        lifeline.watch(self.pid)
        try:
            wait_for_port(self.port, START_TIMEOUT_S, f"{self.name}")
        except TimeoutError as exc:
            raise TimeoutError(f"{exc}\n{self.log_tail()}") from exc

    def log_tail(self, lines: int = 20) -> str:
        text = ""
        for path in (self.home / "stdout.log", self.logfile):
            with contextlib.suppress(OSError):
                text += "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) + "\n"
        return text.strip()

    def pause(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)

    def shutdown(self) -> None:
        """A controlled shutdown (SIGTERM), killed if it takes longer than STOP_TIMEOUT_S."""
        process = self.process
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(signal.SIGCONT)
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        lifeline.forget(process.pid)
        self.process = None

    def restart(self) -> None:
        """Stop the node and start it again on the same ports, with the data it had."""
        self.shutdown()
        self.launch()

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        self.shutdown()
        shutil.rmtree(self.home, ignore_errors=True)
        lifeline.forget_path(self.home)


def start_kafka(
    say: Callable[[str], None] = print,
    heap: str | None = None,
    secured: SecuredListener | None = None,
) -> ApacheKafka:
    """Format and start a fresh node; ``PULSE_KAFKA_HEAP`` (default 512m) caps its heap.

    With ``secured``, the node also listens on a SASL_SSL port (``secured_bootstrap_servers``).
    """
    java = require_java()
    classpath = kafka_classpath(say)
    home = Path(tempfile.mkdtemp(prefix="pulse-kafka-"))
    lifeline.watch_path(home)
    ports = distinct_free_ports(3 if secured else 2)
    port, controller_port = ports[0], ports[1]
    secured_port = ports[2] if secured else None
    config = home / "server.properties"
    properties = server_properties(port, controller_port, home / "data", secured_port, secured)
    config.write_text("".join(f"{key}={value}\n" for key, value in properties.items()))
    log4j = home / "log4j.properties"
    log4j.write_text(LOG4J.format(logfile=home / "server.log"))
    heap = heap or os.environ.get("PULSE_KAFKA_HEAP") or DEFAULT_HEAP
    jvm = [
        java,
        f"-Xmx{heap}",
        "-Xms128m",
        *JVM_FLAGS,
        f"-Dlog4j.configuration=file:{log4j}",
        "-cp",
        f"{classpath}/*",
    ]
    broker = ApacheKafka(
        port=port,
        controller_port=controller_port,
        home=home,
        command=[*jvm, "kafka.Kafka", str(config)],
        version=kafka_version(),
        secured_port=secured_port,
    )
    try:
        formatted = subprocess.run(
            [
                *jvm,
                "kafka.tools.StorageTool",
                "format",
                # One argument with "=": an ID may start with "-", which argparse takes for
                # an option when it stands alone.
                f"--cluster-id={random_cluster_id()}",
                "--config",
                str(config),
                *scram_arguments(secured.users if secured else {}),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if formatted.returncode != 0:
            raise RuntimeError(
                f"formatting the Kafka log directory failed:\n{formatted.stdout}{formatted.stderr}"
            )
        started = time.monotonic()
        broker.launch()
        say(f"  {broker.name} on {broker.bootstrap_servers} ({time.monotonic() - started:.1f} s)")
    except BaseException:
        broker.stop()
        raise
    return broker


def distinct_free_ports(count: int) -> list[int]:
    ports: list[int] = []
    while len(ports) < count:
        port = free_port()
        if port not in ports:
            ports.append(port)
    return ports


@contextlib.contextmanager
def throwaway_kafka(say: Callable[[str], None] = print) -> Iterator[ApacheKafka]:
    broker = start_kafka(say)
    try:
        yield broker
    finally:
        broker.stop()
