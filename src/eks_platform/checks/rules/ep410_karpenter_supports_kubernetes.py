from __future__ import annotations

from collections.abc import Iterator

from eks_platform.checks.context import CheckContext
from eks_platform.checks.finding import Finding, Severity
from eks_platform.checks.rule import Rule
from eks_platform.spec.validation import warnings


class Ep410KarpenterSupportsKubernetes(Rule):
    id = "EP410"
    severity = Severity.error
    title = "The spec's Karpenter version supports the cluster's Kubernetes version"
    fix = "use karpenter.api: v1 (eksp render --karpenter-api v1 shows the same platform)"
    url = "https://karpenter.sh/docs/upgrading/compatibility/"

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        for issue in warnings(ctx.platform):
            yield self.on_spec(ctx, issue.loc, issue.message, issue.fix or None)
