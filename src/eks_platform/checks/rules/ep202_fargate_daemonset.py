from __future__ import annotations

from collections.abc import Iterator

from eks_platform.checks.context import CheckContext
from eks_platform.checks.finding import Finding, Severity
from eks_platform.checks.pods import PodTemplate
from eks_platform.checks.rule import Rule
from eks_platform.checks.rules.fargate_common import (
    fargate_node_toleration,
    fargate_selector,
    why_fargate,
    workload,
)
from eks_platform.errors import Loc


class Ep202FargateDaemonset(Rule):
    id = "EP202"
    severity = Severity.error
    title = "No DaemonSet's pods are sent to Fargate (Fargate runs no DaemonSets)"
    fix = (
        "keep the DaemonSet off Fargate: narrow the Fargate profile selector to labelled pods, e.g. labels "
        "{eks-platform.io/compute: fargate}, and give the DaemonSet the required node affinity "
        "eks.amazonaws.com/compute-type NotIn [fargate]"
    )
    url = "https://docs.aws.amazon.com/eks/latest/userguide/fargate.html#fargate-considerations"

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        fargate_in_use = bool(ctx.platform.fargate.profiles)
        for template in ctx.templates:
            if not template.is_daemonset:
                continue
            if ctx.where(template).home == "fargate":
                why, keep_off = why_fargate(ctx, template)
                yield self.on_object(
                    template.owner,
                    _selected_path(ctx, template),
                    f"{workload(template)} is sent to Fargate ({why}), "
                    "but Fargate runs no DaemonSets: its pods stay Pending",
                    f"keep it off Fargate: {keep_off}",
                )
                continue
            index = fargate_node_toleration(template) if fargate_in_use else None
            if index is not None:
                yield self.on_object(
                    template.owner,
                    template.spec_path("tolerations", index),
                    f"{workload(template)} tolerates the Fargate nodes' taint eks.amazonaws.com/compute-type="
                    "fargate:NoSchedule and nothing keeps it off those nodes: the DaemonSet controller makes one "
                    "of its pods for each Fargate node (one per Fargate pod), and they stay Pending",
                    "add the required node affinity eks.amazonaws.com/compute-type NotIn [fargate] "
                    "(as calico-node and kube-proxy have), or narrow the toleration",
                )


def _selected_path(ctx: CheckContext, template: PodTemplate) -> Loc:
    """What sends the pods to Fargate: their labels, their namespace, or their schedulerName."""
    found = fargate_selector(ctx, template)
    if found is None:
        return template.spec_path("schedulerName")
    if found[1].labels:
        return (*template.path, "metadata", "labels")
    return ("metadata", "namespace")
