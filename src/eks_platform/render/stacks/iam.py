"""The iam stack: what exists before the cluster. The cluster role, the Fargate pod execution role, and the
Karpenter node role with its instance profile. The IRSA roles need the cluster's OIDC issuer: irsa.py."""

from __future__ import annotations

from awacs.aws import Allow, ArnLike, Condition, PolicyDocument, Principal, Statement
from awacs.sts import AssumeRole
from troposphere import GetAtt, Output, Ref, Template, iam

from eks_platform.render.karpenter import instance_profile_name
from eks_platform.render.stacks.common import (
    arn,
    cluster_role_name,
    fargate_pod_execution_role_name,
    karpenter_node_role_name,
    managed_policy,
    new_template,
    tags,
)
from eks_platform.spec.model import Platform

# The node role: join the cluster, pull images (the registry mirror is ECR), SSM for the admin container.
# No AmazonEKS_CNI_Policy: Calico replaces the VPC CNI, nothing on the nodes manages ENIs.
NODE_POLICIES = ("AmazonEKSWorkerNodePolicy", "AmazonEC2ContainerRegistryPullOnly", "AmazonSSMManagedInstanceCore")


def trust(service: str, condition: Condition | None = None) -> PolicyDocument:
    statement = Statement(Effect=Allow, Principal=Principal("Service", service), Action=[AssumeRole])
    if condition is not None:
        statement.Condition = condition
    return PolicyDocument(Version="2012-10-17", Statement=[statement])


def iam_template(platform: Platform) -> Template:
    cluster = platform.cluster.name
    template = new_template(
        f"eks-platform {cluster}: the EKS cluster role, the Fargate pod execution role and the Karpenter "
        "node role with its instance profile."
    )
    cluster_role = template.add_resource(
        iam.Role(
            "ClusterRole",
            RoleName=cluster_role_name(platform),
            Description=f"EKS control plane of {cluster}",
            AssumeRolePolicyDocument=trust("eks.amazonaws.com"),
            ManagedPolicyArns=[managed_policy("AmazonEKSClusterPolicy")],
            Tags=tags(platform),
        )
    )
    fargate_role = template.add_resource(
        iam.Role(
            "FargatePodExecutionRole",
            RoleName=fargate_pod_execution_role_name(platform),
            Description=f"Fargate pods of {cluster}: pull images, join the cluster",
            # Only this cluster's Fargate profiles may use it (confused-deputy guard).
            AssumeRolePolicyDocument=trust(
                "eks-fargate-pods.amazonaws.com",
                Condition(
                    ArnLike(
                        "aws:SourceArn",
                        arn(f"eks:${{AWS::Region}}:${{AWS::AccountId}}:fargateprofile/{cluster}/*"),
                    )
                ),
            ),
            ManagedPolicyArns=[managed_policy("AmazonEKSFargatePodExecutionRolePolicy")],
            Tags=tags(platform),
        )
    )
    node_role = template.add_resource(
        iam.Role(
            "KarpenterNodeRole",
            RoleName=karpenter_node_role_name(platform),
            Description=f"EC2 nodes Karpenter launches for {cluster}",
            AssumeRolePolicyDocument=trust("ec2.amazonaws.com"),
            ManagedPolicyArns=[managed_policy(name) for name in NODE_POLICIES],
            Tags=tags(platform),
        )
    )
    profile = template.add_resource(
        iam.InstanceProfile(
            "KarpenterNodeInstanceProfile",
            InstanceProfileName=instance_profile_name(platform),
            Roles=[Ref(node_role)],
        )
    )
    for name, value, description in (
        ("ClusterRoleArn", GetAtt(cluster_role, "Arn"), "CreateCluster roleArn"),
        ("FargatePodExecutionRoleArn", GetAtt(fargate_role, "Arn"), "CreateFargateProfile podExecutionRoleArn"),
        ("KarpenterNodeRoleArn", GetAtt(node_role, "Arn"), "the EC2_LINUX access entry of the Karpenter nodes"),
        ("KarpenterNodeRoleName", Ref(node_role), "the Karpenter node role"),
        ("KarpenterNodeInstanceProfileName", Ref(profile), "EC2NodeClass/AWSNodeTemplate instanceProfile"),
        ("KarpenterNodeInstanceProfileArn", GetAtt(profile, "Arn"), "the Karpenter node instance profile"),
    ):
        template.add_output(Output(name, Description=description, Value=value))
    return template
