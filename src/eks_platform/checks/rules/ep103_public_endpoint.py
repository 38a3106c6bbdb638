from __future__ import annotations

from collections.abc import Iterator

from eks_platform.checks.context import CheckContext
from eks_platform.checks.finding import Finding, Severity
from eks_platform.checks.rule import Rule


class Ep103PublicEndpoint(Rule):
    id = "EP103"
    severity = Severity.error
    title = "The cluster's API has no public endpoint (a fully private cluster)"
    fix = (
        "set cluster.endpointAccess.public: false and reach the private endpoint from the VPN "
        "(endpointAccess.vpnCidrs) and the peered VPCs (endpointAccess.peeredVpcs)"
    )
    url = "https://docs.aws.amazon.com/eks/latest/userguide/cluster-endpoint.html"

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        if ctx.platform.cluster.endpoint_access.public:
            yield self.on_spec(
                ctx,
                ("cluster", "endpointAccess", "public"),
                "the Kubernetes API is published on the internet (public endpoint): this platform is meant to be "
                "reachable only from the corporate VPN and the peered VPCs",
            )
