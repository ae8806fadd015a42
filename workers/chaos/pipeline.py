"""The pipeline a chaos run shakes: throwaway PostgreSQL and Apache Kafka, the WAL ingest, two
stream workers and the gateway, each child restartable as itself.

Everything is registered on the demo's ``DemoStack`` as it starts, so a failure or a Ctrl-C at any
point stops exactly what runs and removes the run directory. A restarted child gets a new log
file (``ingest-2.log``) so the logs of the run that a fault ended stay for the report. The two
workers are static members (``CONSUMER_GROUP_INSTANCE_ID``), as the Helm chart's are, so a
killed one rejoins as itself without a group-wide rebalance.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from workers.bench.process_usage import rss_mb
from workers.chaos.plan import WORKERS
from workers.chaos.report import Memory
from workers.demo.children import Child, wait_for_log_line
from workers.demo.failures import DemoFailure
from workers.demo.launch import (
    CHILD_START_TIMEOUT_S,
    kafka_environment,
    python_module,
    wait_ready,
    worker_has_partitions,
)
from workers.demo.page import start_gateway
from workers.demo.progress import step
from workers.demo.stack import DemoStack, child_environment
from workers.services.apache_kafka import ApacheKafka, start_kafka
from workers.services.database import create_database
from workers.services.ports import free_port
from workers.services.postgres import PostgresCluster, start_postgres
from workers.services.processes import signal_group, stat_fields
from workers.settings import KafkaSettings

CHAOS_DATABASE = "pulse_chaos"
INGEST = "ingest"
GATEWAY = "gateway"
# Short enough that a worker the broker lost sight of is replaced within a round.
SESSION_TIMEOUT_S = "10"


@dataclass
class Exit:
    """A child that exited without being told to: which, its status and its last log lines."""

    name: str
    status: int | None
    log_tail: str


@dataclass
class Pipeline:
    stack: DemoStack
    postgres: PostgresCluster
    broker: ApacheKafka
    dsn: str
    kafka: KafkaSettings
    app_id: str
    children: dict[str, Child] = field(default_factory=dict)
    starts: Counter[str] = field(default_factory=Counter)
    unplanned_exits: list[Exit] = field(default_factory=list)
    _worker_env: dict[str, dict[str, str]] = field(default_factory=dict)
    _ingest_port: int = field(default_factory=free_port)

    @property
    def rundir(self) -> Path:
        assert self.stack.rundir is not None
        return self.stack.rundir

    def data_dir(self, worker: str) -> Path:
        return self.rundir / f"{worker}-data"

    def _spawn(self, name: str, argv: list[str], env: dict[str, str]) -> Child:
        self.starts[name] += 1
        child = self.stack.spawn(f"{name}-{self.starts[name]}", argv, child_environment(env))
        self.children[name] = child
        return child

    def spawn_ingest(self) -> Child:
        env = {
            **kafka_environment(self.kafka),
            "DATABASE_URL": self.dsn,
            "PULSE_LOG_FORMAT": "json",
            "PULSE_HEARTBEAT_INTERVAL_S": "1",
            "PULSE_INGEST_METRICS_HOST": "127.0.0.1",
            "PULSE_INGEST_METRICS_PORT": str(self._ingest_port),
        }
        return self._spawn(
            INGEST, python_module("workers.cli.main", "ingest", "--source", "wal"), env
        )

    def spawn_worker(self, worker: str) -> Child:
        env = self._worker_env.get(worker)
        if env is None:
            env = self._worker_env[worker] = {
                **kafka_environment(self.kafka),
                "DATABASE_URL": self.dsn,
                "PULSE_APP_ID": self.app_id,
                "CONSUMER_GROUP_INSTANCE_ID": f"{self.app_id}-{worker}",
                "PULSE_DATA_DIR": str(self.data_dir(worker)),
                "PULSE_WEB_PORT": str(free_port()),
                "PULSE_WORKER_METRICS_PORT": str(free_port()),
                "PULSE_PROGRESS_INTERVAL_S": "1",
                "PULSE_SESSION_TIMEOUT_S": SESSION_TIMEOUT_S,
                "PULSE_LOG_FORMAT": "json",
            }
        return self._spawn(worker, python_module("workers.cli.main", "worker"), env)

    def ready_url(self, name: str) -> str:
        if name == INGEST:
            return f"http://127.0.0.1:{self._ingest_port}/readyz"
        return f"http://127.0.0.1:{self._worker_env[name]['PULSE_WEB_PORT']}/readyz"

    def not_ready(self) -> list[str]:
        """The ingest and workers whose ``/readyz`` does not answer 200 (a worker says 503 until
        it has restored its tables, the ingest while Postgres or Kafka is away)."""
        waiting = []
        for name in (INGEST, *WORKERS):
            try:
                with urllib.request.urlopen(self.ready_url(name), timeout=2) as reply:
                    if reply.status == 200:
                        continue
            except (OSError, urllib.error.URLError):
                pass
            waiting.append(name)
        return waiting

    def respawn(self, name: str) -> Child:
        return self.spawn_ingest() if name == INGEST else self.spawn_worker(name)

    def kill(self, name: str) -> Child:
        """SIGKILL the child's process group and wait for it; returns the dead child."""
        child = self.children[name]
        signal_group(child.pid, signal.SIGKILL)
        child.process.wait()
        return child

    def wipe(self, worker: str) -> None:
        shutil.rmtree(self.data_dir(worker), ignore_errors=True)

    def supervise(self) -> list[Exit]:
        """Start again, as a supervisor would, each child that exited on its own; returns those
        exits. The gateway, which no fault touches, is reported once and not started again."""
        exits = []
        for name, child in list(self.children.items()):
            if child.running():
                continue
            exits.append(Exit(name, child.process.returncode, child.log_tail(30)))
            if name == GATEWAY:
                del self.children[name]
            else:
                self.respawn(name)
        self.unplanned_exits += exits
        return exits

    def memory(self) -> dict[str, Memory | None]:
        """Each process's resident memory and age now (the postmaster for PostgreSQL), None
        where it is gone."""
        pids: dict[str, int | None] = {name: child.pid for name, child in self.children.items()}
        pids["broker"] = self.broker.pid
        pids["postgres"] = self.postgres.postmaster_pid
        usage: dict[str, Memory | None] = {}
        for name, pid in pids.items():
            try:
                usage[name] = None if pid is None else Memory(rss_mb(pid)[0], age_s(pid))
            except OSError:
                usage[name] = None
        return usage


