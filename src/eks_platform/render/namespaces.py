"""Namespaces eks-platform owns: the add-ons', the applications' and the pilots'."""

from __future__ import annotations

from eks_platform.render.bundle import Obj
from eks_platform.render.placement import PlacementPlan
from eks_platform.spec import defaults as d
from eks_platform.spec.model import Platform

# Created by EKS or by the tigera-operator itself.
NOT_OURS = frozenset({"kube-system", "calico-system", "calico-apiserver"})


def render_namespaces(platform: Platform, plan: PlacementPlan) -> list[Obj]:
    labels: dict[str, dict[str, str]] = {}
    for placement in plan.placements:
        labels.setdefault(placement.component.namespace, {})
    labels.setdefault("tigera-operator", {})
    for namespace in platform.namespaces:
        labels[namespace.name] = {**namespace.labels, d.ROLE_LABEL: "application"}
    for pilot in platform.pilots:
        labels[pilot.namespace or ""] = {d.PILOT_LABEL: pilot.name, d.ROLE_LABEL: "pilot"}
    return [
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": name, "labels": {**extra, d.MANAGED_BY_LABEL: d.MANAGED_BY_VALUE}},
        }
        for name, extra in sorted(labels.items())
        if name not in NOT_OURS
    ]
