from __future__ import annotations

from collections.abc import Iterator

from eks_platform.checks.context import CheckContext
from eks_platform.checks.finding import Finding, Severity
from eks_platform.checks.rule import Rule
from eks_platform.checks.rules.fit_common import counted_on, unset_requests


class Ep503RequestsOnSingleNodePool(Rule):
    id = "EP503"
    severity = Severity.warning
    title = "The user's pods on a single-node pool request cpu and memory, so the fit check (EP501) counts them"
    fix = "set resources.requests.cpu and .memory on the pod's containers (what they use at steady state)"
    url = "https://kubernetes.io/docs/concepts/configuration/manage-resources-containers/"

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        single = {pool.name for pool in ctx.pools if pool.single_node}
        for template in ctx.templates:
            if template.owner.origin != "user":
                continue
            on = [pool for pool in counted_on(ctx, template) if pool in single]
            unset = unset_requests(template)
            if not on or not unset:
                continue
            lands = "runs a pod on" if template.is_daemonset else "is pinned to"
            pools = f"single-node pool {on[0]}" if len(on) == 1 else f"single-node pools {', '.join(on)}"
            yield self.on_object(
                template.owner,
                template.spec_path("containers"),
                f"{template.owner.kind} {template.namespace}/{template.owner.name} {lands} {pools}, but none of its "
                f"containers requests {' or '.join(unset)}: the fit check (EP501) counts "
                f"{'them' if len(unset) > 1 else 'it'} as zero",
            )
