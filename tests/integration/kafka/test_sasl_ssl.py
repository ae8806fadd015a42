"""The whole pipeline on a SASL_SSL (SCRAM-SHA-512) listener of the project's Apache Kafka.

The test starts its own KRaft node with a second, secured listener: a CA and the broker's
certificate are made here with ``cryptography``, the SCRAM user by Kafka's storage tool when the
node is formatted. Every client is given the secured port only, so each of them (the WAL ingest's
producer, the Faust worker's consumer and transactional producers, the audit tool, the
subscriber API) has to log in over TLS.

Budget: about 60 s on the 2-core machine (a broker start, one Faust worker start-up, three short
command start-ups).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from schemas.updates import KpiUpdated
from tests.certificates import issue
from workers.cli.main import main
from workers.ingest.settings import WalIngestSettings
from workers.ingest.wal.runner import IngestProgress, run_wal_ingest
from workers.services.apache_kafka import ApacheKafka, SecuredListener, start_kafka
from workers.services.processes import terminate
from workers.settings import KafkaSettings
from workers.subscriber import SiteSubscription
from workers.tools.reading import TopicReader
from workers.tools.rebuild import wait_for_groups
from workers.traffic.generator import generate

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

USER = "pulse"
PASSWORD = "pulse-scram-secret"


@dataclass(frozen=True)
class SecuredBroker:
    broker: ApacheKafka
    ca_file: Path
    password_file: Path

    @property
    def bootstrap(self) -> str:
        return self.broker.secured_bootstrap_servers

    def environment(self) -> dict[str, str]:
        return {
            "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap,
            "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
            "KAFKA_SSL_CA_FILE": str(self.ca_file),
            "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
            "KAFKA_SASL_USERNAME": USER,
            "KAFKA_SASL_PASSWORD_FILE": str(self.password_file),
        }


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecuredBroker]:
    directory = tmp_path_factory.mktemp("sasl-ssl")
    files = issue(directory / "certs", host="127.0.0.1")
    password_file = directory / "password"
    password_file.write_text(PASSWORD + "\n")
    broker = start_kafka(
        say=lambda _line: None,
        heap="256m",
        secured=SecuredListener(files.keystore, {USER: PASSWORD}),
    )
    try:
        yield SecuredBroker(broker, files.ca, password_file)
    finally:
        broker.stop()


@pytest.fixture
def secured_env(secured: SecuredBroker, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The secured settings, in this process's environment and for child processes."""
    for name, value in secured.environment().items():
        monkeypatch.setenv(name, value)
    return {**os.environ}


@pytest.fixture
def secured_topics(secured: SecuredBroker) -> KafkaSettings:
    suffix = uuid.uuid4().hex[:8]
    return KafkaSettings(
        KAFKA_BOOTSTRAP_SERVERS=secured.bootstrap,
        PULSE_CHANGES_TOPIC=f"supabase_changes_{suffix}",
        PULSE_UPDATES_TOPIC=f"dashboard_updates_{suffix}",
        PULSE_REJECTED_TOPIC=f"supabase_changes_rejected_{suffix}",
        PULSE_PARTITIONS=2,
    )


@pytest.fixture
def worker(
    secured_env: dict[str, str], secured_topics: KafkaSettings, fresh_db: str, tmp_path: Path
) -> Iterator[tuple[str, subprocess.Popen[bytes], Path]]:
    app_id = f"pulse-secured-{uuid.uuid4().hex[:8]}"
    log_path = tmp_path / "worker.log"
    env = {
        **secured_env,
        "PULSE_CHANGES_TOPIC": secured_topics.changes_topic,
        "PULSE_UPDATES_TOPIC": secured_topics.updates_topic,
        "PULSE_REJECTED_TOPIC": secured_topics.rejected_topic,
        "PULSE_PARTITIONS": str(secured_topics.partitions),
        "PULSE_APP_ID": app_id,
        "PULSE_DATA_DIR": str(tmp_path / "worker"),
        "PULSE_WEB_PORT": "0",
        "PULSE_STANDBY_REPLICAS": "0",
        "PULSE_LOG_FORMAT": "json",
        "DATABASE_URL": fresh_db,
    }
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "workers.cli.main", "worker"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield app_id, process, log_path
    finally:
        terminate(process)


