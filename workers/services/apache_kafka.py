"""A throwaway Apache Kafka broker: one KRaft node (broker and controller) on free loopback ports.

The jars come from ``kafka_dist``; the node's configuration, metadata and logs live in a temp
directory that ``stop`` removes. Unlike the memory-only fallback broker, its data survive
``restart``, and a SIGTERM gives the controlled shutdown a real deployment sees.
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
from collections.abc import Callable, Iterator
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


def server_properties(port: int, controller_port: int, log_dir: Path) -> dict[str, str]:
    """A single node's settings: every internal topic with one replica, groups formed at once."""
    return {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.voters": f"1@127.0.0.1:{controller_port}",
        "listeners": f"PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}",
        "advertised.listeners": f"PLAINTEXT://127.0.0.1:{port}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "log.dirs": str(log_dir),
        "num.partitions": "1",
        "offsets.topic.replication.factor": "1",
        "offsets.topic.num.partitions": "8",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "transaction.state.log.num.partitions": "8",
        "group.initial.rebalance.delay.ms": "0",
        "auto.create.topics.enable": "true",
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
    _stopped: bool = field(default=False)

    @property
    def name(self) -> str:
        return f"Apache Kafka {self.version}"

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

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


def start_kafka(say: Callable[[str], None] = print, heap: str | None = None) -> ApacheKafka:
    """Format and start a fresh node; ``PULSE_KAFKA_HEAP`` (default 512m) caps its heap."""
    java = require_java()
    classpath = kafka_classpath(say)
    home = Path(tempfile.mkdtemp(prefix="pulse-kafka-"))
    lifeline.watch_path(home)
    port, controller_port = free_port(), free_port()
    while controller_port == port:
        controller_port = free_port()
    config = home / "server.properties"
    properties = server_properties(port, controller_port, home / "data")
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


@contextlib.contextmanager
def throwaway_kafka(say: Callable[[str], None] = print) -> Iterator[ApacheKafka]:
    broker = start_kafka(say)
    try:
        yield broker
    finally:
        broker.stop()
