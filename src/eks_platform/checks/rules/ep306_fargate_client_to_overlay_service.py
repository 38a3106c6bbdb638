"""EP306: a Fargate pod cannot open connections to pods on the Calico overlay. Fargate runs the VPC
CNI only and has no route to the overlay's range, so a Service (ClusterIP or DNS name) whose pods are
overlay pods times out from Fargate.

"Depends on" is read from each container's literal env values, args and command words:
`<svc>.<ns>.svc...`, `<svc>.<ns>:<port>`, `//<svc>.<ns>`, and in the pod's own namespace `//<svc>:` or
`//<svc>/`, where <svc> is a Service among the objects checked. Values from ConfigMaps and Secrets are
not seen.

Host-network pods on EC2 nodes are NOT flagged: they have VPC IPs too, but their node runs Calico and
routes to the overlay (the kubelet's probes of overlay pods prove it)."""

from __future__ import annotations

from collections.abc import Iterator

from eks_platform.checks.context import CheckContext
from eks_platform.checks.finding import Finding, Severity
from eks_platform.checks.rule import Rule
from eks_platform.checks.rules.reachability_common import container_strings, overlay_backends, service_names


class Ep306FargateClientToOverlayService(Rule):
    id = "EP306"
    severity = Severity.error
    title = "Pods on Fargate call no Service whose pods are on the Calico overlay"
    fix = (
        "run the client on EC2 (leave its Fargate profile), or move the Service's pods to Fargate or to the "
        "host network of an EC2 node"
    )
    url = "https://docs.aws.amazon.com/eks/latest/userguide/fargate.html"

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        for client in ctx.templates:
            where = ctx.where(client)
            if where.home != "fargate":
                continue
            for path, text in container_strings(client):
                for namespace, name in service_names(text, namespace=client.namespace):
                    for template in overlay_backends(ctx, {"namespace": namespace, "name": name}):
                        yield self.on_object(
                            client.owner,
                            path,
                            f"this pod runs {where.describe} and calls Service {namespace}/{name}, whose pods "
                            f"({template.owner.kind} {template.owner.name}) are "
                            f"{ctx.where(template).describe}: Fargate has no route to overlay IPs",
                        )
