from __future__ import annotations

from collections.abc import Iterator

from eks_platform.checks.context import CheckContext
from eks_platform.checks.finding import Finding, Severity
from eks_platform.checks.rule import Rule
from eks_platform.checks.rules.network_common import ip_pools, join, on_pool, overlaps, spec_networks
from eks_platform.errors import format_path

# What goes wrong when pod addresses overlap each kind of network.
CONSEQUENCE = {
    "the VPC CIDR": "pods would take addresses of VPC hosts (nodes, Fargate pods, VPC endpoints), "
    "and traffic to those hosts would stay on the overlay",
    "the service CIDR": "kube-proxy would capture connections to the pods that got Service addresses",
    "the VPN CIDR": "replies to VPN users would be routed to pods instead of back to the VPN",
    "peered": "replies to the peered VPC (Jenkins) would be routed to pods instead of back over the peering",
    "pool": "two pools hand out the same addresses",
}


class Ep101IppoolOverlapsNetwork(Rule):
    id = "EP101"
    severity = Severity.error
    title = (
        "No Calico IPPool overlaps the VPC, the service CIDR, the VPN or a peered VPC of the spec, nor another IPPool"
    )
    fix = (
        "give the IPPool a range outside the VPC, the service CIDR, the VPN and the peered VPCs and apart from "
        "every other pool (the platform's is calico.ipPool.cidr, 172.16.0.0/16 by default)"
    )
    url = "https://docs.tigera.io/calico/latest/reference/resources/ippool"

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        networks = spec_networks(ctx.platform)
        pools = ip_pools(ctx.objects)
        for index, pool in enumerate(pools):
            clashes: list[str] = []
            why: list[str] = []
            for network in networks:
                if overlaps(pool.cidr, network.cidr):
                    clashes.append(f"{network.what} {network.cidr} ({format_path(network.loc)})")
                    reason = CONSEQUENCE["peered" if network.what.startswith("peered") else network.what]
                    if reason not in why:
                        why.append(reason)
            # each pair of pools once, on the later one (the platform's pool comes first)
            for earlier in pools[:index]:
                if overlaps(pool.cidr, earlier.cidr):
                    clashes.append(earlier.describe)
                    if CONSEQUENCE["pool"] not in why:
                        why.append(CONSEQUENCE["pool"])
            if clashes:
                message = f"{pool.describe} overlaps {join(clashes)}: {'; '.join(why)}"
                yield on_pool(self, ctx, pool=pool, message=message)
