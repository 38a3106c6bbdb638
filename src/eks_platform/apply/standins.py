"""Stand-ins for what the local emulator cannot know: the spec's existing VPC and subnets live in the
user's account, not in moto, and moto's EKS creates no cluster security group (EKS does). The local
target creates one emulated VPC, subnets and security group in their place, tagged with the id they
stand for, finds them again on the next run, and says so in the plan: nothing is passed off as real.
"""

from __future__ import annotations

from collections.abc import Mapping
from ipaddress import IPv4Network
from typing import Any

import boto3

from eks_platform.apply.local import LocalEndpoint
from eks_platform.spec.model import Platform

STAND_IN_TAG = "eks-platform.io/stand-in-for"
CLUSTER_SECURITY_GROUP = "eks:clusterSecurityGroupId"


def _find(items: list[dict[str, Any]], key: str) -> dict[str, str]:
    found = {}
    for item in items:
        for tag in item.get("Tags") or []:
            if tag["Key"] == STAND_IN_TAG:
                found[tag["Value"]] = item[key]
    return found


def _tagged(kind: str, stands_for: str, cluster: str) -> list[dict[str, Any]]:
    tags = [{"Key": STAND_IN_TAG, "Value": stands_for}, {"Key": "eks-platform.io/cluster", "Value": cluster}]
    return [{"ResourceType": kind, "Tags": tags}]


def stand_ins(ec2: Any, platform: Platform) -> tuple[dict[str, str], list[str]]:
    """(spec id -> emulated id, what was stood in for, in words). `ec2` is a boto3 EC2 client on the emulator."""
    cluster = platform.cluster
    vpc = cluster.vpc
    notes: list[str] = []
    id_map: dict[str, str] = {}
    if vpc.id:
        existing = _find(ec2.describe_vpcs()["Vpcs"], "VpcId")
        vpc_id = (
            existing.get(vpc.id)
            or ec2.create_vpc(CidrBlock=str(vpc.cidr), TagSpecifications=_tagged("vpc", vpc.id, cluster.name))["Vpc"][
                "VpcId"
            ]
        )
        id_map[vpc.id] = vpc_id
        subnets = _find(ec2.describe_subnets()["Subnets"], "SubnetId")
        ranges = list(IPv4Network(vpc.cidr).subnets(new_prefix=min(vpc.cidr.prefixlen + 2, 28)))
        zones = [z["ZoneName"] for z in ec2.describe_availability_zones()["AvailabilityZones"]]
        for index, subnet in enumerate(vpc.private_subnet_ids):
            id_map[subnet] = (
                subnets.get(subnet)
                or ec2.create_subnet(
                    VpcId=vpc_id,
                    CidrBlock=str(ranges[index % len(ranges)]),
                    AvailabilityZone=zones[index % len(zones)],
                    TagSpecifications=_tagged("subnet", subnet, cluster.name),
                )["Subnet"]["SubnetId"]
            )
        notes.append(
            f"the existing VPC {vpc.id} and its {len(vpc.private_subnet_ids)} subnets are emulated by "
            f"{vpc_id} and {', '.join(id_map[s] for s in vpc.private_subnet_ids)}"
        )
    groups = _find(ec2.describe_security_groups()["SecurityGroups"], "GroupId")
    target_vpc = id_map.get(vpc.id or "", "")
    if CLUSTER_SECURITY_GROUP not in groups and target_vpc:
        groups[CLUSTER_SECURITY_GROUP] = ec2.create_security_group(
            GroupName=f"eks-cluster-sg-{cluster.name}",
            Description="stand-in for the cluster security group EKS creates",
            VpcId=target_vpc,
            TagSpecifications=_tagged("security-group", CLUSTER_SECURITY_GROUP, cluster.name),
        )["GroupId"]
    if CLUSTER_SECURITY_GROUP in groups:
        id_map[CLUSTER_SECURITY_GROUP] = groups[CLUSTER_SECURITY_GROUP]
        notes.append(
            f"moto's EKS creates no cluster security group: {groups[CLUSTER_SECURITY_GROUP]} stands in for the one "
            "EKS would create"
        )
    return id_map, notes


def stand_ins_on(endpoint: LocalEndpoint, platform: Platform) -> tuple[dict[str, str], list[str]]:
    """stand_ins() on the local emulator at `endpoint`."""
    ec2 = boto3.session.Session(
        aws_access_key_id=endpoint.credentials.access_key_id,
        aws_secret_access_key=endpoint.credentials.secret_access_key,
        region_name=endpoint.region,
    ).client("ec2", endpoint_url=endpoint.url)
    return stand_ins(ec2, platform)


def describe(id_map: Mapping[str, str]) -> str:
    return ", ".join(f"{k} -> {v}" for k, v in sorted(id_map.items()))
