"""The Karpenter controller's IAM policy: the KarpenterControllerPolicy of karpenter-provider-aws'
getting-started cloudformation.yaml (v0.31 for the v1alpha5 API, v1 for v1), made narrower for this platform:

- subnets and security groups: only those carrying this cluster's karpenter.sh/discovery tag (upstream: any);
- no instance-profile lifecycle (AllowScopedInstanceProfileCreation/Tag/Actions): the EC2NodeClass names the
  instance profile the iam stack creates, so Karpenter never creates, tags or deletes one;
- the interruption queue statement only when the queue exists; PassRole only on the node role.

Every write stays scoped by the tags Karpenter puts on what it creates (kubernetes.io/cluster/<name>=owned,
karpenter.sh/nodepool or karpenter.sh/provisioner-name), as upstream."""

from __future__ import annotations

from collections.abc import Sequence

import awacs.ec2 as ec2
import awacs.eks as eks
import awacs.iam as iam
import awacs.pricing as pricing
import awacs.sqs as sqs
import awacs.ssm as ssm
from awacs.aws import (
    Action,
    Allow,
    Condition,
    ConditionElement,
    ForAllValuesStringEquals,
    PolicyDocument,
    Statement,
    StringEquals,
    StringEqualsIfExists,
    StringLike,
)
from troposphere import Ref, Sub

from eks_platform.render.karpenter import interruption_queue_name
from eks_platform.render.stacks.common import arn, discovery_tag, karpenter_node_role_name
from eks_platform.spec.model import Platform

REGIONAL_READS_V1 = (
    ec2.DescribeAvailabilityZones,
    ec2.DescribeCapacityReservations,
    ec2.DescribeImages,
    ec2.DescribeInstances,
    ec2.DescribeInstanceStatus,
    ec2.DescribeInstanceTypeOfferings,
    ec2.DescribeInstanceTypes,
    ec2.DescribeLaunchTemplates,
    ec2.DescribePlacementGroups,
    ec2.DescribeSecurityGroups,
    ec2.DescribeSpotPriceHistory,
    ec2.DescribeSubnets,
)
REGIONAL_READS_V1ALPHA5 = (
    ec2.DescribeAvailabilityZones,
    ec2.DescribeImages,
    ec2.DescribeInstances,
    ec2.DescribeInstanceTypeOfferings,
    ec2.DescribeInstanceTypes,
    ec2.DescribeLaunchTemplates,
    ec2.DescribeSecurityGroups,
    ec2.DescribeSpotPriceHistory,
    ec2.DescribeSubnets,
)


def _ec2(resource: str) -> Sub:
    return arn(f"ec2:${{AWS::Region}}:*:{resource}")


def _statement(
    sid: str, actions: Sequence[Action], resources: Sequence[object], *conditions: ConditionElement
) -> Statement:
    statement = Statement(Sid=sid, Effect=Allow, Action=list(actions), Resource=list(resources))
    if conditions:
        statement.Condition = Condition(list(conditions))
    return statement


