"""An unreachable broker stops each command with one line on stderr and exit status 2.

aiokafka logs every failed bootstrap connection itself; before, that line came on top of the
command's own error. The commands run as processes, as an operator starts them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from workers.services.ports import free_port

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]
OPTIONS = {"KAFKA_BOOTSTRAP_SERVERS": "--bootstrap-servers", "DATABASE_URL": "--database-url"}


@pytest.mark.parametrize(
    ("command", "as_json"),
    [
        (["worker"], True),
        (["ingest", "--source", "wal"], True),
        (["tail", "--site", "any-site"], False),
        (["replay", "--topic", "supabase_changes", "--from", "beginning"], False),
    ],
    ids=["worker", "ingest", "tail", "replay"],
)
# The same servers named by the options instead show that the options reach every client.
@pytest.mark.parametrize("through", ["environment", "options"])
def test_one_line_and_status_2(
    command: list[str], as_json: bool, through: str, tmp_path: Path
) -> None:
    bootstrap = f"127.0.0.1:{free_port()}"
    servers = {
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "DATABASE_URL": "postgresql://pulse@127.0.0.1:1/pulse",
    }
    if command[0] in ("tail", "replay"):
        # Without a database the tools use Kafka first.
        del servers["DATABASE_URL"]
    env = {
        **{name: value for name, value in os.environ.items() if name not in OPTIONS},
        "PULSE_LOG_FORMAT": "json",
        "PULSE_INGEST_METRICS_PORT": "0",
        "PULSE_WEB_PORT": "0",
        "PULSE_DATA_DIR": str(tmp_path),
    }
    options: list[str] = []
    if through == "environment":
        env.update(servers)
    else:
        options = [word for name, value in servers.items() for word in (OPTIONS[name], value)]
    finished = subprocess.run(
        [sys.executable, "-m", "workers.cli.main", *command, *options],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    lines = [line for line in finished.stderr.splitlines() if line.strip()]
    assert finished.returncode == 2, finished.stderr
    assert len(lines) == 1, finished.stderr
    assert f"cannot reach Kafka at {bootstrap}" in lines[0]
    assert "KAFKA_BOOTSTRAP_SERVERS" in lines[0]
    if as_json:
        assert json.loads(lines[0])["level"] == "error"
    else:
        assert lines[0].startswith("error: ")
