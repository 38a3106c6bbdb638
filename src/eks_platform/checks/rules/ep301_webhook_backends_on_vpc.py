from __future__ import annotations

from collections.abc import Iterator

from eks_platform.checks.context import CheckContext
from eks_platform.checks.finding import Finding, Severity
from eks_platform.checks.objects import get
from eks_platform.checks.rule import Rule
from eks_platform.checks.rules.reachability_common import overlay_backends, webhook_calls


class Ep301WebhookBackendsOnVpc(Rule):
    id = "EP301"
    severity = Severity.error
    title = "Admission webhooks are served by pods with VPC IPs (Fargate, or the host network of an EC2 node)"
    fix = (
        "run the webhook's pods on Fargate (a Fargate profile selector, port not 10250), or with hostNetwork: true "
        "on a port free on the node and open in the node security group"
    )
    url = "https://docs.tigera.io/calico/latest/getting-started/kubernetes/managed-public-cloud/eks"

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        for call in webhook_calls(ctx):
            webhook = get(call.obj.doc, *call.path[:2], "name")
            for template in overlay_backends(ctx, call.service):
                yield self.on_object(
                    call.obj,
                    call.path,
                    f"webhook {webhook} calls Service {call.target}, whose pods "
                    f"({template.owner.kind} {template.owner.name}) are {ctx.where(template).describe}: "
                    "the API server cannot reach them ('Address is not allowed')",
                )