@pytest.fixture
async def ingest(
    secured_env: dict[str, str], fresh_db: str, secured_topics: KafkaSettings
) -> AsyncIterator[IngestProgress]:
    stop = asyncio.Event()
    progress = IngestProgress()
    task = asyncio.create_task(
        run_wal_ingest(
            fresh_db,
            secured_topics,
            WalIngestSettings(PULSE_HEARTBEAT_INTERVAL_S=1.0),
            stop,
            progress,
        )
    )
    streaming = asyncio.ensure_future(progress.streaming.wait())
    done, _ = await asyncio.wait({streaming, task}, timeout=60, return_when=asyncio.FIRST_COMPLETED)
    if task in done:
        task.result()
    assert streaming in done, "the WAL ingest did not start streaming"
    try:
        yield progress
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


async def test_ingest_worker_audit_and_subscriber_work_over_sasl_ssl(
    secured: SecuredBroker,
    secured_topics: KafkaSettings,
    fresh_db: str,
    ingest: IngestProgress,
    worker: tuple[str, subprocess.Popen[bytes], Path],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    app_id, process, log_path = worker
    summary = await asyncio.to_thread(
        generate, fresh_db, sites=2, changes=400, forged_ratio=0.0, seed=23
    )
    deadline = time.monotonic() + 120
    while ingest.changes_acked < summary.changes:
        assert time.monotonic() < deadline, f"ingest acked {ingest.changes_acked}"
        await asyncio.sleep(0.2)
    async with TopicReader(secured.bootstrap, secured_topics.changes_topic) as changes:
        await wait_for_groups(
            changes,
            secured.bootstrap,
            {app_id: None},
            list(range(secured_topics.partitions)),
            time.monotonic() + 120,
        )
    assert process.poll() is None, log_path.read_text(errors="replace")[-2000:]

    monkeypatch.setenv("PULSE_UPDATES_TOPIC", secured_topics.updates_topic)
    monkeypatch.setenv("PULSE_CHANGES_TOPIC", secured_topics.changes_topic)
    monkeypatch.setenv("DATABASE_URL", fresh_db)
    capsys.readouterr()
    status = await asyncio.to_thread(main, ["audit"])
    out = capsys.readouterr().out
    assert status == 0, out
    assert re.search(r"audit passed: [1-9]\d* site-day", out), out

    site = summary.site_ids[0]
    async with SiteSubscription(
        site, bootstrap_servers=secured.bootstrap, topic=secured_topics.updates_topic
    ) as updates:
        first_kpi = None
        async with asyncio.timeout(30):
            async for update in updates:
                if isinstance(update, KpiUpdated):
                    first_kpi = update
                    break
    assert first_kpi is not None and first_kpi.site_id == site

    # PULSE_LOG_FORMAT=json: the worker's own lines and Faust's, mode's and aiokafka's alike.
    process.send_signal(signal.SIGTERM)
    process.wait(60)
    lines = [line for line in log_path.read_text().splitlines() if line.strip()]
    loggers = {json.loads(line).get("logger") for line in lines}
    assert any(name and name.startswith(("faust", "mode")) for name in loggers), loggers


def _run(command: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "workers.cli.main", *command],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(
    "command",
    [["worker"], ["ingest", "--source", "wal"], ["tail", "--site", "any-site"]],
    ids=["worker", "ingest", "tail"],
)
def test_a_wrong_password_is_one_line_naming_the_setting_and_exit_2(
    command: list[str],
    secured_env: dict[str, str],
    secured_topics: KafkaSettings,
    fresh_db: str,
    tmp_path: Path,
) -> None:
    wrong = tmp_path / "wrong-password"
    wrong.write_text("not-the-password\n")
    env = {
        **secured_env,
        "KAFKA_SASL_PASSWORD_FILE": str(wrong),
        "PULSE_CHANGES_TOPIC": secured_topics.changes_topic,
        "PULSE_UPDATES_TOPIC": secured_topics.updates_topic,
        "PULSE_REJECTED_TOPIC": secured_topics.rejected_topic,
        "PULSE_DATA_DIR": str(tmp_path / "worker"),
        "PULSE_WEB_PORT": "0",
        "PULSE_INGEST_METRICS_PORT": "0",
        "PULSE_LOG_FORMAT": "json",
        "DATABASE_URL": fresh_db,
    }
    if command[0] == "tail":
        # Without a database the site is not looked up first: Kafka is the first thing it uses.
        del env["DATABASE_URL"]
    finished = _run(command, env)
    lines = [line for line in finished.stderr.splitlines() if line.strip()]
    assert finished.returncode == 2, finished.stderr
    assert len(lines) == 1, finished.stderr
    assert "refused the SCRAM-SHA-512 login of KAFKA_SASL_USERNAME=pulse" in lines[0]
    assert "KAFKA_SASL_PASSWORD" in lines[0]
    assert "not-the-password" not in finished.stderr
    if command[0] != "tail":
        # The services log JSON lines; the tools print plain errors.
        assert json.loads(lines[0])["level"] == "error"
