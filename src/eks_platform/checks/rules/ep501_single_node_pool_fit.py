from __future__ import annotations

from collections.abc import Iterator

from eks_platform.checks.context import CheckContext
from eks_platform.checks.finding import Finding, Severity
from eks_platform.checks.rule import Rule
from eks_platform.checks.rules.fit_common import PoolFit, Share, bigger_type, pool_fits, where_instance_type_is_set
from eks_platform.plan.allocatable import Resources, format_memory

TOP = 3


class Ep501SingleNodePoolFit(Rule):
    id = "EP501"
    severity = Severity.error
    title = (
        "Everything pinned to a single-node pool, plus the DaemonSets that land there, fits the allocatable "
        "Karpenter computes for its instance type"
    )
    fix = "pin a bigger instance type, run fewer replicas, or lower the requests"
    url = "https://github.com/aws/karpenter-provider-aws/blob/main/pkg/providers/instancetype/types.go"

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        for fit in pool_fits(ctx):
            if fit.fits:
                continue
            over = _over(fit.requested, fit.allocatable)
            biggest = sorted(fit.shares, key=lambda s: _weight(s, fit), reverse=True)[:TOP]
            daemons = sum(1 for s in fit.shares if s.template.is_daemonset)
            yield self.on_object(
                fit.pool.obj,
                fit.path,
                f"the one node of pool {fit.pool.name}, {fit.node.describe}, cannot hold its pods: {fit.figures} "
                f"by {_count(len(fit.shares) - daemons, 'pinned workload')} and {_count(daemons, 'DaemonSet')}; "
                f"over by {', '.join(over)}; biggest: {'; '.join(s.describe for s in biggest)}",
                _fix(ctx, fit, biggest[0] if biggest else None),
            )


def _over(requested: Resources, allocatable: Resources) -> list[str]:
    over = requested - allocatable
    parts = []
    if over.cpu_m > 0:
        parts.append(f"cpu {over.cpu_m}m")
    if over.memory_mi > 0:
        parts.append(f"memory {format_memory(over.memory_mi)}")
    if over.pods > 0:
        parts.append(_count(over.pods, "pod"))
    return parts


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def _weight(share: Share, fit: PoolFit) -> float:
    """A share's part of the most overflowed resource (relative to the allocatable)."""
    requested, allocatable = fit.requested, fit.allocatable
    ratios = {
        "cpu": requested.cpu_m / max(allocatable.cpu_m, 1),
        "memory": requested.memory_mi / max(allocatable.memory_mi, 1),
        "pods": requested.pods / max(allocatable.pods, 1),
    }
    worst = max(ratios, key=lambda k: ratios[k])
    total = share.total
    return {"cpu": total.cpu_m, "memory": total.memory_mi, "pods": total.pods}[worst]


def _fix(ctx: CheckContext, fit: PoolFit, biggest: Share | None) -> str:
    node = fit.node
    lower = (
        f"run fewer replicas or lower the requests (biggest: {biggest.template.owner.kind} "
        f"{biggest.template.owner.namespace}/{biggest.template.owner.name})"
        if biggest is not None
        else "run fewer replicas or lower the requests"
    )
    candidate = bigger_type(ctx, fit)
    if candidate is not None:
        a = node.allocatable(candidate)
        return (
            f"pin {candidate.name} instead of {node.instance_type.name} ({where_instance_type_is_set(ctx, fit.pool)}; "
            f"{a.cpu_m}m/{a.memory_mi}Mi/{a.pods} pods allocatable), or {lower}"
        )
    if node.max_pods is not None and fit.requested.pods > node.max_pods:
        return f"raise maxPods ({node.kubelet_path}.maxPods, now {node.max_pods}), or {lower}"
    return f"no catalog instance type holds all of it: {lower}, or move some pods to another pool"
