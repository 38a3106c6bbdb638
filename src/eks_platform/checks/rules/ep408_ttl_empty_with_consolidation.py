from __future__ import annotations

from collections.abc import Iterator

from eks_platform.checks.context import CheckContext
from eks_platform.checks.finding import Finding, Severity
from eks_platform.checks.objects import get
from eks_platform.checks.rule import Rule


class Ep408TtlEmptyWithConsolidation(Rule):
    id = "EP408"
    severity = Severity.error
    title = "A Provisioner sets either ttlSecondsAfterEmpty or consolidation.enabled: true, not both"
    fix = "remove ttlSecondsAfterEmpty (consolidation also removes empty nodes), or turn consolidation off"
    url = "https://karpenter.sh/v0.31/concepts/deprovisioning/"

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        for pool in ctx.pools:
            if pool.api != "v1alpha5":
                continue
            ttl = pool.obj.spec.get("ttlSecondsAfterEmpty")
            if ttl is not None and get(pool.obj.spec, "consolidation", "enabled") is True:
                yield self.on_object(
                    pool.obj,
                    ("spec", "ttlSecondsAfterEmpty"),
                    f"Provisioner {pool.name} sets ttlSecondsAfterEmpty ({ttl}) and consolidation.enabled: true; "
                    "Karpenter's webhook rejects it (the two are mutually exclusive), so the Provisioner "
                    "is never created",
                )
