"""docker-compose.yml agrees with the code: real ``pulse`` subcommands, known settings, wiring.

No Docker engine runs here, so the file is parsed and checked rather than started; where
`docker compose` exists, it validates the file too.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import re
import shutil
import subprocess
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from tests.deploy.dockerfile import parse as parse_dockerfile
from workers.cli.main import build_parser
from workers.observability import container_health
from workers.observability.container_health import configured_port
from workers.services.kafka_dist import kafka_version
from workers.settings_catalog import known_variables
from workers.stream.settings import StreamSettings

ROOT = Path(__file__).resolve().parents[2]
PULSE_SERVICES = ("ingest", "worker-1", "worker-2", "gateway")


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
    entrypoint = parse_dockerfile().exec_form("ENTRYPOINT")
    assert entrypoint[-1] == "pulse", "commands below are arguments of `pulse`"
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
    expected = {"ingest": "ingest", "gateway": "gateway"}.get(name, "worker")
    assert args.command == expected


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


def test_kafka_is_the_version_the_tests_run(services: dict[str, dict[str, Any]]) -> None:
    assert services["kafka"]["image"] == f"apache/kafka:{kafka_version()}"


def dockerfile_workdir() -> PurePosixPath:
    return PurePosixPath(parse_dockerfile().stages[-1].arguments("WORKDIR")[-1])


def written_at(name: str, service: dict[str, Any]) -> list[PurePosixPath]:
    """Where the service's image keeps its state, given the service's environment.

    The defaults are the images' own: apache/kafka's server.properties sets log.dirs to
    /tmp/kraft-combined-logs, the postgres image's PGDATA is /var/lib/postgresql/data up to
    major 17, and a stream worker resolves PULSE_DATA_DIR against the Dockerfile's WORKDIR.
    """
    env = environment(service)
    image = str(service.get("image", ""))
    if image.startswith("apache/kafka:"):
        return [
            PurePosixPath(d)
            for d in env.get("KAFKA_LOG_DIRS", "/tmp/kraft-combined-logs").split(",")
        ]
    if image.startswith("postgres:"):
        assert int(image.split(":")[1].split(".")[0]) <= 17, "postgres 18 moved PGDATA"
        return [PurePosixPath(env.get("PGDATA", "/var/lib/postgresql/data"))]
    if name.startswith("worker"):
        default = str(StreamSettings.model_fields["data_dir"].default)
        return [dockerfile_workdir() / env.get("PULSE_DATA_DIR", default)]
    return []


@pytest.mark.parametrize("name", ["kafka", "postgres", "worker-1", "worker-2"])
def test_state_is_written_to_a_named_volume(
    services: dict[str, dict[str, Any]], compose: dict[str, Any], name: str
) -> None:
    service = services[name]
    named = {
        PurePosixPath(volume.split(":")[1])
        for volume in service.get("volumes", [])
        if volume.split(":")[0] in compose["volumes"]
    }
    directories = written_at(name, service)
    assert directories, f"{name}: where its image writes is unknown"
    for directory in directories:
        assert any(directory == mount or mount in directory.parents for mount in named), (
            f"{name} writes to {directory}, which no named volume holds: `down`/`up` loses it"
        )


def test_the_volume_check_catches_the_kafka_default(services: dict[str, dict[str, Any]]) -> None:
    kafka = dict(services["kafka"])
    kafka["environment"] = {k: v for k, v in environment(kafka).items() if k != "KAFKA_LOG_DIRS"}
    assert written_at("kafka", kafka) == [PurePosixPath("/tmp/kraft-combined-logs")]


@pytest.mark.parametrize("name", PULSE_SERVICES)
def test_pulse_services_check_their_health_endpoint(
    services: dict[str, dict[str, Any]], name: str
) -> None:
    check = services[name]["healthcheck"]
    test = check["test"]
    assert test[:3] == ["CMD", "python", "-m"]
    assert importlib.util.find_spec(test[3]) is not None, test[3]
    assert test[3] == container_health.__name__
    env = environment(services[name])
    ports = {configured_port(env, model, field) for model, field in container_health.SERVED_PORTS}
    served = (
        env.get("PULSE_WEB_PORT")
        or env.get("PULSE_GATEWAY_PORT")
        or env["PULSE_INGEST_METRICS_PORT"]
    )
    assert int(served) in ports, f"{name}: the check does not ask the port it serves"
    assert seconds(check["start_period"]) >= 30, "a worker restoring tables must not be killed"


def seconds(duration: str) -> float:
    """A compose duration such as ``1m30s`` in seconds."""
    units = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|h|m|s)", duration)
    assert parts and "".join(n + u for n, u in parts) == duration, duration
    return sum(float(number) * units[unit] for number, unit in parts)


@pytest.mark.parametrize(
    ("name", "role"), [("ingest", "ingest"), *((w, "worker") for w in ("worker-1", "worker-2"))]
)
def test_stop_grace_period_is_the_charts(
    services: dict[str, dict[str, Any]], name: str, role: str
) -> None:
    values = yaml.safe_load((ROOT / "helm" / "values.yaml").read_text())
    chart = values[role]["terminationGracePeriodSeconds"]
    assert seconds(services[name]["stop_grace_period"]) == chart


def test_docker_compose_accepts_the_file() -> None:
    docker = shutil.which("docker")
    if (
        docker is None
        or subprocess.run(
            [docker, "compose", "version"], capture_output=True, check=False
        ).returncode
    ):
        pytest.skip("no `docker compose` on this machine: the file is checked by parsing it above")
    result = subprocess.run(
        [docker, "compose", "-f", str(ROOT / "docker-compose.yml"), "config", "--quiet"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
