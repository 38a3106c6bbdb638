"""The CloudFormation stacks of a platform: one builder per stack (troposphere), each a pure function of the
spec that returns a Template. render_stacks gives them as plain dicts, in the order they are deployed
(deleted in reverse). The EKS cluster, its Fargate profiles and add-ons are not stacks: the engine makes
them through the EKS API between `access` and `irsa` (irsa needs the cluster's OIDC issuer).

Parameters without a default are filled at apply time: each template's Metadata.EksPlatform.ParameterSources
names where from ("<stack>.<Output>", or "cluster.<attribute>" of the EKS cluster)."""

from __future__ import annotations

from troposphere import Template

from eks_platform.render.bundle import Obj
from eks_platform.render.placement import PlacementPlan
from eks_platform.render.stacks.access import access_template
from eks_platform.render.stacks.efs import efs_template
from eks_platform.render.stacks.iam import iam_template
from eks_platform.render.stacks.irsa import irsa_template
from eks_platform.render.stacks.karpenter_infra import karpenter_infra_template
from eks_platform.render.stacks.kms import kms_template
from eks_platform.render.stacks.vpc import vpc_template
from eks_platform.spec.model import Platform

# Deploy order; a platform renders a subset (vpc, kms, karpenter-infra and efs only when the spec asks).
STACK_ORDER: tuple[str, ...] = ("vpc", "kms", "iam", "access", "irsa", "karpenter-infra", "efs")


def stack_name(platform: Platform, short: str) -> str:
    return f"{platform.cluster.name}-{short}"


def build_stacks(platform: Platform, plan: PlacementPlan) -> dict[str, Template]:
    """The platform's stacks as troposphere Templates, in STACK_ORDER."""
    stacks: dict[str, Template] = {}
    if platform.cluster.vpc.create:
        stacks["vpc"] = vpc_template(platform)
    if platform.cluster.secrets_encryption:
        stacks["kms"] = kms_template(platform)
    stacks["iam"] = iam_template(platform)
    stacks["access"] = access_template(platform, plan)
    stacks["irsa"] = irsa_template(platform)
    if platform.karpenter.interruption_queue:
        stacks["karpenter-infra"] = karpenter_infra_template(platform)
    if platform.addons.efs_csi.enabled:
        stacks["efs"] = efs_template(platform)
    return stacks


def render_stacks(platform: Platform, plan: PlacementPlan) -> dict[str, Obj]:
    """Stack short name -> CloudFormation template (a plain dict), in deploy order."""
    return {short: template.to_dict() for short, template in build_stacks(platform, plan).items()}


__all__ = ["STACK_ORDER", "build_stacks", "render_stacks", "stack_name"]
