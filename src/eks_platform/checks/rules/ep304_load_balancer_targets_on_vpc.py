"""EP304: a load balancer in IP-target mode sends straight to pod IPs from the VPC: those pods need a
VPC IP. Overlay IPs cannot be registered as targets (the AWS Load Balancer Controller fails to register
them, or they stay unhealthy). Instance mode (NodePort on every node) works for overlay pods."""

from __future__ import annotations

from collections.abc import Iterator

from eks_platform.checks.context import CheckContext
from eks_platform.checks.finding import Finding, Severity
from eks_platform.checks.rule import Rule
from eks_platform.checks.rules.reachability_common import (
    ALB_TARGET_TYPE,
    ingress_backends,
    nlb_ip_target_annotation,
    overlay_backends,
)


class Ep304LoadBalancerTargetsOnVpc(Rule):
    id = "EP304"
    severity = Severity.error
    title = "Load balancers in IP-target mode send to pods with VPC IPs (Fargate, or the host network of an EC2 node)"
    fix = (
        "use instance targets (remove the ip target-type annotation; the traffic then enters through a NodePort), "
        "or run the pods on Fargate or with hostNetwork: true"
    )
    url = "https://kubernetes-sigs.github.io/aws-load-balancer-controller/latest/guide/service/annotations/"

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        for service in ctx.of_kind("Service"):
            annotation = nlb_ip_target_annotation(service) if service.group == "" else None
            if annotation is None:
                continue
            reference = {"namespace": service.namespace, "name": service.name}
            for template in overlay_backends(ctx, reference):
                yield self.on_object(
                    service,
                    ("metadata", "annotations", annotation),
                    f"the NLB of this Service registers pod IPs as targets, and its pods ({template.owner.kind} "
                    f"{template.owner.name}) are {ctx.where(template).describe}: those IPs are not in the VPC",
                )
        for ingress in ctx.of_kind("Ingress"):
            if str(ingress.annotations.get(ALB_TARGET_TYPE, "")).strip().lower() != "ip":
                continue
            for path, name in ingress_backends(ingress):
                for template in overlay_backends(ctx, {"namespace": ingress.namespace, "name": name}):
                    yield self.on_object(
                        ingress,
                        path,
                        f"the ALB of this Ingress ({ALB_TARGET_TYPE}: ip) registers the pod IPs of Service "
                        f"{ingress.namespace}/{name}, and its pods ({template.owner.kind} {template.owner.name}) "
                        f"are {ctx.where(template).describe}: those IPs are not in the VPC",
                    )
