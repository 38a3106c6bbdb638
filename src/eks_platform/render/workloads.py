"""What the charts, EKS add-ons and the tigera-operator will run, as Kubernetes objects.

The charts are not templated here (they live in registries this machine cannot reach), so each
component is modelled from what eks-platform knows and sets: its namespace and pod labels, host
network, ports, nodeSelector and tolerations, requests (read back from the release values, so a
user's override counts), and the Services, webhook configurations and APIServices the API server
calls. `eksp check` runs the same rules on these as on a user's manifests; the `helm template`
output of a release, passed with --manifests, replaces its modelled objects.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from eks_platform.render.bundle import HelmRelease, Obj
from eks_platform.render.calico import CRITICAL_ADDONS_ONLY, NOT_ON_FARGATE
from eks_platform.render.components import ApiServerCall, Component
from eks_platform.render.karpenter import pool_node_selector, pool_tolerations
from eks_platform.render.placement import Placement, PlacementPlan
from eks_platform.render.releases import release_of
from eks_platform.spec import defaults as d
from eks_platform.spec.model import Platform

MODELLED_FROM = "eks-platform.io/modelled-from"

# The Services the API server calls, by component (as the charts name them).
_SERVICE_NAMES = {
    "metrics-server": "metrics-server",
    "prometheus-operator": "kube-prometheus-stack-operator",
    "ingress-nginx-controller": "ingress-nginx-controller-admission",
    "karpenter": "karpenter",
    "calico-apiserver": "calico-api",
}
_WEBHOOK_NAMES = {
    "ingress-nginx-admission": ("validate.nginx.ingress.kubernetes.io",),
    "kube-prometheus-stack-admission": (
        "prometheusrulemutate.monitoring.coreos.com",
        "alertmanagerconfigsmutate.monitoring.coreos.com",
    ),
}


def render_workloads(platform: Platform, plan: PlacementPlan, releases: Sequence[HelmRelease]) -> list[Obj]:
    values_of = {release.name: release.values for release in releases}
    objects: list[Obj] = []
    for placement in plan.placements:
        component = placement.component
        release = release_of(component)
        origin = _origin(component, release)
        objects.append(_workload(platform, placement, values_of.get(release or ""), origin))
        objects += _api_server_targets(placement, origin)
        if any(port.from_load_balancer for port in placement.ports):
            objects.append(_load_balancer(placement, origin))
    return objects


def _origin(component: Component, release: str | None) -> str:
    if release is not None:
        return f"helm release {release}"
    if component.owner.startswith("managedAddons."):
        return f"EKS add-on {component.owner.split('.', 1)[1]}"
    return "tigera-operator (Installation default)"


def _meta(name: str, namespace: str, origin: str, labels: Mapping[str, str] | None = None) -> Obj:
    meta: Obj = {"name": name, "namespace": namespace, "annotations": {MODELLED_FROM: origin}}
    if labels:
        meta["labels"] = dict(labels)
    return meta


def _requests(component: Component, values: Mapping[str, Any] | None) -> Obj:
    default = d.COMPONENT_REQUESTS.get(component.name, d.Requests("0", "0"))
    found: Any = values
    if default.values_path is not None and values is not None:
        for key in (*default.values_path, "resources", "requests"):
            found = found.get(key) if isinstance(found, Mapping) else None
        if isinstance(found, Mapping):
            return {k: str(v) for k, v in found.items() if k in ("cpu", "memory")}
    return {"cpu": default.cpu, "memory": default.memory}


def _pod_spec(platform: Platform, placement: Placement, values: Mapping[str, Any] | None) -> Obj:
    component = placement.component
    container: Obj = {"name": component.name}
    requests = _requests(component, values)
    if any(value not in ("0", "") for value in requests.values()):
        container["resources"] = {"requests": requests}
    if placement.ports:
        container["ports"] = [
            {"name": port.role[:15], "containerPort": port.number, "protocol": port.protocol}
            for port in placement.ports
        ]
    spec: Obj = {"containers": [container]}
    if placement.runs_on == "hostNetwork":
        spec["hostNetwork"] = True
        spec["dnsPolicy"] = "ClusterFirstWithHostNet"
    if placement.runs_on == "fargate":
        return spec
    if component.workload == "DaemonSet":
        spec["tolerations"] = [{"operator": "Exists"}]
        spec["affinity"] = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": NOT_ON_FARGATE}}
    elif component.tolerates_all_pools:  # typha: the Installation's controlPlaneTolerations
        spec["tolerations"] = [*pool_tolerations(platform, platform.calico.pool), CRITICAL_ADDONS_ONLY]
        spec["affinity"] = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": NOT_ON_FARGATE}}
    elif placement.pools:
        spec["nodeSelector"] = pool_node_selector(platform, placement.pools[0])
        tolerations = pool_tolerations(platform, placement.pools[0])
        if tolerations:
            spec["tolerations"] = tolerations
    return spec


def _workload(platform: Platform, placement: Placement, values: Mapping[str, Any] | None, origin: str) -> Obj:
    component = placement.component
    labels = dict(placement.pod_labels)
    spec: Obj = {
        "selector": {"matchLabels": dict(labels)},
        "template": {"metadata": {"labels": dict(labels)}, "spec": _pod_spec(platform, placement, values)},
    }
    if component.workload != "DaemonSet":
        spec = {"replicas": component.replicas, **spec}
    if component.workload == "StatefulSet":
        spec["serviceName"] = component.name
    return {
        "apiVersion": "apps/v1",
        "kind": component.workload,
        "metadata": _meta(component.name, component.namespace, origin, labels),
        "spec": spec,
    }


def _service(
    name: str, placement: Placement, ports: Iterable[Obj], origin: str, *, annotations: Mapping[str, str] = {}
) -> Obj:
    metadata = _meta(name, placement.component.namespace, origin)
    metadata["annotations"] |= annotations
    spec: Obj = {"selector": dict(placement.pod_labels), "ports": list(ports)}
    if annotations:
        spec["type"] = "LoadBalancer"
    return {"apiVersion": "v1", "kind": "Service", "metadata": metadata, "spec": spec}


def _api_server_targets(placement: Placement, origin: str) -> list[Obj]:
    component = placement.component
    if not component.api_server_calls:
        return []
    service_name = _SERVICE_NAMES.get(component.name, component.name)
    roles = sorted({call.port_role for call in component.api_server_calls})
    ports = [{"name": role[:15], "port": 443, "targetPort": placement.port(role).number} for role in roles]
    objects = [_service(service_name, placement, ports, origin)]
    objects += [_call_target(call, component.namespace, service_name, origin) for call in component.api_server_calls]
    return objects


def _call_target(call: ApiServerCall, namespace: str, service: str, origin: str) -> Obj:
    reference = {"name": service, "namespace": namespace, "port": 443}
    if call.kind == "APIService":
        version, _, group = call.name.partition(".")
        return {
            "apiVersion": "apiregistration.k8s.io/v1",
            "kind": "APIService",
            "metadata": {"name": call.name, "annotations": {MODELLED_FROM: origin}},
            "spec": {
                "group": group,
                "version": version,
                "service": reference,
                "groupPriorityMinimum": 1000,
                "versionPriority": 15,
                "insecureSkipTLSVerify": True,
            },
        }
    webhooks = [
        {
            "name": name,
            "clientConfig": {"service": reference},
            "admissionReviewVersions": ["v1"],
            "sideEffects": "None",
        }
        for name in _WEBHOOK_NAMES.get(call.name, (call.name,))
    ]
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": call.kind,
        "metadata": {"name": call.name, "annotations": {MODELLED_FROM: origin}},
        "webhooks": webhooks,
    }


def _load_balancer(placement: Placement, origin: str) -> Obj:
    ports = [
        {"name": port.role, "port": port.number, "targetPort": port.role, "protocol": port.protocol}
        for port in placement.ports
        if port.from_load_balancer
    ]
    annotations = {
        "service.beta.kubernetes.io/aws-load-balancer-type": "external",
        "service.beta.kubernetes.io/aws-load-balancer-nlb-target-type": "ip",
        "service.beta.kubernetes.io/aws-load-balancer-scheme": "internal",
    }
    return _service(placement.component.name, placement, ports, origin, annotations=annotations)
