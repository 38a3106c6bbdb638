from __future__ import annotations

from collections.abc import Iterator

from eks_platform.checks.context import CheckContext
from eks_platform.checks.finding import Finding, Severity
from eks_platform.checks.rule import Rule
from eks_platform.checks.rules.fit_common import pool_fits
from eks_platform.plan.allocatable import format_memory


class Ep502SingleNodePoolHeadroom(Rule):
    id = "EP502"
    severity = Severity.info
    title = "The room left on the one node of each single-node pool whose pods fit (cpu, memory, pods)"
    fix = "nothing to do: this is the room left for more pods (or bigger requests) on that node"
    url = "https://github.com/aws/karpenter-provider-aws/blob/main/pkg/providers/instancetype/types.go"

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        for fit in pool_fits(ctx):
            if not fit.fits:
                continue  # EP501 reports it
            room = fit.headroom
            yield self.on_object(
                fit.pool.obj,
                (),  # about the whole pool
                f"{fit.node.describe}: {fit.figures}, "
                f"headroom {room.cpu_m}m, {format_memory(room.memory_mi)}, {room.pods} pods",
            )
