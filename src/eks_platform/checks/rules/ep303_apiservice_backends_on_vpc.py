"""EP303: an aggregated APIService is proxied by the API server to its Service: the pods need a VPC IP.
On the overlay the APIService stays Available=False (FailedDiscoveryCheck), discovery of every group
reports errors, namespace deletion hangs, and for metrics-server `kubectl top` and the
HorizontalPodAutoscaler stop working."""

from __future__ import annotations

from collections.abc import Iterator

from eks_platform.checks.context import CheckContext
from eks_platform.checks.finding import Finding, Severity
from eks_platform.checks.rule import Rule
from eks_platform.checks.rules.reachability_common import apiservice_calls, overlay_backends


class Ep303ApiserviceBackendsOnVpc(Rule):
    id = "EP303"
    severity = Severity.error
    title = "Aggregated APIServices are served by pods with VPC IPs (Fargate, or the host network of an EC2 node)"
    fix = (
        "run the APIService's pods on Fargate (a Fargate profile selector, port not 10250; metrics-server: "
        "containerPort 10251), or with hostNetwork: true on a port free on the node and open in the node "
        "security group"
    )
    url = "https://docs.aws.amazon.com/eks/latest/userguide/metrics-server.html"

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        for call in apiservice_calls(ctx):
            for template in overlay_backends(ctx, call.service):
                yield self.on_object(
                    call.obj,
                    call.path,
                    f"{call.caller} is served by Service {call.target}, whose pods ({template.owner.kind} "
                    f"{template.owner.name}) are {ctx.where(template).describe}: the API server cannot reach "
                    f"them, so the APIService stays unavailable (FailedDiscoveryCheck) and requests to "
                    f"{call.obj.spec.get('group') or 'its group'} fail",
                )
