from __future__ import annotations

from collections.abc import Iterator

from eks_platform.checks.context import CheckContext
from eks_platform.checks.finding import Finding, Severity
from eks_platform.checks.rule import Rule
from eks_platform.checks.rules.karpenter_common import AWS_GROUP, KARPENTER_GROUP

REPLACED_BY = {"Provisioner": "NodePool (karpenter.sh/v1)", "AWSNodeTemplate": "EC2NodeClass (karpenter.k8s.aws/v1)"}


class Ep409DeprecatedV1alpha5(Rule):
    id = "EP409"
    severity = Severity.info
    title = "Karpenter objects use the v1 API (NodePool, EC2NodeClass), not the deprecated v1alpha5 one"
    fix = "eksp render --karpenter-api v1 renders the NodePool/EC2NodeClass (karpenter.api: v1 in the spec)"
    url = "https://karpenter.sh/v0.32/upgrading/v1beta1-migration/"

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        for obj in ctx.of_kind("Provisioner", "AWSNodeTemplate"):
            if obj.group not in (KARPENTER_GROUP, AWS_GROUP):
                continue
            replacement = REPLACED_BY[obj.kind]
            ours = obj.origin.startswith("rendered")
            yield self.on_object(
                obj,
                ("apiVersion",),
                f"{obj.kind} {obj.name} ({obj.api_version}) is deprecated: Karpenter v0.32 was the last to serve it, "
                f"and that line runs only on Kubernetes <= 1.28; its successor is the {replacement}",
                None
                if ours
                else f"rewrite it as a {replacement}: the v1beta1 and v1 migration guides map every field, and "
                "karpenter-convert (Karpenter v0.32) converts the object",
            )
