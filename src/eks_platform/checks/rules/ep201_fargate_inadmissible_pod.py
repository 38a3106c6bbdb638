from __future__ import annotations

from collections.abc import Iterator, Mapping

from eks_platform.checks.context import CheckContext
from eks_platform.checks.finding import Finding, Severity
from eks_platform.checks.objects import get
from eks_platform.checks.pods import PodTemplate
from eks_platform.checks.rule import Rule
from eks_platform.checks.rules.fargate_common import fargate_pods, why_fargate, workload
from eks_platform.errors import Loc


class Ep201FargateInadmissiblePod(Rule):
    id = "EP201"
    severity = Severity.error
    title = "Pods that land on Fargate use no hostNetwork, hostPort, hostPath volume or privileged container"
    fix = (
        "remove the field (a Fargate pod already has its own VPC IP), or keep the pod off Fargate by narrowing the "
        "Fargate profile selector to labelled pods, e.g. labels {eks-platform.io/compute: fargate}"
    )
    url = "https://docs.aws.amazon.com/eks/latest/userguide/fargate.html#fargate-considerations"

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        for template in fargate_pods(ctx):
            why, keep_off = why_fargate(ctx, template)
            for path, refusal in refused_fields(template):
                yield self.on_object(
                    template.owner,
                    path,
                    f"{workload(template)} lands on Fargate ({why}), and the fargate-scheduler refuses its pods: "
                    f"'Pod not supported on Fargate: {refusal}'; they stay Pending",
                    f"remove it (a Fargate pod already has its own VPC IP), or keep the pod off Fargate: {keep_off}",
                )


def refused_fields(template: PodTemplate) -> Iterator[tuple[Loc, str]]:
    """(path, what the fargate-scheduler says) of every field Fargate refuses."""
    if template.host_network:
        yield template.spec_path("hostNetwork"), "fields not supported: HostNetwork"
    for path, port in template.ports():
        for field in ("hostPort", "hostIP"):
            if port.get(field):
                yield (*path, field), "port contains HostIP or HostPort"
    volumes = template.spec.get("volumes")
    for index, volume in enumerate(volumes if isinstance(volumes, list) else []):
        if isinstance(volume, Mapping) and "hostPath" in volume:
            yield (
                template.spec_path("volumes", index, "hostPath"),
                f"volumes not supported: {volume.get('name')} is of an unsupported volume Type",
            )
    for path, container in template.containers():
        if get(container, "securityContext", "privileged") is True:
            yield (*path, "securityContext", "privileged"), "invalid SecurityContext fields: Privileged"
