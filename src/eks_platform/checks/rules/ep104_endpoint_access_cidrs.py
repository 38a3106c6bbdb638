from __future__ import annotations

from collections.abc import Iterator

from eks_platform.checks.context import CheckContext
from eks_platform.checks.finding import Finding, Severity
from eks_platform.checks.rule import Rule


class Ep104EndpointAccessCidrs(Rule):
    id = "EP104"
    severity = Severity.error
    title = "The private API endpoint is reachable from outside the VPC: a VPN CIDR or a peered VPC is given"
    fix = (
        "list the corporate VPN ranges under cluster.endpointAccess.vpnCidrs and the VPCs that run "
        "kubectl or Jenkins under cluster.endpointAccess.peeredVpcs (name and cidr)"
    )
    url = "https://docs.aws.amazon.com/eks/latest/userguide/cluster-endpoint.html"

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        access = ctx.platform.cluster.endpoint_access
        if access.public or access.vpn_cidrs or access.peered_vpcs:
            return  # a public endpoint is EP103's finding
        yield self.on_spec(
            ctx,
            ("cluster", "endpointAccess"),
            "no VPN CIDR and no peered VPC: the private API endpoint is reachable from inside the VPC only, so "
            "neither the VPN users (kubectl) nor Jenkins in its peered VPC can reach the cluster",
        )
