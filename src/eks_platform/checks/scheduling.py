"""Karpenter node pools as the checks see them, and which pools a pod template can land on.

Pools come from the NodePool (v1) and Provisioner (v1alpha5) objects being checked, the platform's
and the user's alike. Semantics follow Karpenter's (facts/karpenter.md §1): a pod must tolerate the
pool's NoSchedule/NoExecute taints, and every nodeSelector and required node-affinity term must be
compatible with the pool's labels and requirements; a key the pool does not define is allowed only
if it is a well-known label or the pod asks for NotIn/DoesNotExist.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from eks_platform.checks.objects import KubeObject, get
from eks_platform.checks.pods import PodTemplate
from eks_platform.errors import Loc
from eks_platform.render.karpenter import SINGLE_NODE_ANNOTATION, v1alpha5_defaults
from eks_platform.spec.instance_catalog import InstanceCatalog, InstanceType

NODEPOOL_LABEL = {"v1": "karpenter.sh/nodepool", "v1alpha5": "karpenter.sh/provisioner-name"}

# Label -> how to read it off an instance type (what Karpenter puts on the node).
INSTANCE_LABELS: dict[str, Any] = {
    "node.kubernetes.io/instance-type": lambda t: t.name,
    "karpenter.k8s.aws/instance-family": lambda t: t.family,
    "karpenter.k8s.aws/instance-size": lambda t: t.size,
    "karpenter.k8s.aws/instance-category": lambda t: t.category,
    "karpenter.k8s.aws/instance-generation": lambda t: str(t.generation),
    "karpenter.k8s.aws/instance-cpu": lambda t: str(t.vcpu),
    "karpenter.k8s.aws/instance-memory": lambda t: str(t.memory_mib),
    "karpenter.k8s.aws/instance-cpu-manufacturer": lambda t: t.cpu_manufacturer,
    "karpenter.k8s.aws/instance-gpu-count": lambda t: str(t.gpu_count),
    "kubernetes.io/arch": lambda t: t.architecture,
}
NUMERIC_LABELS = frozenset(
    {
        "karpenter.k8s.aws/instance-generation",
        "karpenter.k8s.aws/instance-cpu",
        "karpenter.k8s.aws/instance-memory",
        "karpenter.k8s.aws/instance-gpu-count",
        "karpenter.k8s.aws/instance-gpu-memory",
        "karpenter.k8s.aws/instance-network-bandwidth",
        "karpenter.k8s.aws/instance-ebs-bandwidth",
        "karpenter.k8s.aws/instance-local-nvme",
        "karpenter.k8s.aws/instance-pods",
        "karpenter.k8s.aws/instance-encryption-in-transit-supported",
    }
)
WELL_KNOWN = frozenset(
    {
        *INSTANCE_LABELS,
        "kubernetes.io/os",
        "karpenter.sh/capacity-type",
        "topology.kubernetes.io/zone",
        "topology.kubernetes.io/region",
        "karpenter.sh/nodepool",
        "karpenter.sh/provisioner-name",
        "node.kubernetes.io/windows-build",
        "kubernetes.io/hostname",
    }
)
OS_LABEL = "kubernetes.io/os"
CAPACITY_TYPE = "karpenter.sh/capacity-type"


@dataclass(frozen=True, eq=False)
class Pool:
    obj: KubeObject
    api: str  # "v1" or "v1alpha5"
    name: str
    labels: Mapping[str, str]  # what Karpenter puts on its nodes besides the instance labels
    requirements: tuple[Mapping[str, Any], ...]  # as written, plus the v1alpha5 webhook's defaults
    requirements_path: Loc
    taints: tuple[Mapping[str, Any], ...]
    node_class: str | None
    instance_types: tuple[InstanceType, ...]  # catalog types its requirements allow

    @property
    def single_node(self) -> bool:
        return str(self.obj.annotations.get(SINGLE_NODE_ANNOTATION, "")).lower() == "true"

    @property
    def limits(self) -> Mapping[str, Any]:
        path = ("spec", "limits", "resources") if self.api == "v1alpha5" else ("spec", "limits")
        limits = get(self.obj.doc, *path)
        return limits if isinstance(limits, Mapping) else {}

    @property
    def limits_path(self) -> Loc:
        return ("spec", "limits", "resources") if self.api == "v1alpha5" else ("spec", "limits")


def node_pools(objects: Iterable[KubeObject], catalog: InstanceCatalog) -> list[Pool]:
    pools = []
    for obj in objects:
        if obj.kind == "NodePool" and obj.group == "karpenter.sh":
            template_spec = get(obj.doc, "spec", "template", "spec") or {}
            labels = get(obj.doc, "spec", "template", "metadata", "labels") or {}
            requirements_path: Loc = ("spec", "template", "spec", "requirements")
            node_class = get(template_spec, "nodeClassRef", "name")
            api = "v1"
        elif obj.kind == "Provisioner" and obj.group == "karpenter.sh":
            template_spec = obj.spec
            labels = obj.spec.get("labels") or {}
            requirements_path = ("spec", "requirements")
            node_class = get(obj.spec, "providerRef", "name")
            api = "v1alpha5"
        else:
            continue
        requirements = tuple(r for r in template_spec.get("requirements") or [] if isinstance(r, Mapping))
        if api == "v1alpha5":
            keys = {str(r.get("key")) for r in requirements} | {str(k) for k in labels}
            requirements += tuple(v1alpha5_defaults(keys))
        taints = tuple(t for t in template_spec.get("taints") or [] if isinstance(t, Mapping))
        pools.append(
            Pool(
                obj=obj,
                api=api,
                name=obj.name,
                labels={**{str(k): str(v) for k, v in labels.items()}, NODEPOOL_LABEL[api]: obj.name},
                requirements=requirements,
                requirements_path=requirements_path,
                taints=taints,
                node_class=str(node_class) if node_class else None,
                instance_types=tuple(allowed_types(requirements, catalog)),
            )
        )
    return pools


# --- requirements against instance types --------------------------------------------------------


def _values(requirement: Mapping[str, Any]) -> list[str]:
    values = requirement.get("values") or []
    return [str(v) for v in values] if isinstance(values, list) else []


def satisfies(value: str | None, operator: str, values: Sequence[str]) -> bool:
    """Does a label value (None: label absent) meet one requirement?"""
    if operator == "In":
        return value is not None and value in values
    if operator == "NotIn":
        return value is None or value not in values
    if operator == "Exists":
        return value is not None
    if operator == "DoesNotExist":
        return value is None
    if operator in ("Gt", "Lt", "Gte", "Lte"):
        if value is None or not values or not _is_int(value) or not _is_int(values[0]):
            return False
        actual, bound = int(value), int(values[0])
        return {"Gt": actual > bound, "Lt": actual < bound, "Gte": actual >= bound, "Lte": actual <= bound}[operator]
    return False


def _is_int(text: str) -> bool:
    return text.lstrip("-").isdigit()


def type_allowed(instance_type: InstanceType, requirements: Iterable[Mapping[str, Any]]) -> bool:
    for requirement in requirements:
        label = INSTANCE_LABELS.get(str(requirement.get("key")))
        if label is None:
            continue
        if not satisfies(label(instance_type), str(requirement.get("operator")), _values(requirement)):
            return False
    return True


def allowed_types(requirements: Sequence[Mapping[str, Any]], catalog: InstanceCatalog) -> list[InstanceType]:
    return [t for t in catalog.types.values() if type_allowed(t, requirements)]


# --- pods against pools --------------------------------------------------------------------------


def tolerates(tolerations: Iterable[Mapping[str, Any]], taint: Mapping[str, Any]) -> bool:
    for toleration in tolerations:
        key, operator = toleration.get("key"), toleration.get("operator", "Equal")
        effect = toleration.get("effect")
        if effect and effect != taint.get("effect"):
            continue
        if not key and operator == "Exists":
            return True
        if key != taint.get("key"):
            continue
        if operator == "Exists" or str(toleration.get("value", "")) == str(taint.get("value", "")):
            return True
    return False


def pool_allows(pool: Pool, key: str, operator: str, values: Sequence[str]) -> bool:
    """Can a node of this pool carry a label `key` that meets (operator, values)?"""
    if key in pool.labels:
        return satisfies(pool.labels[key], operator, values)
    own = [r for r in pool.requirements if r.get("key") == key]
    if key in INSTANCE_LABELS:
        label = INSTANCE_LABELS[key]
        return any(satisfies(label(t), operator, values) for t in pool.instance_types)
    if own:
        for requirement in own:
            if requirement.get("operator") == "In":
                return any(satisfies(v, operator, values) for v in _values(requirement))
            if requirement.get("operator") == "DoesNotExist":
                return satisfies(None, operator, values)
        return operator != "DoesNotExist"
    if key in WELL_KNOWN:
        if key == OS_LABEL:
            return satisfies("linux", operator, values)
        return operator != "DoesNotExist"
    return operator in ("NotIn", "DoesNotExist")


def fits_pool(template: PodTemplate, pool: Pool) -> bool:
    spec = template.spec
    tolerations = [t for t in spec.get("tolerations") or [] if isinstance(t, Mapping)]
    for taint in pool.taints:
        if taint.get("effect") in ("NoSchedule", "NoExecute") and not tolerates(tolerations, taint):
            return False
    selector = spec.get("nodeSelector")
    if isinstance(selector, Mapping):
        for key, value in selector.items():
            if not pool_allows(pool, str(key), "In", [str(value)]):
                return False
    terms = get(spec, "affinity", "nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution", "nodeSelectorTerms")
    if isinstance(terms, list) and terms:
        return any(_term_fits(term, pool) for term in terms if isinstance(term, Mapping))
    return True


def _term_fits(term: Mapping[str, Any], pool: Pool) -> bool:
    for expression in term.get("matchExpressions") or []:
        if not isinstance(expression, Mapping):
            continue
        if not pool_allows(pool, str(expression.get("key")), str(expression.get("operator")), _values(expression)):
            return False
    return True
