"""The Pod Security Standards' "restricted" profile, checked on a rendered pod template.

It follows the Kubernetes documentation's list of controls for the baseline and restricted
levels, so a chart can be checked offline, without an admission controller.
"""

from __future__ import annotations

from typing import Any

ALLOWED_VOLUME_TYPES = frozenset(
    {
        "configMap",
        "csi",
        "downwardAPI",
        "emptyDir",
        "ephemeral",
        "persistentVolumeClaim",
        "projected",
        "secret",
    }
)
ALLOWED_SECCOMP = frozenset({"RuntimeDefault", "Localhost"})
HOST_NAMESPACES = ("hostNetwork", "hostPID", "hostIPC")


def restricted_violations(pod: dict[str, Any]) -> list[str]:
    """What keeps ``pod`` (a PodSpec) out of the restricted profile; empty when it passes."""
    found: list[str] = []
    pod_context = pod.get("securityContext") or {}
    for field in HOST_NAMESPACES:
        if pod.get(field):
            found.append(f"{field} is set")
    for volume in pod.get("volumes") or []:
        kinds = set(volume) - {"name"}
        if not kinds <= ALLOWED_VOLUME_TYPES:
            found.append(f"volume {volume['name']} is of type {sorted(kinds)}")
    containers = [*(pod.get("initContainers") or []), *(pod.get("containers") or [])]
    for container in containers:
        found.extend(_container_violations(container, pod_context))
    return found


def _container_violations(container: dict[str, Any], pod_context: dict[str, Any]) -> list[str]:
    name = container["name"]
    context = container.get("securityContext") or {}

    def effective(field: str) -> Any:
        return context.get(field, pod_context.get(field))

    found: list[str] = []
    if context.get("privileged"):
        found.append(f"{name}: privileged")
    if context.get("allowPrivilegeEscalation") is not False:
        found.append(f"{name}: allowPrivilegeEscalation is not false")
    capabilities = context.get("capabilities") or {}
    if "ALL" not in (capabilities.get("drop") or []):
        found.append(f"{name}: capabilities do not drop ALL")
    if set(capabilities.get("add") or []) - {"NET_BIND_SERVICE"}:
        found.append(f"{name}: adds capabilities {capabilities['add']}")
    if effective("runAsNonRoot") is not True:
        found.append(f"{name}: runAsNonRoot is not true")
    if effective("runAsUser") == 0:
        found.append(f"{name}: runs as uid 0")
    seccomp = effective("seccompProfile") or {}
    if seccomp.get("type") not in ALLOWED_SECCOMP:
        found.append(f"{name}: seccompProfile is {seccomp.get('type')!r}")
    for port in container.get("ports") or []:
        if port.get("hostPort"):
            found.append(f"{name}: hostPort {port['hostPort']}")
    return found
