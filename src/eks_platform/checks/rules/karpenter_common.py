"""Shared by the Karpenter rules (EP4xx): written requirements with their paths, the instance types a
pool really allows (with the defaults the v1alpha5 webhook adds), node-class references, quantities."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from eks_platform.checks.context import CheckContext
from eks_platform.checks.objects import KubeObject, get
from eks_platform.checks.scheduling import NUMERIC_LABELS, Pool, allowed_types
from eks_platform.errors import Loc
from eks_platform.plan.allocatable import parse_cpu_m, parse_memory_mi
from eks_platform.render.karpenter import v1alpha5_defaults as webhook_defaults
from eks_platform.spec.instance_catalog import InstanceCatalog, InstanceType

KARPENTER_GROUP = "karpenter.sh"
AWS_GROUP = "karpenter.k8s.aws"
NODE_CLASS_KIND = {"v1": "EC2NodeClass", "v1alpha5": "AWSNodeTemplate"}
BOUND_OPERATORS = frozenset({"Gt", "Lt", "Gte", "Lte"})
V1ALPHA5_DEFAULT = "v1alpha5 default"


@dataclass(frozen=True)
class Requirement:
    """One requirement of a pool, as written (or as the v1alpha5 webhook adds it: path is then ())."""

    path: Loc
    key: str
    operator: str
    values: tuple[str, ...]
    origin: str = ""  # "" when written, V1ALPHA5_DEFAULT when added by Karpenter's webhook

    @property
    def as_mapping(self) -> Mapping[str, Any]:
        return {"key": self.key, "operator": self.operator, "values": list(self.values)}

    @property
    def numeric(self) -> bool:
        return self.key in NUMERIC_LABELS

    @property
    def where(self) -> str:
        """'requirements[1]', or 'the v1alpha5 default'."""
        return f"requirements[{self.path[-1]}]" if self.path else f"the {V1ALPHA5_DEFAULT}"

    def expression(self) -> str:
        """'karpenter.k8s.aws/instance-size In [4xlarge]'."""
        values = f" [{', '.join(self.values)}]" if self.values or self.operator in ("In", "NotIn") else ""
        if self.operator in BOUND_OPERATORS and len(self.values) == 1:
            values = f" {self.values[0]}"
        return f"{self.key} {self.operator}{values}"

    def describe(self) -> str:
        """'requirements[1] (karpenter.k8s.aws/instance-size In [4xlarge])'."""
        return f"{self.where} ({self.expression()})"


def written_requirements(pool: Pool) -> list[Requirement]:
    """Every requirement of the pool's object with its path (indexes as written, so paths are exact)."""
    raw = get(pool.obj.doc, *pool.requirements_path)
    found = []
    for index, item in enumerate(raw if isinstance(raw, list) else []):
        if not isinstance(item, Mapping):
            continue
        values = item.get("values")
        found.append(
            Requirement(
                path=(*pool.requirements_path, index),
                key=str(item.get("key", "")),
                operator=str(item.get("operator", "")),
                values=tuple(str(v) for v in values) if isinstance(values, list) else (),
            )
        )
    return found


def v1alpha5_defaults(pool: Pool) -> list[Requirement]:
    """What Karpenter v0.31's webhook adds to a Provisioner when the key is absent (facts/karpenter.md §4);
    a v1 NodePool gets none."""
    if pool.api != "v1alpha5":
        return []
    keys = {r.key for r in written_requirements(pool)} | set(pool.labels)
    return [
        Requirement((), str(d["key"]), str(d["operator"]), tuple(d["values"]), V1ALPHA5_DEFAULT)
        for d in webhook_defaults(keys)
    ]


def effective_requirements(pool: Pool) -> list[Requirement]:
    return written_requirements(pool) + v1alpha5_defaults(pool)


def types_allowed(requirements: Iterable[Requirement], catalog: InstanceCatalog) -> list[InstanceType]:
    return allowed_types([r.as_mapping for r in requirements], catalog)


def effective_types(pool: Pool, catalog: InstanceCatalog) -> Sequence[InstanceType]:
    """The catalog types a pool can launch: pool.instance_types, narrowed by the v1alpha5 defaults."""
    defaults = v1alpha5_defaults(pool)
    if not defaults:
        return pool.instance_types
    return types_allowed(effective_requirements(pool), catalog)


# --- node classes --------------------------------------------------------------------------------


@dataclass(frozen=True)
class NodeClassRef:
    path: Loc  # where the reference is (or would be) written
    name: str | None
    kind: str | None
    group: str | None
    inline: bool = False  # a v1alpha5 inline provider: settings, no reference


def node_class_ref(pool: Pool) -> NodeClassRef | None:
    """The pool's reference to its node class, None when it has none (a v1alpha5 inline provider is
    returned with inline=True: settings written in place of a reference)."""
    if pool.api == "v1alpha5":
        ref = pool.obj.spec.get("providerRef")
        if isinstance(ref, Mapping):
            return NodeClassRef(("spec", "providerRef"), _str(ref.get("name")), "AWSNodeTemplate", AWS_GROUP)
        if isinstance(pool.obj.spec.get("provider"), Mapping):
            return NodeClassRef(("spec", "provider"), None, None, None, inline=True)
        return None
    ref = get(pool.obj.doc, "spec", "template", "spec", "nodeClassRef")
    if not isinstance(ref, Mapping):
        return None
    group = _str(ref.get("group")) or _str(ref.get("apiVersion"), group_only=True)  # v1beta1: apiVersion
    path: Loc = ("spec", "template", "spec", "nodeClassRef")
    return NodeClassRef(path, _str(ref.get("name")), _str(ref.get("kind")), group)


def node_classes(ctx: CheckContext, kind: str) -> dict[str, KubeObject]:
    return {obj.name: obj for obj in ctx.of_kind(kind) if obj.group == AWS_GROUP}


def _str(value: Any, *, group_only: bool = False) -> str | None:
    if value is None or value == "":
        return None
    text = str(value)
    if group_only:
        return text.rpartition("/")[0] or None
    return text


# --- quantities ----------------------------------------------------------------------------------


def cpu_cores(value: object) -> float | None:
    """'8' -> 8.0, '8000m' -> 8.0, 0.5 -> 0.5; None when it is not a quantity."""
    millicores = parse_cpu_m(value)
    return None if millicores is None else millicores / 1000


def memory_mib(value: object) -> int | None:
    return parse_memory_mi(value)


def node_count(value: object) -> float | None:
    return cpu_cores(value)  # a plain quantity: '1', 1, '2'


def format_number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def sorted_values(key: str, types: Iterable[InstanceType], label: Any) -> list[str]:
    """The distinct values `label` takes over `types`, numbers in order, names from the smallest type up."""
    smallest: dict[str, tuple[int, int]] = {}
    for instance_type in types:
        value = str(label(instance_type))
        rank = (instance_type.vcpu, instance_type.memory_mib)
        smallest[value] = min(smallest.get(value, rank), rank)
    if key in NUMERIC_LABELS:
        return sorted(smallest, key=lambda v: int(v) if v.lstrip("-").isdigit() else 0)
    return sorted(smallest, key=lambda v: (smallest[v], v))


def shorten(values: Sequence[str], *, most: int = 8) -> str:
    return ", ".join(values) if len(values) <= most else f"{', '.join(values[:most])}, ... ({len(values)} in all)"
