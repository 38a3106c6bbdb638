from __future__ import annotations

from collections.abc import Iterator

from eks_platform.checks.context import CheckContext
from eks_platform.checks.finding import Finding, Severity
from eks_platform.checks.rule import Rule


class Ep502SingleNodePoolHeadroom(Rule):
    id = "EP502"
    severity = Severity.info
    title = "TODO"
    fix = "TODO"

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        return iter(())
