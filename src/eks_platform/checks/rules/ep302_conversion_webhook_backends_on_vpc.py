"""EP302: a CRD's conversion webhook is called by the API server, like an admission webhook: its pods
need a VPC IP. On the overlay, every read of a non-storage version fails ("conversion webhook for
<group> failed ... Address is not allowed"), and so do list calls, garbage collection and namespace
deletion that touch the CRD."""

from __future__ import annotations

from collections.abc import Iterator

from eks_platform.checks.context import CheckContext
from eks_platform.checks.finding import Finding, Severity
from eks_platform.checks.rule import Rule
from eks_platform.checks.rules.reachability_common import conversion_calls, overlay_backends


class Ep302ConversionWebhookBackendsOnVpc(Rule):
    id = "EP302"
    severity = Severity.error
    title = "CRD conversion webhooks are served by pods with VPC IPs (Fargate, or the host network of an EC2 node)"
    fix = (
        "run the conversion webhook's pods on Fargate (a Fargate profile selector, port not 10250), or with "
        "hostNetwork: true on a port free on the node and open in the node security group"
    )
    url = "https://docs.tigera.io/calico/latest/getting-started/kubernetes/managed-public-cloud/eks"

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        for call in conversion_calls(ctx):
            for template in overlay_backends(ctx, call.service):
                yield self.on_object(
                    call.obj,
                    call.path,
                    f"{call.caller} calls Service {call.target}, whose pods ({template.owner.kind} "
                    f"{template.owner.name}) are {ctx.where(template).describe}: the API server cannot reach "
                    "them, so reading or listing its resources in any version but the stored one fails",
                )
