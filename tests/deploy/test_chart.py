"""The Helm chart, linted and rendered by Helm's own Go SDK (PyPI ``helm-python-sdk``), offline."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import helm_python as helm
import pytest
import yaml
from packaging.version import Version

from tests.deploy.pod_security import restricted_violations
from workers.cli.main import build_parser
from workers.observability.metrics_table import label_names, metric_name, project_metrics
from workers.settings_catalog import known_variables

CHART = Path(__file__).resolve().parents[2] / "helm"
REQUIRED = {
    "kafka": {"bootstrapServers": "kafka-0.kafka:9092,kafka-1.kafka:9092"},
    "secrets": {"databaseUrl": "postgresql://pulse:pw@db:5432/pulse"},
}
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
        "ServiceAccount",
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
        render(chart, {"ingest": {"source": "realtime"}, "secrets": {"supabaseKey": "k"}})
    realtime_values = {
        "ingest": {"source": "realtime"},
        "supabase": {"url": "https://x.supabase.co"},
    }
    with pytest.raises(helm.HelmRenderError, match=r"secrets\.supabaseKey is required"):
        render(chart, realtime_values)
    realtime = one(render(chart, realtime_values, {"secrets": {"supabaseKey": "k"}}), "Deployment")
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
        chart.render({"secrets": {"existingSecret": "pulse-prod"}}, name="pulse")


WORKLOADS = ("Deployment", "StatefulSet")


def pod_spec(workload: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = workload["spec"]["template"]["spec"]
    return spec


@pytest.mark.parametrize("kind", WORKLOADS)
def test_pods_pass_pod_security_restricted(chart: helm.Chart, kind: str) -> None:
    pod = pod_spec(one(render(chart), kind))
    assert restricted_violations(pod) == []
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}


def test_the_restricted_check_catches_a_missing_seccomp_profile(chart: helm.Chart) -> None:
    pod = pod_spec(one(render(chart), "StatefulSet"))
    del pod["securityContext"]["seccompProfile"]
    assert restricted_violations(pod) == ["worker: seccompProfile is None"]


@pytest.mark.parametrize("kind", WORKLOADS)
def test_pods_run_as_the_charts_account_without_a_token(chart: helm.Chart, kind: str) -> None:
    objects = render(chart)
    account = one(objects, "ServiceAccount")
    assert account["automountServiceAccountToken"] is False
    pod = pod_spec(one(objects, kind))
    assert pod["serviceAccountName"] == account["metadata"]["name"]
    assert pod["automountServiceAccountToken"] is False

    existing = render(chart, {"serviceAccount": {"create": False, "name": "pulse-sa"}})
    assert "ServiceAccount" not in {k for k, _ in existing}
    pod = pod_spec(one(existing, kind))
    assert pod["serviceAccountName"] == "pulse-sa"
    assert pod["automountServiceAccountToken"] is False


@pytest.mark.parametrize("kind", WORKLOADS)
def test_a_changed_secret_restarts_both_workloads(chart: helm.Chart, kind: str) -> None:
    def checksum(url: str) -> str:
        workload = one(render(chart, {"secrets": {"databaseUrl": url}}), kind)
        value: str = workload["spec"]["template"]["metadata"]["annotations"]["checksum/secret"]
        return value

    assert checksum("postgresql://a@db/x") != checksum("postgresql://b@db/x")


@pytest.mark.parametrize(
    ("override", "named"),
    [
        ({"typo": 1}, "typo"),
        ({"worker": {"replica": 3}}, "replica"),
        ({"kafka": {"bootstrapServer": "k:9092"}}, "bootstrapServer"),
        ({"ingest": {"sorce": "wal"}}, "sorce"),
        ({"serviceMonitor": {"enable": True}}, "enable"),
        ({"autoscaling": {"maxReplica": 4}}, "maxReplica"),
        ({"worker": {"persistence": {"sise": "1Gi"}}}, "sise"),
    ],
)
def test_an_unknown_value_fails_the_render(
    chart: helm.Chart, override: dict[str, Any], named: str
) -> None:
    with pytest.raises(helm.HelmValuesError, match=f"additional properties '{named}' not allowed"):
        render(chart, override)


def closed_objects(node: dict[str, Any], path: str = "") -> Iterator[tuple[str, bool]]:
    """(path, whether unknown keys are refused) of every object in the schema with properties."""
    if "properties" in node:
        yield path or "/", node.get("additionalProperties") is False
        for key, child in node["properties"].items():
            yield from closed_objects(child, f"{path}/{key}")


def test_every_object_in_the_schema_refuses_unknown_keys() -> None:
    schema = json.loads((CHART / "values.schema.json").read_text())
    found = dict(closed_objects(schema))
    assert len(found) > 10
    assert [path for path, closed in found.items() if not closed] == []


def test_an_empty_database_url_fails_the_render(chart: helm.Chart) -> None:
    with pytest.raises(helm.HelmRenderError, match=r"secrets\.databaseUrl is required"):
        render(chart, {"secrets": {"databaseUrl": ""}})
    with pytest.raises(helm.HelmRenderError, match=r"secrets\.databaseUrl is required"):
        render(chart, {"secrets": {"databaseUrl": ""}, "ingest": {"enabled": False}})
    # An existing Secret is the operator's to fill; the chart cannot see into it.
    external = render(chart, {"secrets": {"databaseUrl": "", "existingSecret": "pulse-prod"}})
    assert "Secret" not in {kind for kind, _ in external}


# The newest Kubernetes minor each rendered feature needs (the release where it is on by default).
FEATURE_MINORS = {
    "persistentVolumeClaimRetentionPolicy": "1.27",
    "PodDisruptionBudget policy/v1": "1.21",
    "seccompProfile": "1.19",
}


def features_used(objects: Objects) -> set[str]:
    used = set()
    for (kind, _), obj in objects.items():
        if "persistentVolumeClaimRetentionPolicy" in obj.get("spec", {}):
            used.add("persistentVolumeClaimRetentionPolicy")
        if kind == "PodDisruptionBudget" and obj["apiVersion"] == "policy/v1":
            used.add("PodDisruptionBudget policy/v1")
        if "seccompProfile" in json.dumps(obj):
            used.add("seccompProfile")
    return used


def test_kube_version_is_what_the_features_need(chart: helm.Chart) -> None:
    constraint = yaml.safe_load((CHART / "Chart.yaml").read_text())["kubeVersion"]
    found = re.fullmatch(r">=(\d+\.\d+)\.0-0", constraint)
    assert found, f"expected a plain lower bound, got {constraint!r}"
    used = features_used(render(chart))
    assert used == set(FEATURE_MINORS)
    needed = max(Version(FEATURE_MINORS[feature]) for feature in used)
    assert Version(found.group(1)) == needed


def test_no_network_policy_unless_asked(chart: helm.Chart) -> None:
    assert "NetworkPolicy" not in {kind for kind, _ in render(chart)}


def test_network_policy_admits_scrapers_only(chart: helm.Chart) -> None:
    prometheus = [{"namespaceSelector": {"matchLabels": {"name": "monitoring"}}}]
    objects = render(chart, {"networkPolicy": {"enabled": True, "metricsFrom": prometheus}})
    policy = one(objects, "NetworkPolicy")["spec"]
    selector = policy["podSelector"]["matchLabels"]
    for kind in WORKLOADS:
        workload = one(objects, kind)
        assert selector.items() <= workload["spec"]["template"]["metadata"]["labels"].items()
        assert "http-metrics" in {p["name"] for p in container(workload)["ports"]}
    assert policy["policyTypes"] == ["Ingress"], "egress stays open until rules are given"
    (rule,) = policy["ingress"]
    assert rule["ports"] == [{"port": "http-metrics", "protocol": "TCP"}]
    assert rule["from"] == prometheus


def test_network_policy_egress_keeps_dns(chart: helm.Chart) -> None:
    kafka = {"to": [{"ipBlock": {"cidr": "10.20.0.0/16"}}], "ports": [{"port": 9092}]}
    policy = one(
        render(chart, {"networkPolicy": {"enabled": True, "egress": [kafka]}}), "NetworkPolicy"
    )["spec"]
    assert policy["policyTypes"] == ["Ingress", "Egress"]
    dns, given = policy["egress"]
    assert {(p["port"], p["protocol"]) for p in dns["ports"]} == {(53, "UDP"), (53, "TCP")}
    assert given == kafka


def exposed_series() -> dict[str, tuple[str, ...]]:
    """Series names the workers expose, with their labels."""
    series: dict[str, tuple[str, ...]] = {}
    for metric in project_metrics():
        name, labels = metric_name(metric), label_names(metric)
        kind = next(iter(metric.describe())).type
        suffixes = {"counter": ["_total"], "histogram": ["_bucket", "_sum", "_count"]}
        for suffix in ["", *suffixes.get(kind, [])]:
            series[name + suffix] = labels
    return series


def test_alerts_use_the_workers_metrics(chart: helm.Chart) -> None:
    objects = render(chart, {"prometheusRule": {"enabled": True, "labels": {"release": "prom"}}})
    rule = one(objects, "PrometheusRule")
    assert rule["metadata"]["labels"]["release"] == "prom"
    (group,) = rule["spec"]["groups"]
    alerts = {r["alert"]: r for r in group["rules"]}
    assert set(alerts) == {
        "PulseConsumerLagHigh",
        "PulseRejectRateHigh",
        "PulseReplicationSlotLagHigh",
        "PulseWorkerStalled",
    }
    services = {name for kind, name in objects if kind == "Service"}
    series = exposed_series()
    for name, alert in alerts.items():
        for metric, selector in re.findall(r"(pulse_[a-z_]+)\{([^}]*)\}", alert["expr"]):
            assert metric in series, f"{name}: no metric {metric}"
            labels = dict(item.split("=", 1) for item in selector.split(","))
            assert labels.pop("namespace") == '"analytics"'
            if "job" in labels:
                assert labels.pop("job").strip('"') in services, f"{name}: job is no Service"
            assert set(labels) <= set(series[metric]), f"{name}: {metric} has no {set(labels)}"
    assert alerts["PulseConsumerLagHigh"]["expr"].endswith("> 10000")
    assert alerts["PulseReplicationSlotLagHigh"]["expr"].endswith("> 1073741824")
    assert alerts["PulseWorkerStalled"]["for"] == "10m"


def test_alert_thresholds_come_from_values(chart: helm.Chart) -> None:
    values = {
        "prometheusRule": {
            "enabled": True,
            "consumerLag": {"threshold": 500, "for": "2m"},
            "rejectRatio": {"threshold": 0.2},
        }
    }
    (group,) = one(render(chart, values), "PrometheusRule")["spec"]["groups"]
    alerts = {r["alert"]: r for r in group["rules"]}
    assert alerts["PulseConsumerLagHigh"]["expr"].endswith("> 500")
    assert alerts["PulseConsumerLagHigh"]["for"] == "2m"
    assert alerts["PulseRejectRateHigh"]["expr"].endswith("> 0.2")


def test_no_slot_alert_without_a_slot(chart: helm.Chart) -> None:
    values = {
        "prometheusRule": {"enabled": True},
        "ingest": {"source": "realtime"},
        "supabase": {"url": "https://x.supabase.co"},
        "secrets": {"supabaseKey": "k"},
    }
    (group,) = one(render(chart, values), "PrometheusRule")["spec"]["groups"]
    assert "PulseReplicationSlotLagHigh" not in {r["alert"] for r in group["rules"]}


def test_keda_scales_the_workers_on_the_groups_lag(chart: helm.Chart) -> None:
    objects = render(chart, {"autoscaling": {"enabled": True, "lagThreshold": 250}})
    scaled = one(objects, "ScaledObject")["spec"]
    workers = one(objects, "StatefulSet")
    assert "replicas" not in workers["spec"], "KEDA owns the replica count"
    assert scaled["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "name": workers["metadata"]["name"],
    }
    assert scaled["maxReplicaCount"] == 8, "defaults to kafka.partitions"
    (trigger,) = scaled["triggers"]
    env = env_of(workers)
    assert trigger["type"] == "kafka"
    assert trigger["metadata"]["consumerGroup"] == env["PULSE_APP_ID"]["value"]
    assert trigger["metadata"]["topic"] == env["PULSE_CHANGES_TOPIC"]["value"]
    assert trigger["metadata"]["bootstrapServers"] == env["KAFKA_BOOTSTRAP_SERVERS"]["value"]
    assert trigger["metadata"]["lagThreshold"] == "250"
    assert trigger["metadata"]["allowIdleConsumers"] == "false"


def test_keda_is_capped_at_the_partition_count(chart: helm.Chart) -> None:
    at_cap = render(chart, {"kafka": {"partitions": 4}, "autoscaling": {"enabled": True}})
    assert one(at_cap, "ScaledObject")["spec"]["maxReplicaCount"] == 4
    with pytest.raises(
        helm.HelmRenderError, match=r"autoscaling.maxReplicas \(5\) exceeds kafka.partitions \(4\)"
    ):
        render(
            chart, {"kafka": {"partitions": 4}, "autoscaling": {"enabled": True, "maxReplicas": 5}}
        )
    with pytest.raises(helm.HelmRenderError, match=r"autoscaling.minReplicas \(3\) exceeds"):
        render(chart, {"autoscaling": {"enabled": True, "minReplicas": 3, "maxReplicas": 2}})


def test_lint_is_clean_with_every_option() -> None:
    values = merged(
        {
            "serviceMonitor": {"enabled": True},
            "prometheusRule": {"enabled": True},
            "networkPolicy": {"enabled": True, "egress": [{"to": [{"podSelector": {}}]}]},
            "autoscaling": {"enabled": True},
        }
    )
    report = helm.lint(CHART, values, strict=True, namespace="analytics")
    assert report["errors"] == []
    assert [m for m in report["messages"] if m["severity"] >= 2] == []


def gateway_objects(chart: helm.Chart, *overrides: dict[str, Any]) -> Objects:
    return render(chart, {"gateway": {"enabled": True}}, *overrides)


def test_the_gateway_is_opt_in() -> None:
    with helm.Chart.load(CHART) as loaded:
        names = {name for _, name in render(loaded)}
    assert not any(name.endswith("-gateway") for name in names)


def test_gateway_deployment_and_service(chart: helm.Chart) -> None:
    objects = gateway_objects(
        chart, {"gateway": {"replicas": 3, "port": 8181}, "secrets": {"jwtSecret": "s3cret"}}
    )
    gateway = objects[("Deployment", "pulse-realtime-pulse-gateway")]
    assert gateway["spec"]["replicas"] == 3
    main = container(gateway)
    assert build_parser().parse_args(main["args"]).command == "gateway"
    assert main["ports"] == [{"name": "http-metrics", "containerPort": 8181}]
    env = env_of(gateway)
    assert env["PULSE_GATEWAY_PORT"]["value"] == "8181"
    assert env["PULSE_GATEWAY_HOST"]["value"] == "0.0.0.0", "the kubelet probes from outside"
    assert not set(env) - known_variables()
    ref = env["SUPABASE_JWT_SECRET"]["valueFrom"]["secretKeyRef"]
    secret = one(objects, "Secret")
    assert secret["stringData"][ref["key"]] == "s3cret"
    probes = {name: main[name]["httpGet"] for name in ("livenessProbe", "readinessProbe")}
    assert probes["readinessProbe"] == {"path": "/readyz", "port": "http-metrics"}
    assert probes["livenessProbe"] == {"path": "/healthz", "port": "http-metrics"}
    service = objects[("Service", "pulse-realtime-pulse-gateway")]
    assert service["spec"]["ports"] == [
        {"name": "http-metrics", "port": 8181, "targetPort": "http-metrics"}
    ]
    assert (
        service["spec"]["selector"].items()
        <= gateway["spec"]["template"]["metadata"]["labels"].items()
    )


def test_gateway_with_a_jwks_needs_no_secret_key(chart: helm.Chart) -> None:
    objects = gateway_objects(chart, {"gateway": {"jwksUrl": "https://x.supabase.co/jwks"}})
    env = env_of(objects[("Deployment", "pulse-realtime-pulse-gateway")])
    assert env["SUPABASE_JWKS_URL"]["value"] == "https://x.supabase.co/jwks"
    assert env["SUPABASE_JWT_SECRET"]["valueFrom"]["secretKeyRef"]["optional"] is True
