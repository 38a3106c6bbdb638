"""What every stack builder shares: the template skeleton, the platform's tags, ARNs built from the
stack's own account/region/partition, and the names the AWS inputs (aws_inputs.py) give to roles."""

from __future__ import annotations

from collections.abc import Mapping

from troposphere import Parameter, Sub, Tags, Template

from eks_platform.render.aws_inputs import render_fargate_profiles, render_iam
from eks_platform.spec import defaults as d
from eks_platform.spec.model import Platform

CLUSTER_TAG = "eks-platform.io/cluster"  # `eksp down` finds what is left by this tag
# Template metadata: which parameters the engine fills at apply time, and from what ("<stack>.<Output>", or
# "cluster.<Attribute>" for the EKS cluster, which no stack creates). Parameters with a default are not listed.
METADATA_KEY = "EksPlatform"


def new_template(description: str) -> Template:
    template = Template()
    template.set_version("2010-09-09")
    template.set_description(description)
    return template


def tag_map(platform: Platform, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The spec's cluster.tags, then `extra`, then the cluster tag (which nothing overrides)."""
    return {**platform.cluster.tags, **(extra or {}), CLUSTER_TAG: platform.cluster.name}


def tags(platform: Platform, extra: Mapping[str, str] | None = None) -> Tags:
    return Tags(tag_map(platform, extra))


def discovery_tag(platform: Platform) -> dict[str, str]:
    return {d.DISCOVERY_TAG_KEY: platform.cluster.name}


def arn(resource: str) -> Sub:
    """An ARN in this stack's partition, region and account: arn("iam::${AWS::AccountId}:root")."""
    return Sub(f"arn:${{AWS::Partition}}:{resource}")


def managed_policy(name: str) -> Sub:
    """An AWS managed policy: managed_policy("AmazonEKSClusterPolicy"), ("service-role/AmazonEBSCSIDriverPolicy")."""
    return arn(f"iam::aws:policy/{name}")


def fill_in_at_apply(template: Template, sources: Mapping[str, str]) -> None:
    """Record where the engine takes each default-less parameter from (see METADATA_KEY)."""
    if sources:
        template.set_metadata({METADATA_KEY: {"ParameterSources": dict(sorted(sources.items()))}})


def add_parameter(template: Template, name: str, **kwargs: object) -> Parameter:
    return template.add_parameter(Parameter(name, **kwargs))


# --- the names aws_inputs gives (one source for the stacks, the engine and the golden files) ----------


def role_names(platform: Platform) -> dict[str, str]:
    """Role purpose (aws_inputs' "for") -> role name."""
    return {role["for"]: role["name"] for role in render_iam(platform)["roles"]}


def service_accounts(platform: Platform) -> dict[str, str]:
    """IRSA role name -> "namespace/service-account"."""
    return {role["name"]: role["serviceAccount"] for role in render_iam(platform)["roles"] if "serviceAccount" in role}


def cluster_role_name(platform: Platform) -> str:
    return role_names(platform)["EKS control plane"]


def fargate_pod_execution_role_name(platform: Platform) -> str:
    name: str = render_fargate_profiles(platform)["podExecutionRole"]
    return name


def karpenter_node_role_name(platform: Platform) -> str:
    return role_names(platform)["Karpenter nodes"]


def karpenter_controller_role_name(platform: Platform) -> str:
    return role_names(platform)["Karpenter controller (IRSA)"]


def ebs_csi_role_name(platform: Platform) -> str:
    return role_names(platform)["EBS CSI controller (IRSA)"]


def efs_csi_role_name(platform: Platform) -> str:
    return role_names(platform)["EFS CSI controller (IRSA)"]


def logical_id(*parts: str) -> str:
    """A CloudFormation logical id from free text: ("ecr.api", "endpoint") -> "EcrApiEndpoint"."""
    words: list[str] = []
    for part in parts:
        word = ""
        for char in part:
            if char.isalnum():
                word += char
            else:
                words.append(word)
                word = ""
        words.append(word)
    return "".join(w[:1].upper() + w[1:] for w in words if w)