def karpenter_controller_policy(platform: Platform) -> PolicyDocument:
    cluster = platform.cluster.name
    v1 = platform.karpenter.api == "v1"
    pool_tag = "karpenter.sh/nodepool" if v1 else "karpenter.sh/provisioner-name"
    owned = f"kubernetes.io/cluster/{cluster}"
    created = [
        _ec2("fleet/*"),
        _ec2("instance/*"),
        _ec2("volume/*"),
        _ec2("network-interface/*"),
        _ec2("launch-template/*"),
        *([_ec2("spot-instances-request/*")] if v1 else []),
    ]
    # What Karpenter asks to be tagged with when it creates something: this cluster, a pool.
    request_tags = {
        f"aws:RequestTag/{owned}": "owned",
        **({"aws:RequestTag/eks:eks-cluster-name": cluster} if v1 else {}),
    }
    launch = [ec2.RunInstances, ec2.CreateFleet]
    statements = [
        _statement(
            "AllowScopedEC2InstanceAccessActions",
            launch,
            [
                arn("ec2:${AWS::Region}::image/*"),
                arn("ec2:${AWS::Region}::snapshot/*"),
                *([] if v1 else [_ec2("spot-instances-request/*"), _ec2("launch-template/*")]),
            ],
        ),
        _statement(
            "AllowDiscoveredSubnetsAndSecurityGroups",
            launch,
            [_ec2("security-group/*"), _ec2("subnet/*")],
            StringEquals({f"aws:ResourceTag/{key}": value for key, value in discovery_tag(platform).items()}),
        ),
    ]
    if v1:
        statements.append(
            _statement(
                "AllowScopedEC2LaunchTemplateAccessActions",
                launch,
                [_ec2("launch-template/*")],
                StringEquals(f"aws:ResourceTag/{owned}", "owned"),
                StringLike(f"aws:ResourceTag/{pool_tag}", "*"),
            )
        )
    statements += [
        _statement(
            "AllowScopedEC2InstanceActionsWithTags",
            [*launch, ec2.CreateLaunchTemplate],
            created,
            StringEquals(request_tags),
            StringLike(f"aws:RequestTag/{pool_tag}", "*"),
        ),
        _statement(
            "AllowScopedResourceCreationTagging",
            [ec2.CreateTags],
            created,
            StringEquals({**request_tags, "ec2:CreateAction": ["RunInstances", "CreateFleet", "CreateLaunchTemplate"]}),
            StringLike(f"aws:RequestTag/{pool_tag}", "*"),
        ),
        _scoped_resource_tagging(cluster, owned=owned, pool_tag=pool_tag, v1=v1),
        _statement(
            "AllowScopedDeletion",
            [ec2.TerminateInstances, ec2.DeleteLaunchTemplate],
            [_ec2("instance/*"), _ec2("launch-template/*")],
            StringEquals(f"aws:ResourceTag/{owned}", "owned"),
            StringLike(f"aws:ResourceTag/{pool_tag}", "*"),
        ),
        _statement(
            "AllowRegionalReadActions",
            list(REGIONAL_READS_V1 if v1 else REGIONAL_READS_V1ALPHA5),
            ["*"],
            StringEquals("aws:RequestedRegion", Ref("AWS::Region")),
        ),
        _statement("AllowSSMReadActions", [ssm.GetParameter], [arn("ssm:${AWS::Region}::parameter/aws/service/*")]),
        _statement("AllowPricingReadActions", [pricing.GetProducts], ["*"]),
    ]
    if platform.karpenter.interruption_queue:
        statements.append(
            _statement(
                "AllowInterruptionQueueActions",
                [sqs.DeleteMessage, sqs.GetQueueUrl, sqs.ReceiveMessage, *([] if v1 else [sqs.GetQueueAttributes])],
                [arn(f"sqs:${{AWS::Region}}:${{AWS::AccountId}}:{interruption_queue_name(platform)}")],
            )
        )
    statements.append(
        _statement(
            "AllowPassingInstanceRole",
            [iam.PassRole],
            [arn(f"iam::${{AWS::AccountId}}:role/{karpenter_node_role_name(platform)}")],
            StringEquals("iam:PassedToService", "ec2.amazonaws.com"),
        )
    )
    if v1:
        profiles = arn("iam::${AWS::AccountId}:instance-profile/*")
        statements += [
            _statement("AllowInstanceProfileReadActions", [iam.GetInstanceProfile], [profiles]),
            # The instance-profile garbage collector lists them all, even when the NodeClass names its own.
            _statement("AllowUnscopedInstanceProfileListAction", [iam.ListInstanceProfiles], [profiles]),
        ]
    statements.append(
        _statement(
            "AllowAPIServerEndpointDiscovery",
            [eks.DescribeCluster],
            [arn(f"eks:${{AWS::Region}}:${{AWS::AccountId}}:cluster/{cluster}")],
        )
    )
    return PolicyDocument(Version="2012-10-17", Statement=statements)


def _scoped_resource_tagging(cluster: str, *, owned: str, pool_tag: str, v1: bool) -> Statement:
    """Tags Karpenter adds to its running instances: the NodeClaim and Name (v1), managed-by (v0.31)."""
    if v1:
        return _statement(
            "AllowScopedResourceTagging",
            [ec2.CreateTags],
            [_ec2("instance/*")],
            StringEquals(f"aws:ResourceTag/{owned}", "owned"),
            StringLike(f"aws:ResourceTag/{pool_tag}", "*"),
            StringEqualsIfExists("aws:RequestTag/eks:eks-cluster-name", cluster),
            ForAllValuesStringEquals("aws:TagKeys", ["eks:eks-cluster-name", "karpenter.sh/nodeclaim", "Name"]),
        )
    return _statement(
        "AllowScopedResourceTagging",  # upstream v0.31: AllowMachineMigrationTagging
        [ec2.CreateTags],
        [_ec2("instance/*")],
        StringEquals({f"aws:ResourceTag/{owned}": "owned", "aws:RequestTag/karpenter.sh/managed-by": cluster}),
        StringLike(f"aws:RequestTag/{pool_tag}", "*"),
        ForAllValuesStringEquals("aws:TagKeys", [pool_tag, "karpenter.sh/managed-by"]),
    )
