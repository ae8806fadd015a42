"""The Helm chart, linted and rendered by Helm's own Go SDK (PyPI ``helm-python-sdk``), offline."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import helm_python as helm
import pytest
import yaml

from workers.cli.main import build_parser
from workers.settings_catalog import known_variables

CHART = Path(__file__).resolve().parents[2] / "helm"
REQUIRED = {"kafka": {"bootstrapServers": "kafka-0.kafka:9092,kafka-1.kafka:9092"}}
Objects = dict[tuple[str, str], dict[str, Any]]


def merged(*overrides: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for override in (REQUIRED, *overrides):
        result = _deep_merge(result, override)
    return result


def _deep_merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


@pytest.fixture(scope="module")
def chart() -> Iterator[helm.Chart]:
    with helm.Chart.load(CHART) as loaded:
        yield loaded


def render(chart: helm.Chart, *overrides: dict[str, Any]) -> Objects:
    manifests = chart.render(merged(*overrides), name="pulse", namespace="analytics")
    objects: Objects = {}
    for path, text in manifests.items():
        if not path.endswith(".yaml"):
            continue
        for document in yaml.safe_load_all(text):
            if document:
                objects[(document["kind"], document["metadata"]["name"])] = document
    return objects


def one(objects: Objects, kind: str) -> dict[str, Any]:
    found = [obj for (k, _), obj in objects.items() if k == kind]
    assert len(found) == 1, f"expected one {kind}, found {len(found)}"
    return found[0]


def container(workload: dict[str, Any]) -> dict[str, Any]:
    containers = workload["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    found: dict[str, Any] = containers[0]
    return found


def env_of(workload: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {item["name"]: item for item in container(workload)["env"]}


def test_lint_is_clean() -> None:
    report = helm.lint(CHART, merged(), strict=True, namespace="analytics")
    assert report["errors"] == []
    assert [m for m in report["messages"] if m["severity"] >= 2] == []


def test_lint_reports_bad_values() -> None:
    report = helm.lint(CHART, merged({"ingest": {"source": "kafka"}}), namespace="analytics")
    assert any("/ingest/source" in error for error in report["errors"])


@pytest.mark.parametrize(
    ("override", "named"),
    [
        ({"worker": {"replicas": "three"}}, "/worker/replicas"),
        ({"ingest": {"source": "kafka"}}, "/ingest/source"),
        ({"log": {"level": "loud"}}, "/log/level"),
        ({"worker": {"dataDir": "relative/dir"}}, "/worker/dataDir"),
    ],
)
def test_schema_names_the_wrong_value(
    chart: helm.Chart, override: dict[str, Any], named: str
) -> None:
    with pytest.raises(helm.HelmValuesError, match=named):
        render(chart, override)


def test_default_objects(chart: helm.Chart) -> None:
    kinds = sorted(kind for kind, _ in render(chart))
    assert kinds == [
        "Deployment",
        "PodDisruptionBudget",
        "Secret",
        "Service",
        "Service",
        "StatefulSet",
    ]


def test_ingest_is_a_single_recreated_deployment(chart: helm.Chart) -> None:
    ingest = one(render(chart, {"ingest": {"metricsPort": 9200}}), "Deployment")
    assert ingest["spec"]["replicas"] == 1
    assert ingest["spec"]["strategy"] == {"type": "Recreate"}
    main = container(ingest)
    args = build_parser().parse_args(main["args"])
    assert (args.command, args.source) == ("ingest", "wal")
    env = env_of(ingest)
    assert env["PULSE_INGEST_METRICS_PORT"]["value"] == "9200"
    assert main["ports"] == [{"name": "http-metrics", "containerPort": 9200}]


def test_workers_are_a_statefulset_with_one_volume_each(chart: helm.Chart) -> None:
    objects = render(chart, {"worker": {"dataDir": "/state", "replicas": 3}})
    workers = one(objects, "StatefulSet")
    spec = workers["spec"]
    assert spec["replicas"] == 3
    assert spec["podManagementPolicy"] == "Parallel"
    service = objects[("Service", spec["serviceName"])]
    assert service["spec"]["clusterIP"] == "None"
    (claim,) = spec["volumeClaimTemplates"]
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]
    assert spec["persistentVolumeClaimRetentionPolicy"]["whenDeleted"] == "Retain"
    mounts = {m["mountPath"]: m["name"] for m in container(workers)["volumeMounts"]}
    assert mounts["/state"] == claim["metadata"]["name"]
    assert env_of(workers)["PULSE_DATA_DIR"]["value"] == "/state"
    args = build_parser().parse_args(container(workers)["args"])
    assert args.command == "worker"


def test_app_id_defaults_to_the_release(chart: helm.Chart) -> None:
    workers = one(render(chart), "StatefulSet")
    assert env_of(workers)["PULSE_APP_ID"]["value"] == "pulse-realtime-pulse"
    chosen = one(render(chart, {"worker": {"appId": "pulse-eu"}}), "StatefulSet")
    assert env_of(chosen)["PULSE_APP_ID"]["value"] == "pulse-eu"


def test_volumes_can_go_with_the_release(chart: helm.Chart) -> None:
    workers = one(render(chart, {"worker": {"persistence": {"keep": False}}}), "StatefulSet")
    assert workers["spec"]["persistentVolumeClaimRetentionPolicy"]["whenDeleted"] == "Delete"


def test_static_membership_from_the_pod_name(chart: helm.Chart) -> None:
    workers = one(render(chart), "StatefulSet")
    instance = env_of(workers)["CONSUMER_GROUP_INSTANCE_ID"]
    assert instance["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    off = one(render(chart, {"worker": {"staticMembership": False}}), "StatefulSet")
    assert "CONSUMER_GROUP_INSTANCE_ID" not in env_of(off)


def test_replicas_are_capped_by_partitions(chart: helm.Chart) -> None:
    at_cap = render(chart, {"kafka": {"partitions": 4}, "worker": {"replicas": 4}})
    assert one(at_cap, "StatefulSet")["spec"]["replicas"] == 4
    with pytest.raises(
        helm.HelmRenderError, match=r"worker.replicas \(5\) exceeds kafka.partitions \(4\)"
    ):
        render(chart, {"kafka": {"partitions": 4}, "worker": {"replicas": 5}})


def test_pdb_and_grace_period(chart: helm.Chart) -> None:
    objects = render(chart)
    pdb = one(objects, "PodDisruptionBudget")
    workers = one(objects, "StatefulSet")
    assert pdb["spec"]["maxUnavailable"] == 1
    assert pdb["spec"]["selector"] == workers["spec"]["selector"]
    assert workers["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] >= 300
    assert "PodDisruptionBudget" not in {
        kind for kind, _ in render(chart, {"worker": {"podDisruptionBudget": {"enabled": False}}})
    }


@pytest.mark.parametrize("kind", ["Deployment", "StatefulSet"])
def test_probes_hit_the_served_port(chart: helm.Chart, kind: str) -> None:
    workload = one(render(chart), kind)
    main = container(workload)
    (port,) = main["ports"]
    probes = {
        name: main[name]["httpGet"] for name in ("startupProbe", "livenessProbe", "readinessProbe")
    }
    assert probes["livenessProbe"]["path"] == "/healthz"
    assert probes["startupProbe"]["path"] == "/healthz"
    assert probes["readinessProbe"]["path"] == "/readyz"
    assert {p["port"] for p in probes.values()} == {port["name"]}
    served = env_of(workload)
    if kind == "StatefulSet":
        assert served["PULSE_WEB_BIND"]["value"] == "0.0.0.0", "the kubelet probes from outside"
    port_variable = "PULSE_INGEST_METRICS_PORT" if kind == "Deployment" else "PULSE_WEB_PORT"
    assert served[port_variable]["value"] == str(port["containerPort"])


@pytest.mark.parametrize("kind", ["Deployment", "StatefulSet"])
def test_every_variable_is_a_known_setting(chart: helm.Chart, kind: str) -> None:
    workload = one(render(chart), kind)
    unknown = set(env_of(workload)) - known_variables()
    assert not unknown, f"{kind} sets variables no settings class reads: {sorted(unknown)}"


def test_secrets_come_from_a_secret(chart: helm.Chart) -> None:
    objects = render(chart, {"secrets": {"databaseUrl": "postgresql://u:p@db/x"}})
    secret = one(objects, "Secret")
    for kind in ("Deployment", "StatefulSet"):
        ref = env_of(one(objects, kind))["DATABASE_URL"]["valueFrom"]["secretKeyRef"]
        assert ref["name"] == secret["metadata"]["name"]
        assert secret["stringData"][ref["key"]] == "postgresql://u:p@db/x"
    for kind in ("Deployment", "StatefulSet"):
        for item in container(one(objects, kind))["env"]:
            assert "postgresql://" not in str(item.get("value", "")), "a secret in plain env"

    external = render(chart, {"secrets": {"existingSecret": "pulse-prod"}})
    assert "Secret" not in {kind for kind, _ in external}
    ref = env_of(one(external, "Deployment"))["DATABASE_URL"]["valueFrom"]["secretKeyRef"]
    assert ref["name"] == "pulse-prod"


def test_realtime_source_needs_url_and_key(chart: helm.Chart) -> None:
    wal_env = env_of(one(render(chart), "Deployment"))
    assert wal_env["SUPABASE_SERVICE_KEY"]["valueFrom"]["secretKeyRef"]["optional"] is True
    assert "SUPABASE_URL" not in wal_env

    with pytest.raises(helm.HelmRenderError, match=r"supabase\.url is required"):
        render(chart, {"ingest": {"source": "realtime"}})
    realtime = one(
        render(
            chart, {"ingest": {"source": "realtime"}, "supabase": {"url": "https://x.supabase.co"}}
        ),
        "Deployment",
    )
    env = env_of(realtime)
    assert env["SUPABASE_URL"]["value"] == "https://x.supabase.co"
    assert env["SUPABASE_SERVICE_KEY"]["valueFrom"]["secretKeyRef"]["optional"] is False
    args = build_parser().parse_args(container(realtime)["args"])
    assert args.source == "realtime"


def test_optional_service_monitor_scrapes_both_services(chart: helm.Chart) -> None:
    objects = render(chart, {"serviceMonitor": {"enabled": True, "labels": {"release": "prom"}}})
    monitor = one(objects, "ServiceMonitor")
    assert monitor["metadata"]["labels"]["release"] == "prom"
    selector = monitor["spec"]["selector"]["matchLabels"]
    services = [obj for (kind, _), obj in objects.items() if kind == "Service"]
    assert len(services) == 2
    for service in services:
        labels = service["metadata"]["labels"]
        assert selector.items() <= labels.items()
        assert "http-metrics" in {p["name"] for p in service["spec"]["ports"]}
    assert monitor["spec"]["endpoints"][0]["path"] == "/metrics"


def test_missing_bootstrap_servers_is_named(chart: helm.Chart) -> None:
    with pytest.raises(helm.HelmRenderError, match=r"kafka\.bootstrapServers is required"):
        chart.render({}, name="pulse")
