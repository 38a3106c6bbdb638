"""The Bundle: everything a render produces, as plain data. Later stages (checks, AWS and cluster
apply) read it; nothing in it has been applied."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from eks_platform.errors import SpecIssue
from eks_platform.render.placement import PlacementPlan

Obj = dict[str, Any]

# Apply order: what must exist before what (deletion runs in reverse).
KIND_RANK: dict[str, int] = {
    "CustomResourceDefinition": 0,
    "Namespace": 1,
    "ServiceAccount": 2,
    "ConfigMap": 3,
    "Secret": 3,
    "StorageClass": 4,
    "AWSNodeTemplate": 10,
    "EC2NodeClass": 10,
    "Provisioner": 11,
    "NodePool": 11,
    "Installation": 20,
    "KubeControllersConfiguration": 22,
    "APIServer": 21,
    "GlobalNetworkPolicy": 30,
    "NetworkPolicy": 31,
    "ResourceQuota": 40,
    "LimitRange": 40,
}


def apply_rank(obj: Obj) -> tuple[int, str, str, str]:
    meta = obj.get("metadata", {})
    return (KIND_RANK.get(obj["kind"], 50), obj["kind"], meta.get("namespace", ""), meta["name"])


Stage = Literal["core", "network", "addons"]


@dataclass(frozen=True)
class HelmRelease:
    name: str
    namespace: str
    chart: str
    repo: str
    version: str
    values: Obj
    stage: Stage
    # "helm": helm upgrade --install; "server-side": helm template | server-side apply (CRD charts too
    # large for client-side apply, facts/calico-and-addons.md §1d)
    method: Literal["helm", "server-side"] = "helm"
    # values that come from the AWS stacks at apply time: values path -> "stack.Output"
    aws_inputs: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Bundle:
    manifests: tuple[Obj, ...]  # in apply order
    releases: tuple[HelmRelease, ...]  # in install order
    aws: Mapping[str, Obj]  # inputs for the AWS stacks, by file name (without .json)
    placement: PlacementPlan
    # What the Helm charts and EKS add-ons will run, as eks-platform configures them: modelled from the
    # component facts and the release values (the charts are not templated here). `eksp check` reads them.
    workloads: tuple[Obj, ...] = ()
    warnings: tuple[SpecIssue, ...] = ()
    # CloudFormation templates by stack short name (render/stacks), in deploy order
    stacks: Mapping[str, Obj] = field(default_factory=dict)
