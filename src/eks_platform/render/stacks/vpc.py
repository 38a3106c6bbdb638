"""The vpc stack (only with cluster.vpc.create, for demos): a VPC with no way to the internet. Private
subnets, one per availability zone, their route tables, and the VPC endpoints a private cluster needs."""

from __future__ import annotations

import math
from ipaddress import IPv4Network

from troposphere import GetAtt, GetAZs, Join, Output, Ref, Select, Sub, Template, ec2

from eks_platform.render.stacks.common import discovery_tag, logical_id, new_template, tags
from eks_platform.spec.model import Platform

# Interface endpoints (private DNS), by service short name: what a cluster without internet calls.
INTERFACE_ENDPOINTS = ("ec2", "ecr.api", "ecr.dkr", "sts", "sqs", "eks", "ssm", "logs", "elasticloadbalancing")
EFS_ENDPOINT = "elasticfilesystem"  # the EFS CSI controller creates access points through the EFS API
GATEWAY_ENDPOINTS = ("s3",)  # ECR serves image layers from S3
INTERNAL_ELB_TAG = {"kubernetes.io/role/internal-elb": "1"}


def subnet_cidrs(cidr: IPv4Network, count: int) -> list[IPv4Network]:
    """`count` equal subnets of the VPC range: 10.20.0.0/22 in 3 -> three /24 (the fourth /24 stays free)."""
    return list(cidr.subnets(prefixlen_diff=math.ceil(math.log2(count))))[:count]


def interface_endpoints(platform: Platform) -> tuple[str, ...]:
    return INTERFACE_ENDPOINTS + ((EFS_ENDPOINT,) if platform.addons.efs_csi.enabled else ())


def vpc_template(platform: Platform) -> Template:
    cluster = platform.cluster.name
    spec = platform.cluster.vpc
    template = new_template(
        f"eks-platform {cluster}: a private VPC for a demo (no internet gateway): {spec.availability_zones} "
        "private subnets, their route tables, and the VPC endpoints of a private cluster."
    )
    vpc = template.add_resource(
        ec2.VPC(
            "Vpc",
            CidrBlock=str(spec.cidr),
            EnableDnsSupport=True,  # both needed by private DNS on interface endpoints and the private API endpoint
            EnableDnsHostnames=True,
            Tags=tags(platform, {"Name": cluster}),
        )
    )
    subnets: list[ec2.Subnet] = []
    route_tables: list[ec2.RouteTable] = []
    for index, cidr in enumerate(subnet_cidrs(spec.cidr, spec.availability_zones)):
        subnet = template.add_resource(
            ec2.Subnet(
                f"PrivateSubnet{index}",
                VpcId=Ref(vpc),
                CidrBlock=str(cidr),
                AvailabilityZone=Select(index, GetAZs(Ref("AWS::Region"))),
                MapPublicIpOnLaunch=False,
                Tags=tags(
                    platform, {"Name": f"{cluster}-private-{index}", **INTERNAL_ELB_TAG, **discovery_tag(platform)}
                ),
            )
        )
        route_table = template.add_resource(
            ec2.RouteTable(
                f"PrivateRouteTable{index}", VpcId=Ref(vpc), Tags=tags(platform, {"Name": f"{cluster}-private-{index}"})
            )
        )
        template.add_resource(
            ec2.SubnetRouteTableAssociation(
                f"PrivateSubnet{index}RouteTable", SubnetId=Ref(subnet), RouteTableId=Ref(route_table)
            )
        )
        subnets.append(subnet)
        route_tables.append(route_table)
    endpoint_sg = template.add_resource(
        ec2.SecurityGroup(
            "EndpointSecurityGroup",
            GroupDescription=f"VPC endpoints of {cluster}: HTTPS from the VPC",
            VpcId=Ref(vpc),
            SecurityGroupIngress=[
                ec2.SecurityGroupRule(
                    Description="the VPC to the AWS APIs (HTTPS)",
                    IpProtocol="tcp",
                    FromPort=443,
                    ToPort=443,
                    CidrIp=GetAtt(vpc, "CidrBlock"),
                )
            ],
            Tags=tags(platform, {"Name": f"{cluster}-vpc-endpoints"}),
        )
    )
    for service in interface_endpoints(platform):
        template.add_resource(
            ec2.VPCEndpoint(
                logical_id(service, "Endpoint"),
                VpcId=Ref(vpc),
                ServiceName=Sub(f"com.amazonaws.${{AWS::Region}}.{service}"),
                VpcEndpointType="Interface",
                PrivateDnsEnabled=True,
                SubnetIds=[Ref(s) for s in subnets],
                SecurityGroupIds=[Ref(endpoint_sg)],
                Tags=tags(platform, {"Name": f"{cluster}-{service}"}),
            )
        )
    for service in GATEWAY_ENDPOINTS:
        template.add_resource(
            ec2.VPCEndpoint(
                logical_id(service, "Endpoint"),
                VpcId=Ref(vpc),
                ServiceName=Sub(f"com.amazonaws.${{AWS::Region}}.{service}"),
                VpcEndpointType="Gateway",
                RouteTableIds=[Ref(r) for r in route_tables],
                Tags=tags(platform, {"Name": f"{cluster}-{service}"}),
            )
        )
    template.add_output(Output("VpcId", Description="The VPC.", Value=Ref(vpc)))
    template.add_output(
        Output(
            "PrivateSubnetIds",
            Description="The private subnets, comma-separated, one per availability zone.",
            Value=Join(",", [Ref(s) for s in subnets]),
        )
    )
    template.add_output(Output("VpcCidr", Description="The VPC's range.", Value=GetAtt(vpc, "CidrBlock")))
    return template
