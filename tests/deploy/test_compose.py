"""docker-compose.yml agrees with the code: real ``pulse`` subcommands, known settings, wiring.

No Docker engine runs here, so the file is parsed and checked rather than started.
"""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from workers.cli.main import build_parser
from workers.settings_catalog import known_variables

ROOT = Path(__file__).resolve().parents[2]
PULSE_SERVICES = ("ingest", "worker-1", "worker-2")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return loaded


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = compose["services"]
    return found


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {str(name): str(value) for name, value in env.items()}


def command(service: dict[str, Any]) -> list[str]:
    raw = service["command"]
    assert isinstance(raw, list), "commands are exec-form lists, so no shell re-splits them"
    return [str(part) for part in raw]


def test_expected_services(services: dict[str, dict[str, Any]]) -> None:
    assert set(services) == {"kafka", "postgres", *PULSE_SERVICES}


def test_kafka_is_one_kraft_node(services: dict[str, dict[str, Any]]) -> None:
    kafka = services["kafka"]
    assert kafka["image"].startswith("apache/kafka:")
    env = environment(kafka)
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    voters = env["KAFKA_CONTROLLER_QUORUM_VOTERS"].split(",")
    assert len(voters) == 1
    assert voters[0].split("@")[0] == env["KAFKA_NODE_ID"]
    assert "ZOOKEEPER" not in " ".join(env)
    assert env["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"] == "1"


def test_postgres_has_logical_replication_and_our_schema(
    services: dict[str, dict[str, Any]],
) -> None:
    postgres = services["postgres"]
    assert "wal_level=logical" in command(postgres)
    mounts = {}
    for volume in postgres["volumes"]:
        source, target = volume.split(":")[:2]
        mounts[target] = source
    init_dir = (ROOT / mounts["/docker-entrypoint-initdb.d"]).resolve()
    assert init_dir == ROOT / "schemas" / "sql"
    assert sorted(p.name for p in init_dir.glob("*.sql")), "no schema files to apply"


def test_pulse_services_run_the_project_image(services: dict[str, dict[str, Any]]) -> None:
    entrypoints = [
        json.loads(line.removeprefix("ENTRYPOINT"))
        for line in (ROOT / "Dockerfile").read_text().splitlines()
        if line.startswith("ENTRYPOINT")
    ]
    assert entrypoints == [["pulse"]], "commands below are arguments of `pulse`"
    for name in PULSE_SERVICES:
        assert services[name]["build"] == ".", name


@pytest.mark.parametrize("name", PULSE_SERVICES)
def test_commands_are_real_pulse_subcommands(
    services: dict[str, dict[str, Any]], name: str
) -> None:
    argv = command(services[name])
    stderr = io.StringIO()
    try:
        with contextlib.redirect_stderr(stderr):
            args = build_parser().parse_args(argv)
    except SystemExit:
        pytest.fail(f"{name}: `pulse {' '.join(argv)}` is refused by the CLI: {stderr.getvalue()}")
    assert args.command == ("ingest" if name == "ingest" else "worker")


@pytest.mark.parametrize("name", PULSE_SERVICES)
def test_every_variable_is_a_known_setting(services: dict[str, dict[str, Any]], name: str) -> None:
    unknown = set(environment(services[name])) - known_variables()
    assert not unknown, f"{name} sets variables no settings class reads: {sorted(unknown)}"


def test_services_are_wired_to_each_other(services: dict[str, dict[str, Any]]) -> None:
    kafka_env = environment(services["kafka"])
    advertised = kafka_env["KAFKA_ADVERTISED_LISTENERS"].split("://", 1)[1]
    pg_env = environment(services["postgres"])
    for name in PULSE_SERVICES:
        env = environment(services[name])
        assert env["KAFKA_BOOTSTRAP_SERVERS"] == advertised, name
        assert "kafka" in services[name]["depends_on"], name
    for name in PULSE_SERVICES:
        dsn = urlsplit(environment(services[name])["DATABASE_URL"])
        assert (dsn.hostname, dsn.port) == ("postgres", 5432), name
        assert (dsn.username, dsn.password) == (
            pg_env["POSTGRES_USER"],
            pg_env["POSTGRES_PASSWORD"],
        )
        assert dsn.path.lstrip("/") == pg_env["POSTGRES_DB"]
        assert "postgres" in services[name]["depends_on"], name


def test_ingest_exposes_its_probe_port(services: dict[str, dict[str, Any]]) -> None:
    ingest = services["ingest"]
    port = environment(ingest)["PULSE_INGEST_METRICS_PORT"]
    assert any(str(mapping).endswith(f":{port}") for mapping in ingest["ports"])


def test_each_worker_has_its_own_state_and_identity(
    services: dict[str, dict[str, Any]], compose: dict[str, Any]
) -> None:
    volumes_seen: set[str] = set()
    identities: set[str] = set()
    for name in ("worker-1", "worker-2"):
        worker = services[name]
        env = environment(worker)
        data_dir = env["PULSE_DATA_DIR"]
        mounted = {v.split(":")[1]: v.split(":")[0] for v in worker["volumes"]}
        assert data_dir in mounted, f"{name}: nothing mounted at its data directory {data_dir}"
        assert mounted[data_dir] in compose["volumes"], f"{name}: data is not a named volume"
        volumes_seen.add(mounted[data_dir])
        identities.add(env["CONSUMER_GROUP_INSTANCE_ID"])
        assert env["PULSE_WEB_BIND"] == "0.0.0.0", "probes come from outside the container"
        port = env["PULSE_WEB_PORT"]
        assert any(str(mapping).endswith(f":{port}") for mapping in worker["ports"])
    assert len(volumes_seen) == 2, "two workers must never share a RocksDB directory"
    assert len(identities) == 2, "static members need distinct instance IDs"
