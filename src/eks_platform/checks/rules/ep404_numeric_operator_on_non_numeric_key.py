from __future__ import annotations

import re
from collections.abc import Iterator

from eks_platform.checks.context import CheckContext
from eks_platform.checks.finding import Finding, Severity
from eks_platform.checks.rule import Rule
from eks_platform.checks.rules.karpenter_common import BOUND_OPERATORS, written_requirements
from eks_platform.spec.validation import ARCH, CAPACITY_TYPE, CATEGORY, FAMILY, INSTANCE_TYPE, OS, SIZE, ZONE

# Labels whose values are names, never numbers: a bound on them matches no node.
NAMED_LABELS = frozenset(
    {
        INSTANCE_TYPE,
        FAMILY,
        SIZE,
        CATEGORY,
        ARCH,
        OS,
        CAPACITY_TYPE,
        ZONE,
        "topology.kubernetes.io/region",
        "karpenter.k8s.aws/instance-cpu-manufacturer",
        "karpenter.k8s.aws/instance-hypervisor",
        "karpenter.k8s.aws/instance-gpu-name",
        "karpenter.k8s.aws/instance-gpu-manufacturer",
        "karpenter.k8s.aws/instance-accelerator-name",
        "karpenter.k8s.aws/instance-accelerator-manufacturer",
        "karpenter.sh/nodepool",
        "karpenter.sh/provisioner-name",
    }
)
# What to use instead, for the labels people most often bound.
INSTEAD = {
    SIZE: "karpenter.k8s.aws/instance-cpu (vCPUs) or instance-memory (MiB) with Gt/Lt, or instance-size In [...]",
    INSTANCE_TYPE: "karpenter.k8s.aws/instance-cpu or instance-memory with Gt/Lt, or instance-type In [...]",
    FAMILY: "karpenter.k8s.aws/instance-generation with Gt/Lt, or instance-family In [...]",
    CATEGORY: "karpenter.k8s.aws/instance-generation with Gt/Lt, or instance-category In [...]",
}
NON_NEGATIVE_INTEGER = re.compile(r"^[0-9]+$")


class Ep404NumericOperatorOnNonNumericKey(Rule):
    id = "EP404"
    severity = Severity.error
    title = "Gt/Lt/Gte/Lte requirements bound a numeric label with one whole number"
    fix = "use In/NotIn for labels whose values are names; give Gt/Lt exactly one non-negative integer"
    url = "https://karpenter.sh/docs/concepts/nodepools/#spectemplatespecrequirements"

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        for pool in ctx.pools:
            for requirement in written_requirements(pool):
                operator, key = requirement.operator, requirement.key
                if operator not in BOUND_OPERATORS:
                    continue
                where = f"{pool.obj.kind} {pool.name}: {requirement.describe()}"
                if pool.api == "v1alpha5" and operator in ("Gte", "Lte"):
                    yield self.on_object(
                        pool.obj,
                        (*requirement.path, "operator"),
                        f"{where}: the v1alpha5 API knows only Gt and Lt (Gte/Lte exist only in recent Karpenter v1 "
                        "NodePools); Karpenter's webhook rejects the Provisioner",
                        _strict(operator, requirement.values),
                    )
                elif key in NAMED_LABELS:
                    yield self.on_object(
                        pool.obj,
                        (*requirement.path, "operator"),
                        f"{where}: the values of {key} are names, not numbers, so no node meets a {operator} bound "
                        "on it and the pool matches nothing",
                        f"use {INSTEAD.get(key, f'{key} In [...] with the values you want')}",
                    )
                elif len(requirement.values) != 1:
                    yield self.on_object(
                        pool.obj,
                        (*requirement.path, "values"),
                        f"{where}: {operator} takes exactly one value, {len(requirement.values)} given; "
                        "Karpenter rejects the object",
                        "write one whole number, e.g. values: ['2']",
                    )
                elif not NON_NEGATIVE_INTEGER.match(requirement.values[0]):
                    yield self.on_object(
                        pool.obj,
                        (*requirement.path, "values", 0),
                        f"{where}: '{requirement.values[0]}' is not a non-negative whole number, which {operator} "
                        "needs; Karpenter rejects the object",
                        "write one whole number, e.g. values: ['2'] (instance-memory is in MiB: 16Gi is '16384')",
                    )


def _strict(operator: str, values: tuple[str, ...]) -> str:
    """Gte 4 -> 'write Gt 3'; Lte 8 -> 'write Lt 9'."""
    strict, step = ("Gt", -1) if operator == "Gte" else ("Lt", 1)
    if len(values) == 1 and NON_NEGATIVE_INTEGER.match(values[0]):
        bound = int(values[0]) + step
        return f"write {strict} {bound} (the same bound)" if bound >= 0 else "write Exists (the same bound)"
    return f"write {strict} with the bound moved by one"
