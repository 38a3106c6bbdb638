"""`eksp status`: what is live. Nodes per Karpenter pool with their instance type and price, the pods
on each, the pods on Fargate, the releases and their health, and drift: every rendered object that is
missing or differs from the live one (the same server-side dry run `eksp diff` uses)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from eks_platform.apply.cluster import ObjectChange, plan_objects, with_managed_label
from eks_platform.apply.kube_ports import NODE_POOL_LABELS, Helm, Kube, condition_true
from eks_platform.render.bundle import Bundle
from eks_platform.spec.instance_catalog import InstanceCatalog

HOURS_PER_MONTH = 730
FARGATE_COMPUTE_LABEL = "eks.amazonaws.com/compute-type"


@dataclass(frozen=True)
class NodeStatus:
    name: str
    pool: str  # the Karpenter pool, or "" for nodes Karpenter did not make
    instance_type: str
    capacity_type: str
    zone: str
    ready: bool
    price_per_hour: float | None
    pods: tuple[str, ...]  # namespace/name


@dataclass(frozen=True)
class ReleaseHealth:
    name: str
    namespace: str
    chart: str
    status: str  # deployed, failed, ...; "missing" when not installed

    @property
    def healthy(self) -> bool:
        return self.status == "deployed"


@dataclass(frozen=True)
class Status:
    nodes: tuple[NodeStatus, ...]
    fargate_pods: tuple[str, ...]
    pending_pods: tuple[str, ...]
    releases: tuple[ReleaseHealth, ...]
    drift: tuple[ObjectChange, ...]

    @property
    def price_per_hour(self) -> float:
        return sum(node.price_per_hour or 0.0 for node in self.nodes)

    @property
    def healthy(self) -> bool:
        return all(r.healthy for r in self.releases) and not self.drift and all(n.ready for n in self.nodes)


def cluster_status(kube: Kube, helm: Helm, bundle: Bundle, catalog: InstanceCatalog) -> Status:
    pods_by_node: dict[str, list[str]] = defaultdict(list)
    pending: list[str] = []
    for pod in kube.list("v1", "Pod"):
        meta, spec = pod.get("metadata") or {}, pod.get("spec") or {}
        key = f"{meta.get('namespace')}/{meta.get('name')}"
        if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
            continue
        node = spec.get("nodeName")
        if node:
            pods_by_node[str(node)].append(key)
        else:
            pending.append(key)
    nodes: list[NodeStatus] = []
    fargate_pods: list[str] = []
    for node in kube.list("v1", "Node"):
        labels = (node.get("metadata") or {}).get("labels") or {}
        name = str(node["metadata"]["name"])
        if labels.get(FARGATE_COMPUTE_LABEL) == "fargate":
            fargate_pods += pods_by_node.get(name, [])
            continue
        instance_type = str(labels.get("node.kubernetes.io/instance-type", ""))
        known = catalog.get(instance_type)
        capacity = str(labels.get("karpenter.sh/capacity-type", ""))
        nodes.append(
            NodeStatus(
                name=name,
                pool=next((str(labels[label]) for label in NODE_POOL_LABELS if label in labels), ""),
                instance_type=instance_type,
                capacity_type=capacity,
                zone=str(labels.get("topology.kubernetes.io/zone", "")),
                ready=condition_true(node),
                price_per_hour=known.price_per_hour_us_east_1 if known and capacity != "spot" else None,
                pods=tuple(sorted(pods_by_node.get(name, []))),
            )
        )
    releases = []
    for release in bundle.releases:
        if release.method != "helm":
            continue
        state = helm.release(release.name, release.namespace)
        releases.append(
            ReleaseHealth(
                release.name,
                release.namespace,
                state.chart if state else f"{release.chart}-{release.version}",
                state.status if state else "missing",
            )
        )
    drift = [
        c for c in plan_objects(kube, [with_managed_label(o) for o in bundle.manifests]) if c.action != "unchanged"
    ]
    return Status(
        nodes=tuple(sorted(nodes, key=lambda n: (n.pool, n.name))),
        fargate_pods=tuple(sorted(fargate_pods)),
        pending_pods=tuple(sorted(pending)),
        releases=tuple(releases),
        drift=tuple(drift),
    )


def describe_status(status: Status, *, region: str) -> list[str]:
    lines: list[str] = []
    by_pool: dict[str, list[NodeStatus]] = defaultdict(list)
    for node in status.nodes:
        by_pool[node.pool or "(not Karpenter's)"].append(node)
    price_note = "" if region == "us-east-1" else " (us-east-1 on-demand prices)"
    lines.append(f"EC2 nodes: {len(status.nodes)}, ${status.price_per_hour:.3f}/h{price_note}")
    for pool, nodes in sorted(by_pool.items()):
        lines.append(f"  pool {pool}:")
        for node in nodes:
            price = f"${node.price_per_hour:.4f}/h" if node.price_per_hour is not None else "price n/a"
            state = "Ready" if node.ready else "NotReady"
            lines.append(
                f"    {node.name} {node.instance_type} {node.capacity_type} {node.zone} {state} {price}, "
                f"{len(node.pods)} pod(s)"
            )
            lines += [f"      {pod}" for pod in node.pods]
    lines.append(f"Fargate pods: {len(status.fargate_pods)}")
    lines += [f"  {pod}" for pod in status.fargate_pods]
    if status.pending_pods:
        lines.append(f"pods not scheduled yet: {len(status.pending_pods)}")
        lines += [f"  {pod}" for pod in status.pending_pods]
    lines.append("releases:")
    lines += [f"  {r.namespace}/{r.name} {r.chart}: {r.status}" for r in status.releases]
    if status.drift:
        lines.append(f"drift from the rendered state: {len(status.drift)} object(s) (run `eksp up` to converge)")
        lines += [change.describe() for change in status.drift]
    else:
        lines.append("drift from the rendered state: none")
    return lines


def status_json(status: Status) -> dict[str, Any]:
    return {
        "healthy": status.healthy,
        "pricePerHour": round(status.price_per_hour, 4),
        "pricePerMonth": round(status.price_per_hour * HOURS_PER_MONTH, 2),
        "nodes": [
            {
                "name": n.name,
                "pool": n.pool,
                "instanceType": n.instance_type,
                "capacityType": n.capacity_type,
                "zone": n.zone,
                "ready": n.ready,
                "pricePerHour": n.price_per_hour,
                "pods": list(n.pods),
            }
            for n in status.nodes
        ],
        "fargatePods": list(status.fargate_pods),
        "pendingPods": list(status.pending_pods),
        "releases": [
            {"name": r.name, "namespace": r.namespace, "chart": r.chart, "status": r.status} for r in status.releases
        ],
        "drift": [{"object": str(c.ref), "action": c.action, "paths": list(c.paths)} for c in status.drift],
    }
