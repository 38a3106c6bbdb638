from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

from eks_platform.checks.context import CheckContext
from eks_platform.checks.finding import Finding, Severity
from eks_platform.checks.objects import get
from eks_platform.checks.rule import Rule
from eks_platform.checks.rules.network_common import IpPool, ip_pools, join, on_pool
from eks_platform.checks.scheduling import Pool
from eks_platform.plan.allocatable import memory_capacity_mi, parse_cpu_m, parse_memory_mi

DEFAULT_MAX_PODS = 110  # kubelet's default; Calico pods use no ENI addresses, so the ENI limit is not used here


@dataclass(frozen=True)
class Demand:
    pool: str
    nodes: int
    max_pods: int


class Ep102IppoolCapacity(Rule):
    """Calico hands each node whole blocks (blockSize) of a pool: a node with maxPods P takes
    ceil(P / block addresses) blocks, and a pool of prefix length L holds 2^(blockSize - L) blocks.
    Nodes: the most each Karpenter pool can launch within its limits; pools without limits are not counted
    (they are named). The pools that hand out pod addresses are checked together."""

    id = "EP102"
    severity = Severity.error
    title = "The Calico IPPools have enough blocks for every node the Karpenter pools can launch at their maxPods"
    fix = (
        "enlarge the IPPool (calico.ipPool.cidr for the platform's) or add a second pool; a larger blockSize "
        "(smaller blocks, e.g. 28) wastes fewer addresses per node; or lower the pools' limits or maxPods"
    )
    url = "https://docs.tigera.io/calico/latest/reference/resources/ippool"

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        pools = [pool for pool in ip_pools(ctx.objects) if pool.allocates and pool.cidr.version == 4]
        if not pools:
            return
        demands: list[Demand] = []
        unbounded: list[str] = []
        for node_pool in ctx.pools:
            nodes = max_nodes(node_pool)
            if nodes is None:
                unbounded.append(node_pool.name)
            elif nodes > 0:
                demands.append(Demand(node_pool.name, nodes, max_pods(ctx, node_pool)))
        if not demands:
            return
        # Pools of different block sizes: count addresses, each node rounded up to the smallest block (a lower
        # bound of what it takes), so that a finding is a certain shortage.
        block = min(pool.block_addresses for pool in pools)
        have = sum(pool.blocks * pool.block_addresses for pool in pools)
        need = sum(d.nodes * math.ceil(d.max_pods / block) * block for d in demands)
        if need <= have:
            return
        target = next((pool for pool in pools if pool.platform_owned), pools[0])
        message = _message(pools, demands, unbounded=unbounded, block=block, have=have, need=need)
        yield on_pool(self, ctx, pool=target, message=message)


def _message(
    pools: list[IpPool], demands: list[Demand], *, unbounded: list[str], block: int, have: int, need: int
) -> str:
    if len({pool.block_size for pool in pools}) == 1:
        size = pools[0].block_size
        holds = f"{have // block} blocks of /{size} ({block} addresses each)"
        takes = f"{need // block} blocks"
    else:
        holds = f"{have} addresses in blocks"
        takes = f"at least {need} addresses"
    subject = pools[0].describe if len(pools) == 1 else f"the IPPools {join([pool.describe for pool in pools])}"
    nodes = sum(d.nodes for d in demands)
    per_pool = join([f"{d.pool} {d.nodes} × {math.ceil(d.max_pods / block)} (maxPods {d.max_pods})" for d in demands])
    text = (
        f"{subject} {'holds' if len(pools) == 1 else 'hold'} {holds}; Calico gives each node whole blocks, and the "
        f"Karpenter pools with limits can launch {nodes} node{'s' if nodes != 1 else ''} taking {takes} "
        f"(nodes × blocks each: {per_pool}): the last nodes get no block, and their pods no address once the "
        "other nodes' blocks are full"
    )
    if unbounded:
        text += f"; not counted, having no limits (unbounded): {join(unbounded)}"
    return text


def max_nodes(pool: Pool) -> int | None:
    """The most nodes a pool can have within its limits (nodes; cpu or memory over its smallest type);
    None without limits."""
    limits = pool.limits
    bounds: list[int] = []
    nodes = limits.get("nodes")
    if nodes is not None and str(nodes).strip().isdigit():
        bounds.append(int(str(nodes).strip()))
    cpu = parse_cpu_m(limits["cpu"]) if "cpu" in limits else None
    if cpu is not None:
        smallest = min((t.vcpu * 1000 for t in pool.instance_types), default=None)
        bounds.append(cpu // smallest if smallest else 0)
    memory = parse_memory_mi(limits["memory"]) if "memory" in limits else None
    if memory is not None:
        # Karpenter counts a node's memory capacity (after the VM overhead) against the limit
        smallest = min((memory_capacity_mi(t) for t in pool.instance_types), default=None)
        bounds.append(memory // smallest if smallest else 0)
    return min(bounds) if bounds else None


def max_pods(ctx: CheckContext, pool: Pool) -> int:
    """maxPods of the pool's nodes: the v1 EC2NodeClass's spec.kubelet (or a v1beta1 NodePool's template),
    the Provisioner's kubeletConfiguration; unset: 110."""
    if pool.api == "v1alpha5":
        value = get(pool.obj.spec, "kubeletConfiguration", "maxPods")
    else:
        value = None
        for node_class in ctx.of_kind("EC2NodeClass"):
            if node_class.name == pool.node_class and node_class.group == "karpenter.k8s.aws":
                value = get(node_class.spec, "kubelet", "maxPods")
        if value is None:
            value = get(pool.obj.spec, "template", "spec", "kubelet", "maxPods")
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else DEFAULT_MAX_PODS
