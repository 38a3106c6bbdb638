"""The efs stack (only with the EFS CSI add-on): an encrypted file system with a mount target in each
private subnet, reachable on NFS (2049) from the node security group only."""

from __future__ import annotations

from troposphere import GetAtt, Output, Ref, Select, Template, ec2, efs

from eks_platform.render.stacks.common import add_parameter, fill_in_at_apply, new_template, tags
from eks_platform.spec.model import Platform

NFS_PORT = 2049


def private_subnet_count(platform: Platform) -> int:
    vpc = platform.cluster.vpc
    return vpc.availability_zones if vpc.create else len(vpc.private_subnet_ids)


def efs_template(platform: Platform) -> Template:
    cluster = platform.cluster.name
    vpc = platform.cluster.vpc
    count = private_subnet_count(platform)
    template = new_template(
        f"eks-platform {cluster}: the EFS file system of the EFS CSI driver, with a mount target in each of "
        f"the {count} private subnets, NFS from the nodes only."
    )
    vpc_id = add_parameter(
        template,
        "VpcId",
        Type="AWS::EC2::VPC::Id",
        Description="The cluster's VPC (the vpc stack's VpcId when eks-platform creates it).",
        **({"Default": vpc.id} if vpc.id else {}),
    )
    subnets = add_parameter(
        template,
        "PrivateSubnetIds",
        Type="List<AWS::EC2::Subnet::Id>",
        Description=f"The {count} private subnets, one per availability zone, in this order.",
        **({"Default": ",".join(vpc.private_subnet_ids)} if vpc.private_subnet_ids else {}),
    )
    node_sg = add_parameter(
        template,
        "NodeSecurityGroupId",
        Type="AWS::EC2::SecurityGroup::Id",
        Description="The node security group (the access stack's NodeSecurityGroupId).",
    )
    fill_in_at_apply(
        template,
        {
            "NodeSecurityGroupId": "access.NodeSecurityGroupId",
            **({} if vpc.id else {"VpcId": "vpc.VpcId"}),
            **({} if vpc.private_subnet_ids else {"PrivateSubnetIds": "vpc.PrivateSubnetIds"}),
        },
    )
    security_group = template.add_resource(
        ec2.SecurityGroup(
            "MountTargetSecurityGroup",
            GroupDescription=f"EFS mount targets of EKS cluster {cluster}: NFS from the nodes",
            VpcId=Ref(vpc_id),
            SecurityGroupIngress=[
                ec2.SecurityGroupRule(
                    Description="nodes to EFS (NFS)",
                    IpProtocol="tcp",
                    FromPort=NFS_PORT,
                    ToPort=NFS_PORT,
                    SourceSecurityGroupId=Ref(node_sg),
                )
            ],
            Tags=tags(platform, {"Name": f"{cluster}-efs"}),
        )
    )
    file_system = template.add_resource(
        efs.FileSystem(
            "FileSystem",
            # `eksp down` removes the data with the stack; a replacement keeps the old file system (and its data).
            DeletionPolicy="Delete",
            UpdateReplacePolicy="Retain",
            Encrypted=True,
            PerformanceMode="generalPurpose",
            ThroughputMode="elastic",
            FileSystemTags=tags(platform, {"Name": f"{cluster}-efs"}),
        )
    )
    for index in range(count):
        template.add_resource(
            efs.MountTarget(
                f"MountTarget{index}",
                FileSystemId=Ref(file_system),
                SubnetId=Select(index, Ref(subnets)),
                SecurityGroups=[Ref(security_group)],
            )
        )
    template.add_output(
        Output("FileSystemId", Description="The EFS CSI StorageClass fileSystemId.", Value=Ref(file_system))
    )
    template.add_output(Output("FileSystemArn", Description="The file system's ARN.", Value=GetAtt(file_system, "Arn")))
    template.add_output(
        Output(
            "MountTargetSecurityGroupId", Description="The mount targets' security group.", Value=Ref(security_group)
        )
    )
    return template
