from __future__ import annotations

from collections.abc import Iterator

from eks_platform.checks.context import CheckContext
from eks_platform.checks.finding import Finding, Severity
from eks_platform.checks.rule import Rule
from eks_platform.checks.rules.karpenter_common import written_requirements
from eks_platform.spec.validation import ARCH, CAPACITY_TYPE, unknown_requirement_value

# Karpenter v1 also launches into capacity reservations (karpenter.sh/capacity-type: reserved).
V1_CAPACITY_TYPES = frozenset({"reserved"})


class Ep401RequirementUnknownValue(Rule):
    id = "EP401"
    severity = Severity.error
    title = (
        "Every value of a NodePool/Provisioner requirement names a real instance type, family, size, category, "
        "generation, capacity type, architecture, OS or zone"
    )
    fix = "write a value that exists (the EC2 instance catalog lists types, families and sizes)"
    url = "https://karpenter.sh/docs/concepts/scheduling/#well-known-labels"

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        region = ctx.platform.cluster.region
        for pool in ctx.pools:
            requirements = written_requirements(pool)
            arch = next(
                (r.values[0] for r in requirements if r.key == ARCH and r.operator == "In" and len(r.values) == 1),
                "amd64",
            )
            for requirement in requirements:
                if requirement.operator not in ("In", "NotIn"):
                    continue  # bounds are EP404's; Exists/DoesNotExist take no values
                for index, value in enumerate(requirement.values):
                    if pool.api == "v1" and requirement.key == CAPACITY_TYPE and value in V1_CAPACITY_TYPES:
                        continue
                    problem = unknown_requirement_value(
                        requirement.key, value, catalog=ctx.catalog, region=region, arch=arch
                    )
                    if problem is None:
                        continue
                    message, suggestion = problem
                    effect = "matches nothing" if requirement.operator == "In" else "excludes nothing"
                    yield self.on_object(
                        pool.obj,
                        (*requirement.path, "values", index),
                        f"{pool.obj.kind} {pool.name}: {message} ({requirement.key} {requirement.operator}): "
                        f"this value {effect}",
                        suggestion or None,
                    )
