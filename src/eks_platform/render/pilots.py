"""Each pilot namespace's ResourceQuota and LimitRange: what the pilot's one node can hold.

The quota is the room the fit check (EP501) finds for a pilot's own pods: the allocatable Karpenter computes
for the pilot pool's node (its instance type, Bottlerocket, its maxPods: plan/allocatable.py) minus what the
platform's DaemonSets request on every node (the modelled workloads, render/workloads.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from eks_platform.plan.allocatable import ZERO, Resources, allocatable, parse_cpu_m, parse_memory_mi
from eks_platform.render.bundle import Obj
from eks_platform.render.karpenter import pilot_provisioner
from eks_platform.spec import defaults as d
from eks_platform.spec.instance_catalog import InstanceCatalog, InstanceType
from eks_platform.spec.model import PilotSpec, Platform

QUOTA_NAME = "pilot-node"
LIMIT_RANGE_NAME = "container-defaults"
SIZED_FOR_ANNOTATION = "eks-platform.io/sized-for"


def figures(room: Resources) -> str:
    return f"{room.cpu_m}m/{room.memory_mi}Mi/{room.pods}"


def pilot_node_allocatable(instance_type: InstanceType, *, max_pods: int) -> Resources:
    """Karpenter's allocatable for the pilot pool's Bottlerocket node (kubelet maxPods, no reservations)."""
    return allocatable(instance_type, max_pods=max_pods)


def daemonset_requests(workloads: Sequence[Obj], pilot: PilotSpec) -> Resources:
    """What the platform's DaemonSets request on the pilot's node: one pod of each DaemonSet that tolerates
    the pilot's taint and selects no particular node."""
    total = ZERO
    for obj in workloads:
        spec = _get(obj, "spec", "template", "spec")
        if obj.get("kind") != "DaemonSet" or not isinstance(spec, Mapping) or spec.get("nodeSelector"):
            continue
        if not any(_tolerates_pilot(t, pilot) for t in spec.get("tolerations") or []):
            continue
        containers = [c for c in spec.get("containers") or [] if isinstance(c, Mapping)]
        total += Resources(
            sum(_request_cpu_m(c) for c in containers), sum(_request_memory_mi(c) for c in containers), 1
        )
    return total


def render_pilot_limits(platform: Platform, *, catalog: InstanceCatalog, workloads: Sequence[Obj]) -> list[Obj]:
    """A ResourceQuota and a LimitRange in every pilot namespace whose instance type the catalog knows."""
    objects: list[Obj] = []
    for pilot in platform.pilots:
        instance_type = catalog.get(pilot.instance_type)
        if instance_type is None:
            continue  # refused by spec validation; nothing to size
        max_pods = pilot_provisioner(pilot.name, pilot.instance_type).max_pods
        node = pilot_node_allocatable(instance_type, max_pods=max_pods)
        daemonsets = daemonset_requests(workloads, pilot)
        room = node - daemonsets
        sized_for = (
            f"one {instance_type.name} (Bottlerocket, maxPods {max_pods}): {figures(node)} allocatable, "
            f"minus {figures(daemonsets)} for the platform's DaemonSets"
        )
        objects += [_quota(pilot, room, sized_for), _limit_range(pilot, room)]
    return objects


def _meta(name: str, pilot: PilotSpec, annotations: Mapping[str, str] | None = None) -> Obj:
    meta: Obj = {
        "name": name,
        "namespace": pilot.namespace or f"pilot-{pilot.name}",
        "labels": {d.PILOT_LABEL: pilot.name, d.MANAGED_BY_LABEL: d.MANAGED_BY_VALUE},
    }
    if annotations:
        meta["annotations"] = dict(annotations)
    return meta


def _quota(pilot: PilotSpec, room: Resources, sized_for: str) -> Obj:
    """Requests only: limits may overcommit a node, requests are what the scheduler and the fit check add up."""
    return {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": _meta(QUOTA_NAME, pilot, {SIZED_FOR_ANNOTATION: sized_for}),
        "spec": {
            "hard": {
                "requests.cpu": f"{max(room.cpu_m, 0)}m",
                "requests.memory": f"{max(room.memory_mi, 0)}Mi",
                "pods": str(max(room.pods, 0)),
            }
        },
    }


def _limit_range(pilot: PilotSpec, room: Resources) -> Obj:
    """Defaults for containers that set none, so the quota (which needs every pod to request cpu and memory)
    admits them. The rule: a container without a request gets an even share of the room, the room divided by
    its pod slots (so cpu, memory and pods run out together); a container without a limit may use the whole
    room and no more (so any request the quota can admit stays valid: a request above its limit is refused)."""
    slots = max(room.pods, 1)
    return {
        "apiVersion": "v1",
        "kind": "LimitRange",
        "metadata": _meta(LIMIT_RANGE_NAME, pilot),
        "spec": {
            "limits": [
                {
                    "type": "Container",
                    "defaultRequest": {
                        "cpu": f"{max(room.cpu_m // slots, 1)}m",
                        "memory": f"{max(room.memory_mi // slots, 1)}Mi",
                    },
                    "default": {"cpu": f"{max(room.cpu_m, 1)}m", "memory": f"{max(room.memory_mi, 1)}Mi"},
                }
            ]
        },
    }


def _tolerates_pilot(toleration: Any, pilot: PilotSpec) -> bool:
    if not isinstance(toleration, Mapping) or toleration.get("effect") not in (None, "", "NoSchedule"):
        return False
    operator = toleration.get("operator", "Equal")
    if not toleration.get("key"):
        return bool(operator == "Exists")
    if toleration.get("key") != d.PILOT_LABEL:
        return False
    return bool(operator == "Exists" or str(toleration.get("value", "")) == pilot.name)


def _request_value(container: Mapping[str, Any], resource: str) -> object:
    """A container's request, or its limit when it sets only a limit (Kubernetes then requests the limit)."""
    for source in ("requests", "limits"):
        value = _get(container, "resources", source, resource)
        if value is not None:
            return value
    return None


def _request_cpu_m(container: Mapping[str, Any]) -> int:
    return parse_cpu_m(_request_value(container, "cpu")) or 0  # unset or not a quantity: zero, as the fit check


def _request_memory_mi(container: Mapping[str, Any]) -> int:
    return parse_memory_mi(_request_value(container, "memory")) or 0


def _get(data: Any, *path: str) -> Any:
    for key in path:
        data = data.get(key) if isinstance(data, Mapping) else None
    return data
