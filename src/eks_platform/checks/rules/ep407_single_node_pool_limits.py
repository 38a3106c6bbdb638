from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from eks_platform.checks.context import CheckContext
from eks_platform.checks.finding import Finding, Severity
from eks_platform.checks.rule import Rule
from eks_platform.checks.rules.karpenter_common import cpu_cores, effective_types, format_number, memory_mib, node_count
from eks_platform.checks.scheduling import Pool
from eks_platform.plan.allocatable import memory_capacity_mi
from eks_platform.render.karpenter import SINGLE_NODE_ANNOTATION
from eks_platform.spec.instance_catalog import InstanceType


class Ep407SingleNodePoolLimits(Rule):
    """Karpenter launches a node only if its capacity fits what is left of each limit (facts/karpenter.md
    §1.4), so a second node can come when every limit is at least twice the smallest type's capacity."""

    id = "EP407"
    severity = Severity.error
    title = f"A single-node pool ({SINGLE_NODE_ANNOTATION}: 'true') has limits that admit exactly one node"
    fix = 'v1: set limits.nodes: "1"; v1alpha5: set limits.resources.cpu below twice the smallest type\'s vCPUs'
    url = "https://karpenter.sh/docs/concepts/nodepools/#speclimits"

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        for pool in ctx.pools:
            types = effective_types(pool, ctx.catalog)
            if not pool.single_node or not types:
                continue  # no instance type at all is EP403's
            label = f"single-node {pool.obj.kind} {pool.name}"
            limits: Mapping[str, Any] = pool.limits
            smallest_cpu = min(types, key=lambda t: (t.vcpu, t.name))
            smallest_memory = min(types, key=lambda t: (memory_capacity_mi(t), t.name))
            memory_capacity = memory_capacity_mi(smallest_memory)
            cpu = cpu_cores(limits["cpu"]) if "cpu" in limits else None
            memory = memory_mib(limits["memory"]) if "memory" in limits else None
            nodes = node_count(limits["nodes"]) if pool.api == "v1" and "nodes" in limits else None

            too_small = []
            if cpu is not None and cpu < smallest_cpu.vcpu:
                too_small.append(f"cpu {limits['cpu']} < {smallest_cpu.vcpu} vCPUs of {smallest_cpu.name}")
            if memory is not None and memory < memory_capacity:
                too_small.append(f"memory {limits['memory']} < {memory_capacity}Mi capacity of {smallest_memory.name}")
            if too_small:
                yield self.on_object(
                    pool.obj,
                    pool.limits_path,
                    f"{label} has limits that admit no node at all ({'; '.join(too_small)}): its pods stay Pending",
                    "raise the limit to the capacity of the pool's instance type (or drop it where limits.nodes "
                    'is "1")',
                )
                continue
            if (
                (nodes is not None and nodes <= 1)
                or (cpu is not None and cpu < 2 * smallest_cpu.vcpu)
                or (memory is not None and memory < 2 * memory_capacity)
            ):
                continue  # one limit is enough to stop the second node
            if not limits:
                problem = "has no limits: Karpenter launches a second node as soon as a pod does not fit the first"
            else:
                reasons = []
                if nodes is not None:
                    reasons.append(f"nodes {limits['nodes']}")
                if cpu is not None:
                    reasons.append(
                        f"cpu {limits['cpu']} >= 2 x {smallest_cpu.vcpu} vCPUs "
                        f"({smallest_cpu.name}, its smallest instance type)"
                    )
                if memory is not None:
                    reasons.append(f"memory {limits['memory']} >= 2 x {memory_capacity}Mi ({smallest_memory.name})")
                bounded = "cpu, memory or nodes" if pool.api == "v1" else "cpu or memory (v1alpha5 has no node limit)"
                problem = (
                    f"has limits that admit a second node: {'; '.join(reasons)}"
                    if reasons
                    else f"has limits ({', '.join(map(str, limits))}) on none of {bounded}: a second node can come"
                )
            yield self.on_object(pool.obj, pool.limits_path, f"{label} {problem}", _fix(pool, types))


def _fix(pool: Pool, types: Sequence[InstanceType]) -> str:
    if pool.api == "v1":
        return 'set spec.limits.nodes: "1" (Karpenter v1 counts nodes)'
    smallest = min(t.vcpu for t in types)
    largest = max(t.vcpu for t in types)
    if largest < 2 * smallest:
        return f'set spec.limits.resources.cpu: "{largest}" (one node of any of its types fits, a second never)'
    return (
        f'set spec.limits.resources.cpu: "{format_number(2 * smallest - 1)}" (types above that many vCPUs can then '
        "no longer launch), or pin one instance type and set cpu to its vCPUs"
    )
