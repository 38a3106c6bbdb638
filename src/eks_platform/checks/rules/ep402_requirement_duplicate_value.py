from __future__ import annotations

from collections.abc import Iterator

from eks_platform.checks.context import CheckContext
from eks_platform.checks.finding import Finding, Severity
from eks_platform.checks.rule import Rule
from eks_platform.checks.rules.karpenter_common import written_requirements


class Ep402RequirementDuplicateValue(Rule):
    id = "EP402"
    severity = Severity.warning
    title = "No value is listed twice in one NodePool/Provisioner requirement"
    fix = "remove the repeated value"
    url = "https://karpenter.sh/docs/concepts/nodepools/#spectemplatespecrequirements"

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        for pool in ctx.pools:
            for requirement in written_requirements(pool):
                seen: set[str] = set()
                for index, value in enumerate(requirement.values):
                    if value in seen:
                        yield self.on_object(
                            pool.obj,
                            (*requirement.path, "values", index),
                            f"{pool.obj.kind} {pool.name}: '{value}' is listed twice in {requirement.describe()}; "
                            "harmless to Karpenter, but usually a typo for a value that was meant",
                            f"remove the second '{value}' (or write the value you meant)",
                        )
                    seen.add(value)
