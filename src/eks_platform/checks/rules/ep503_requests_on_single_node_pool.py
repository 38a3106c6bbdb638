from __future__ import annotations

from collections.abc import Iterator

from eks_platform.checks.context import CheckContext
from eks_platform.checks.finding import Finding, Severity
from eks_platform.checks.rule import Rule
from eks_platform.checks.rules.fit_common import counted_on, unset_requests


class Ep503RequestsOnSingleNodePool(Rule):
    id = "EP503"
    severity = Severity.warning
    title = "Every container of a user's pod on a single-node pool requests cpu and memory, so EP501 counts it"
    fix = "set resources.requests.cpu and .memory on every container, as quantities such as 250m and 512Mi"
    url = "https://kubernetes.io/docs/concepts/configuration/manage-resources-containers/"

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        single = {pool.name for pool in ctx.pools if pool.single_node}
        for template in ctx.templates:
            if template.owner.origin != "user":
                continue
            on = [pool for pool in counted_on(ctx, template) if pool in single]
            if not on:
                continue
            lands = "runs a pod on" if template.is_daemonset else "is pinned to"
            pools = f"single-node pool {on[0]}" if len(on) == 1 else f"single-node pools {', '.join(on)}"
            for path, name, unset in unset_requests(template):
                yield self.on_object(
                    template.owner,
                    path,
                    f"{template.owner.kind} {template.namespace}/{template.owner.name} {lands} {pools}, but its "
                    f"container {name} requests no valid {' or '.join(unset)}: the fit check (EP501) counts "
                    f"{'them' if len(unset) > 1 else 'it'} as zero",
                )
