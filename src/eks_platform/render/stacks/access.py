"""The access stack: who reaches the private API endpoint, and the node security group with the rules of
the spine's port plan (render_node_security_group_rules: one rule per host port something connects to)."""

from __future__ import annotations

import re
from ipaddress import IPv4Network

from troposphere import Output, Ref, Template, ec2

from eks_platform.render.aws_inputs import render_node_security_group_rules
from eks_platform.render.bundle import Obj
from eks_platform.render.placement import PlacementPlan
from eks_platform.render.stacks.common import (
    add_parameter,
    discovery_tag,
    fill_in_at_apply,
    logical_id,
    new_template,
    tags,
)
from eks_platform.spec.model import Platform

API_PORT = 443
# What EC2 accepts in a security-group rule description.
_NOT_ALLOWED_IN_DESCRIPTION = re.compile(r"[^a-zA-Z0-9. _\-:/()#,@\[\]+=&;{}!$*]")
_SOURCE_IDS = {"clusterSecurityGroup": "Cluster", "nodeSecurityGroup": "Nodes", "vpcCidr": "Vpc"}


def rule_description(text: str) -> str:
    """`API server -> kubelet (kubelet)` -> `API server to kubelet (kubelet)`: EC2 refuses `>` and more."""
    return _NOT_ALLOWED_IN_DESCRIPTION.sub("", text.replace("->", "to"))[:255]


def access_template(platform: Platform, plan: PlacementPlan) -> Template:
    cluster = platform.cluster
    rules = render_node_security_group_rules(platform, plan)
    template = new_template(
        f"eks-platform {cluster.name}: access to the private API endpoint (443 on the EKS cluster security "
        "group from the VPN and peered VPCs) and the node security group of the Karpenter nodes."
    )
    vpc_id = add_parameter(
        template,
        "VpcId",
        Type="AWS::EC2::VPC::Id",
        Description="The cluster's VPC (the vpc stack's VpcId when eks-platform creates it).",
        **({"Default": cluster.vpc.id} if cluster.vpc.id else {}),
    )
    cluster_sg = add_parameter(
        template,
        "ClusterSecurityGroupId",
        Type="AWS::EC2::SecurityGroup::Id",
        Description="The security group EKS created for the cluster (DescribeCluster: "
        "resourcesVpcConfig.clusterSecurityGroupId).",
    )
    fill_in_at_apply(
        template,
        {
            "ClusterSecurityGroupId": "cluster.ClusterSecurityGroupId",
            **({} if cluster.vpc.id else {"VpcId": "vpc.VpcId"}),
        },
    )
    node_sg = template.add_resource(
        ec2.SecurityGroup(
            "NodeSecurityGroup",
            GroupDescription=f"Karpenter nodes of EKS cluster {cluster.name}: only the ports the port plan opens",
            VpcId=Ref(vpc_id),
            Tags=tags(platform, {"Name": f"{cluster.name}-node", **discovery_tag(platform)}),
        )
    )
    sources = {
        "clusterSecurityGroup": {"SourceSecurityGroupId": Ref(cluster_sg)},
        "nodeSecurityGroup": {"SourceSecurityGroupId": Ref(node_sg)},
        "vpcCidr": {"CidrIp": rules["vpcCidr"]},
    }
    for rule in rules["ingress"]:
        template.add_resource(
            ec2.SecurityGroupIngress(
                _rule_id("NodeIngress", rule),
                GroupId=Ref(node_sg),
                Description=rule_description(rule["description"]),
                **_ports(rule),
                **sources[rule["source"]],
            )
        )
    for rule in rules["clusterSecurityGroupIngress"]:
        template.add_resource(
            ec2.SecurityGroupIngress(
                _rule_id("ClusterIngress", rule),
                GroupId=Ref(cluster_sg),
                Description=rule_description(rule["description"]),
                **_ports(rule),
                **sources[rule["source"]],
            )
        )
    for cidr, who in _api_clients(platform).items():
        template.add_resource(
            ec2.SecurityGroupIngress(
                "ClusterApiFrom" + cidr.replace(".", "x").replace("/", "x"),  # 10.8.0.0/16: ClusterApiFrom10x8x0x0x16
                GroupId=Ref(cluster_sg),
                Description=rule_description(f"{who} to the Kubernetes API (private endpoint)"),
                IpProtocol="tcp",
                FromPort=API_PORT,
                ToPort=API_PORT,
                CidrIp=cidr,
            )
        )
    template.add_output(
        Output(
            "NodeSecurityGroupId",
            Description="The node security group (Karpenter selects it by its karpenter.sh/discovery tag).",
            Value=Ref(node_sg),
        )
    )
    return template


def _api_clients(platform: Platform) -> dict[str, str]:
    """CIDR -> who: the VPN ranges, then the peered VPCs (each CIDR once)."""
    access = platform.cluster.endpoint_access
    clients: dict[IPv4Network, str] = {}
    for cidr in access.vpn_cidrs:
        clients.setdefault(cidr, f"VPN {cidr}")
    for peer in access.peered_vpcs:
        clients.setdefault(peer.cidr, f"peered VPC {peer.name} {peer.cidr}")
    return {str(cidr): who for cidr, who in clients.items()}


def _ports(rule: Obj) -> Obj:
    if rule["protocol"] == "-1":
        return {"IpProtocol": "-1"}  # every protocol and port: EC2 takes no port range with it
    return {"IpProtocol": rule["protocol"], "FromPort": rule["fromPort"], "ToPort": rule["toPort"]}


def _rule_id(prefix: str, rule: Obj) -> str:
    if rule["protocol"] == "-1":
        what = "All"
    elif rule["fromPort"] == rule["toPort"]:
        what = f"{rule['protocol']}{rule['fromPort']}"
    else:
        what = f"{rule['protocol']}{rule['fromPort']}to{rule['toPort']}"
    return logical_id(prefix, what, "From", _SOURCE_IDS[rule["source"]])