# Position of ``starttime`` in /proc/<pid>/stat after the command name (see proc(5)).
STARTTIME = 19


def age_s(pid: int) -> float:
    """Seconds since the process started: a restarted process's memory covers only that long."""
    fields = stat_fields(pid)
    if fields is None:
        raise ProcessLookupError(pid)
    uptime = float(Path("/proc/uptime").read_text().split()[0])
    return uptime - int(fields[STARTTIME]) / os.sysconf("SC_CLK_TCK")


def start_services(stack: DemoStack) -> tuple[PostgresCluster, ApacheKafka, str]:
    """A throwaway PostgreSQL with the schema, and one Apache Kafka node: the DSN for the run."""
    console = stack.console
    with step(console, "starting a throwaway PostgreSQL") as done:
        postgres = start_postgres()
        stack.exit.callback(postgres.stop)
        done.result = f"127.0.0.1:{postgres.port}, pid {postgres.postmaster_pid}"
    with step(console, f"creating database {CHAOS_DATABASE} and applying the schema"):
        dsn = create_database(postgres.dsn, CHAOS_DATABASE)
    with step(console, "starting a throwaway Apache Kafka") as done:
        broker = start_kafka(say=lambda line: console.print(line, highlight=False))
        stack.exit.callback(broker.stop)
        done.result = f"{broker.name} on {broker.bootstrap_servers}, pid {broker.pid}"
    return postgres, broker, dsn


async def start_children(pipeline: Pipeline) -> None:
    """The ingest, both workers and the gateway, each waited for until it is ready."""
    console = pipeline.stack.console
    with step(console, "starting the WAL ingest (pulse ingest --source wal)") as done:
        ingest = pipeline.spawn_ingest()
        await wait_for_log(ingest, '"streaming"')
        done.result = f"streaming, pid {ingest.pid}"
    for worker in WORKERS:
        with step(console, f"starting {worker} (pulse worker)") as done:
            child = pipeline.spawn_worker(worker)
            await wait_ready(
                child, pipeline.ready_url(worker), CHILD_START_TIMEOUT_S, worker_has_partitions
            )
            done.result = f"ready, pid {child.pid}"
    gateway = await start_gateway(pipeline.stack, pipeline.dsn, pipeline.kafka)
    pipeline.children[GATEWAY] = gateway.child
    pipeline.starts[GATEWAY] += 1


async def wait_for_log(child: Child, needle: str) -> None:
    if not await asyncio.to_thread(wait_for_log_line, child, needle, CHILD_START_TIMEOUT_S):
        raise DemoFailure(
            f"{child.name} did not start within {CHILD_START_TIMEOUT_S:.0f} s:\n{child.log_tail()}"
        )
