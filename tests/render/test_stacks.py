"""The CloudFormation stacks: every template of the reference (both Karpenter APIs) and of a created-VPC
variant passes cfn-lint, and the properties the platform depends on hold."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import pytest
from cfnlint.api import ManualArgs, lint
from cfnlint.schema import PROVIDER_SCHEMA_MANAGER
from tests.reference_edits import catalog, edited

from eks_platform.checks.rules.ep105_private_vpc_endpoints import INTERRUPTION, NEEDED
from eks_platform.render import render
from eks_platform.render.aws_inputs import render_node_security_group_rules
from eks_platform.render.files import bundle_files
from eks_platform.render.karpenter import instance_profile_name, interruption_queue_name
from eks_platform.render.placement import plan_placement
from eks_platform.render.stacks import STACK_ORDER, render_stacks, stack_name
from eks_platform.render.stacks.common import CLUSTER_TAG, METADATA_KEY
from eks_platform.spec import defaults as d
from eks_platform.spec.loading import load_text, reference_text
from eks_platform.spec.model import Platform

Obj = dict[str, Any]

CREATE_VPC = (
    ("    id: vpc-0a1b2c3d4e5f60718\n", "    create: true\n"),
    (
        "    privateSubnetIds:\n"
        "      - subnet-0a1b2c3d4e5f60711\n"
        "      - subnet-0a1b2c3d4e5f60722\n"
        "      - subnet-0a1b2c3d4e5f60733\n",
        "",
    ),
)
NO_QUEUE = (("  api: v1\n", "  api: v1\n  interruptionQueue: false\n"),)
NO_EFS = (("  efsCsi: {runsOn: fargate}", "  efsCsi: {enabled: false}"),)
NO_SECRETS_ENCRYPTION = (("  secretsEncryption: true\n", "  secretsEncryption: false\n"),)
EXTRA_WEBHOOK_PORT = (("  secretsEncryption: true\n", "  secretsEncryption: true\n  apiServerNodePorts: [9443]\n"),)

# name -> (spec text, karpenter api)
VARIANTS: dict[str, tuple[str, str | None]] = {
    "reference-v1": (reference_text(), None),
    "reference-v1alpha5": (reference_text(), "v1alpha5"),
    "create-vpc": (edited(*CREATE_VPC), None),
}
EXPECTED_STACKS = {
    "reference-v1": ["kms", "iam", "access", "irsa", "karpenter-infra", "efs"],
    "reference-v1alpha5": ["kms", "iam", "access", "irsa", "karpenter-infra", "efs"],
    "create-vpc": ["vpc", "kms", "iam", "access", "irsa", "karpenter-infra", "efs"],
}


@cache
def platform_of(text: str, api: str | None = None) -> Platform:
    return load_text(text, file="platform.yaml", catalog=catalog(), karpenter_api=api).platform


@cache
def _stacks(text: str, api: str | None = None) -> str:
    platform = platform_of(text, api)
    return json.dumps(render_stacks(platform, plan_placement(platform, strict=False)))


def stacks_of(text: str, api: str | None = None) -> dict[str, Obj]:
    """A fresh copy each time: tests may not change what others read."""
    stacks: dict[str, Obj] = json.loads(_stacks(text, api))
    return stacks


def variant(name: str) -> dict[str, Obj]:
    return stacks_of(*VARIANTS[name])


def resources(template: Obj, resource_type: str) -> dict[str, Obj]:
    return {name: r for name, r in template["Resources"].items() if r["Type"] == resource_type}


def tag_dict(tags: list[Obj]) -> dict[str, str]:
    return {tag["Key"]: tag["Value"] for tag in tags}


def web_identity_subjects(role: Obj) -> dict[str, str]:
    """The trust policy of an IRSA role (a Fn::Sub JSON string): its StringEquals condition."""
    text, variables = role["Properties"]["AssumeRolePolicyDocument"]["Fn::Sub"]
    assert set(variables) == {"Issuer", "ProviderArn"}
    (statement,) = json.loads(text)["Statement"]
    assert statement["Principal"] == {"Federated": "${ProviderArn}"}
    assert statement["Action"] == ["sts:AssumeRoleWithWebIdentity"]
    conditions: dict[str, str] = statement["Condition"]["StringEquals"]
    return conditions


def policy_statements(irsa: Obj) -> dict[str, Obj]:
    (policy,) = irsa["Resources"]["KarpenterControllerRole"]["Properties"]["Policies"]
    return {s["Sid"]: s for s in policy["PolicyDocument"]["Statement"]}


# --- which stacks, in which order -------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_each_variant_renders_its_stacks_in_deploy_order(name: str) -> None:
    stacks = variant(name)
    assert list(stacks) == EXPECTED_STACKS[name]
    assert [s for s in STACK_ORDER if s in stacks] == list(stacks)


def test_stack_names_carry_the_cluster_name() -> None:
    platform = platform_of(reference_text())
    assert [stack_name(platform, s) for s in STACK_ORDER] == [
        "irtp-vpc",
        "irtp-kms",
        "irtp-iam",
        "irtp-access",
        "irtp-irsa",
        "irtp-karpenter-infra",
        "irtp-efs",
    ]


def test_the_bundle_writes_each_stack_as_a_json_file() -> None:
    platform = platform_of(reference_text())
    files = bundle_files(render(platform, catalog=catalog()))
    written = sorted(p for p in files if p.startswith("aws/stacks/"))
    assert written == sorted(f"aws/stacks/{s}.json" for s in EXPECTED_STACKS["reference-v1"])
    assert json.loads(files["aws/stacks/iam.json"]) == variant("reference-v1")["iam"]


# --- cfn-lint -----------------------------------------------------------------------------------------

# Errors and warnings both fail: cfn-lint's warnings (W) are about what breaks or misbehaves on deploy
# (hard-coded AZs, parameters never used, values a parameter's pattern refuses), none of them is noise for
# these templates, and they have none. Informational checks (I, off by default) are not run.
LINTED = [(name, stack) for name in sorted(VARIANTS) for stack in EXPECTED_STACKS[name]]


@pytest.mark.parametrize(("name", "stack"), LINTED)
def test_every_stack_passes_cfn_lint(name: str, stack: str) -> None:
    text, api = VARIANTS[name]
    region = platform_of(text, api).cluster.region
    template = json.dumps(variant(name)[stack])
    matches = lint(template, config=ManualArgs(regions=[region]))
    assert [f"{m.rule.id} {m.message} at {'/'.join(map(str, m.path))}" for m in matches] == []


def test_cfn_lint_is_really_looking() -> None:
    """The lint test above can fail: a broken template gives findings."""
    iam = variant("reference-v1")["iam"]
    iam["Resources"]["ClusterRole"]["Properties"]["ManagedPolicyArn"] = []
    iam["Outputs"]["ClusterRoleArn"]["Value"] = {"Fn::GetAtt": ["ClusterRole", "Name"]}
    rules = {m.rule.id for m in lint(json.dumps(iam), config=ManualArgs(regions=["us-east-1"]))}
    assert {"E3002", "E6101"} <= rules


def test_every_template_has_a_description() -> None:
    for name in VARIANTS:
        for stack, template in variant(name).items():
            assert template["Description"].startswith("eks-platform irtp: "), (name, stack)


# --- tags ---------------------------------------------------------------------------------------------

# Resource types CloudFormation cannot tag (their schema says so); everything else must carry the tags.
UNTAGGABLE = {
    "AWS::EC2::SecurityGroupIngress",
    "AWS::EC2::SubnetRouteTableAssociation",
    "AWS::EFS::MountTarget",
    "AWS::IAM::InstanceProfile",
    "AWS::KMS::Alias",
    "AWS::SQS::QueuePolicy",
}


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_every_taggable_resource_carries_the_cluster_tag_and_the_spec_tags(name: str) -> None:
    expected = {CLUSTER_TAG: "irtp", "team": "platform", "cost-center": "irtp"}
    untagged_types = set()
    for stack, template in variant(name).items():
        tagged = 0
        for logical, resource in template["Resources"].items():
            schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema("us-east-1", resource["Type"]).schema
            tagging = schema.get("tagging", {})
            if not tagging.get("taggable"):
                untagged_types.add(resource["Type"])
                continue
            prop = tagging["tagProperty"].removeprefix("/properties/")
            tags = tag_dict(resource["Properties"].get(prop, []))
            assert expected.items() <= tags.items(), f"{stack}/{logical} ({resource['Type']}): {tags}"
            tagged += 1
        assert tagged, f"{stack} has no taggable resource: this test checks nothing there"
    assert untagged_types <= UNTAGGABLE


# --- access -------------------------------------------------------------------------------------------


def _ingress(access: Obj, group: str) -> list[Obj]:
    return [
        r["Properties"]
        for r in resources(access, "AWS::EC2::SecurityGroupIngress").values()
        if r["Properties"]["GroupId"] == {"Ref": group}
    ]


def test_the_api_endpoint_443_opens_only_to_the_vpn_and_the_peered_vpcs() -> None:
    access = variant("reference-v1")["access"]
    cluster_rules = _ingress(access, "ClusterSecurityGroupId")
    by_cidr = sorted((r["CidrIp"], r["IpProtocol"], r["FromPort"], r["ToPort"]) for r in cluster_rules if "CidrIp" in r)
    assert by_cidr == [("10.50.0.0/16", "tcp", 443, 443), ("10.8.0.0/16", "tcp", 443, 443)]
    # The other rule on the cluster security group: the nodes (CoreDNS and other pods on Fargate).
    others = [r for r in cluster_rules if "CidrIp" not in r]
    assert others == [
        {
            "GroupId": {"Ref": "ClusterSecurityGroupId"},
            "Description": "nodes to Fargate pods (CoreDNS) and the API server",
            "IpProtocol": "-1",
            "SourceSecurityGroupId": {"Ref": "NodeSecurityGroup"},
        }
    ]
    assert access["Parameters"]["ClusterSecurityGroupId"]["Type"] == "AWS::EC2::SecurityGroup::Id"


def test_each_port_the_api_server_calls_opens_from_the_cluster_security_group() -> None:
    access = variant("reference-v1")["access"]
    from_cluster = sorted(
        (r["IpProtocol"], r["FromPort"], r["ToPort"])
        for r in _ingress(access, "NodeSecurityGroup")
        if r.get("SourceSecurityGroupId") == {"Ref": "ClusterSecurityGroupId"}
    )
    assert from_cluster == [("tcp", 5443, 5443), ("tcp", 8443, 8443), ("tcp", 10250, 10250)]
    # ... which is the port plan's list, rule for rule
    platform = platform_of(reference_text())
    plan = render_node_security_group_rules(platform, plan_placement(platform, strict=False))
    assert [r["fromPort"] for r in plan["ingress"] if r["source"] == "clusterSecurityGroup"] == [5443, 8443, 10250]


def test_a_spec_webhook_port_opens_on_the_node_security_group() -> None:
    access = stacks_of(edited(*EXTRA_WEBHOOK_PORT))["access"]
    rule = access["Resources"]["NodeIngressTcp9443FromCluster"]["Properties"]
    assert (rule["FromPort"], rule["ToPort"], rule["SourceSecurityGroupId"]) == (
        9443,
        9443,
        {"Ref": "ClusterSecurityGroupId"},
    )


def test_nodes_reach_each_other_on_everything_and_the_nlb_reaches_ingress_nginx() -> None:
    access = variant("reference-v1")["access"]
    rules = {
        (r["IpProtocol"], r.get("FromPort"), json.dumps(r.get("SourceSecurityGroupId") or r.get("CidrIp")))
        for r in _ingress(access, "NodeSecurityGroup")
        if r.get("SourceSecurityGroupId") != {"Ref": "ClusterSecurityGroupId"}
    }
    assert rules == {
        ("-1", None, json.dumps({"Ref": "NodeSecurityGroup"})),
        ("tcp", 80, json.dumps("10.20.0.0/22")),
        ("tcp", 443, json.dumps("10.20.0.0/22")),
    }


def test_the_node_security_group_is_what_karpenter_discovers() -> None:
    access = variant("reference-v1")["access"]
    group = access["Resources"]["NodeSecurityGroup"]["Properties"]
    assert tag_dict(group["Tags"])["karpenter.sh/discovery"] == "irtp"
    assert group["VpcId"] == {"Ref": "VpcId"}
    assert access["Outputs"]["NodeSecurityGroupId"]["Value"] == {"Ref": "NodeSecurityGroup"}


def test_rule_descriptions_use_only_what_ec2_accepts() -> None:
    allowed = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789. _-:/()#,@[]+=&;{}!$*")
    for rule in resources(variant("reference-v1")["access"], "AWS::EC2::SecurityGroupIngress").values():
        description = rule["Properties"]["Description"]
        assert set(description) <= allowed, description


# --- iam ----------------------------------------------------------------------------------------------


def test_the_node_role_has_the_node_policies_and_not_the_vpc_cni_one() -> None:
    iam = variant("reference-v1")["iam"]
    role = iam["Resources"]["KarpenterNodeRole"]["Properties"]
    policies = sorted(p["Fn::Sub"].rsplit("/", 1)[1] for p in role["ManagedPolicyArns"])
    assert policies == [
        "AmazonEC2ContainerRegistryPullOnly",
        "AmazonEKSWorkerNodePolicy",
        "AmazonSSMManagedInstanceCore",
    ]
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"Service": "ec2.amazonaws.com"}
    profile = iam["Resources"]["KarpenterNodeInstanceProfile"]["Properties"]
    assert profile["InstanceProfileName"] == instance_profile_name(platform_of(reference_text()))
    assert profile["Roles"] == [{"Ref": "KarpenterNodeRole"}]


def test_the_roles_have_the_names_the_aws_inputs_give_them() -> None:
    iam = variant("reference-v1")["iam"]
    irsa = variant("reference-v1")["irsa"]
    names = {r["Properties"]["RoleName"] for t in (iam, irsa) for r in resources(t, "AWS::IAM::Role").values()}
    assert names == {
        "irtp-cluster",
        "irtp-fargate-pod-execution",
        "irtp-karpenter-node",
        "irtp-karpenter",
        "irtp-ebs-csi",
        "irtp-efs-csi",
    }


def test_only_this_clusters_fargate_profiles_may_use_the_pod_execution_role() -> None:
    role = variant("reference-v1")["iam"]["Resources"]["FargatePodExecutionRole"]["Properties"]
    (statement,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "eks-fargate-pods.amazonaws.com"}
    assert statement["Condition"]["ArnLike"]["aws:SourceArn"]["Fn::Sub"].endswith(":fargateprofile/irtp/*")


# --- irsa ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_each_irsa_role_trusts_only_its_service_account(name: str) -> None:
    roles = variant(name)["irsa"]["Resources"]
    expected = {
        "KarpenterControllerRole": "system:serviceaccount:karpenter:karpenter",
        "EbsCsiControllerRole": "system:serviceaccount:kube-system:ebs-csi-controller-sa",
        "EfsCsiControllerRole": "system:serviceaccount:kube-system:efs-csi-controller-sa",
    }
    for logical, subject in expected.items():
        assert web_identity_subjects(roles[logical]) == {
            "${Issuer}:sub": subject,
            "${Issuer}:aud": "sts.amazonaws.com",
        }


def test_the_karpenter_trust_follows_the_karpenter_namespace() -> None:
    text = edited(("  api: v1\n", "  api: v1\n  namespace: autoscaler\n"))
    platform = platform_of(text)
    irsa = render_stacks(platform, plan_placement(platform, strict=False))["irsa"]
    assert web_identity_subjects(irsa["Resources"]["KarpenterControllerRole"])["${Issuer}:sub"] == (
        "system:serviceaccount:autoscaler:karpenter"
    )


def test_the_trust_condition_keys_are_the_issuer_without_https() -> None:
    role = variant("reference-v1")["irsa"]["Resources"]["KarpenterControllerRole"]
    variables = role["Properties"]["AssumeRolePolicyDocument"]["Fn::Sub"][1]
    assert variables["Issuer"] == {"Fn::Select": [1, {"Fn::Split": ["//", {"Ref": "OidcIssuerUrl"}]}]}
    assert variables["ProviderArn"] == {
        "Fn::If": ["CreateOidcProvider", {"Fn::GetAtt": ["OidcProvider", "Arn"]}, {"Ref": "OidcProviderArn"}]
    }


def test_the_oidc_provider_is_created_unless_one_is_given() -> None:
    irsa = variant("reference-v1")["irsa"]
    assert irsa["Conditions"] == {"CreateOidcProvider": {"Fn::Equals": [{"Ref": "OidcProviderArn"}, ""]}}
    provider = irsa["Resources"]["OidcProvider"]
    assert provider["Condition"] == "CreateOidcProvider"
    assert provider["Properties"]["Url"] == {"Ref": "OidcIssuerUrl"}
    assert provider["Properties"]["ClientIdList"] == ["sts.amazonaws.com"]
    assert irsa["Parameters"]["OidcProviderArn"]["Default"] == ""
    assert "Default" not in irsa["Parameters"]["OidcIssuerUrl"]


def test_the_irsa_outputs_the_helm_values_and_addons_need() -> None:
    irsa = variant("reference-v1")["irsa"]
    assert set(irsa["Outputs"]) == {
        "KarpenterControllerRoleArn",
        "EbsCsiControllerRoleArn",
        "EfsCsiControllerRoleArn",
        "OidcProviderArn",
    }
    assert irsa["Outputs"]["KarpenterControllerRoleArn"]["Value"] == {"Fn::GetAtt": ["KarpenterControllerRole", "Arn"]}
    managed = irsa["Resources"]["EbsCsiControllerRole"]["Properties"]["ManagedPolicyArns"]
    assert managed == [{"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy"}]
    managed = irsa["Resources"]["EfsCsiControllerRole"]["Properties"]["ManagedPolicyArns"]
    assert managed == [{"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/service-role/AmazonEFSCSIDriverPolicy"}]


def test_every_output_a_helm_release_reads_is_an_output_of_exactly_one_stack() -> None:
    """Releases name them "<source>.<Output>"; the Output name is what finds the stack (the irsa stack holds
    the IRSA role ARNs the releases call iam.*)."""
    platform = platform_of(reference_text())
    bundle = render(platform, catalog=catalog())
    wanted = {ref for release in bundle.releases for ref in release.aws_inputs.values()}
    assert wanted  # the test checks something
    for ref in wanted:
        source, output = ref.split(".")
        if source == "cluster":
            continue  # an attribute of the EKS cluster, not of a stack
        holders = [stack for stack, template in bundle.stacks.items() if output in template.get("Outputs", {})]
        assert len(holders) == 1, (ref, holders)


# --- the Karpenter controller policy ------------------------------------------------------------------

# What changes something. RunInstances/CreateFleet are not here: their statements on images, snapshots, subnets
# and security groups cannot be scoped by Karpenter's tags (the instances they create are: WithTags).
WRITES = {"ec2:CreateLaunchTemplate", "ec2:CreateTags", "ec2:TerminateInstances", "ec2:DeleteLaunchTemplate"}


@pytest.mark.parametrize(
    ("name", "pool_tag"), [("reference-v1", "nodepool"), ("reference-v1alpha5", "provisioner-name")]
)
def test_karpenter_writes_are_scoped_by_this_clusters_tags(name: str, pool_tag: str) -> None:
    statements = policy_statements(variant(name)["irsa"])
    for sid, statement in statements.items():
        assert statement["Effect"] == "Allow"
        if not WRITES & set(statement["Action"]):
            continue
        condition = json.dumps(statement["Condition"])
        assert '/kubernetes.io/cluster/irtp": "owned"' in condition, sid
        assert f'karpenter.sh/{pool_tag}": "*"' in condition, sid
    assert not any("iam:CreateInstanceProfile" in s["Action"] for s in statements.values())
    assert not any(a == "*" or a.endswith(":*") for s in statements.values() for a in s["Action"])


def test_karpenter_launches_only_into_discovered_subnets_and_security_groups() -> None:
    statement = policy_statements(variant("reference-v1")["irsa"])["AllowDiscoveredSubnetsAndSecurityGroups"]
    assert [r["Fn::Sub"].rsplit(":", 1)[1] for r in statement["Resource"]] == ["security-group/*", "subnet/*"]
    assert statement["Condition"] == {"StringEquals": {"aws:ResourceTag/karpenter.sh/discovery": "irtp"}}
    for sid, other in policy_statements(variant("reference-v1")["irsa"]).items():
        if sid != statement["Sid"]:
            assert "security-group/*" not in json.dumps(other["Resource"]), sid
            assert "subnet/*" not in json.dumps(other["Resource"]), sid


def test_karpenter_passes_only_the_node_role_and_reads_only_this_cluster() -> None:
    statements = policy_statements(variant("reference-v1")["irsa"])
    assert statements["AllowPassingInstanceRole"]["Resource"] == [
        {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/irtp-karpenter-node"}
    ]
    assert statements["AllowPassingInstanceRole"]["Condition"] == {
        "StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}
    }
    assert statements["AllowAPIServerEndpointDiscovery"]["Resource"] == [
        {"Fn::Sub": "arn:${AWS::Partition}:eks:${AWS::Region}:${AWS::AccountId}:cluster/irtp"}
    ]


# --- karpenter-infra ----------------------------------------------------------------------------------


def test_the_interruption_queue_and_its_four_rules() -> None:
    stacks = variant("reference-v1")
    infra = stacks["karpenter-infra"]
    platform = platform_of(reference_text())
    (queue,) = resources(infra, "AWS::SQS::Queue").values()
    assert queue["Properties"]["QueueName"] == interruption_queue_name(platform) == "irtp-karpenter"
    assert queue["Properties"]["MessageRetentionPeriod"] == 300
    assert queue["Properties"]["SqsManagedSseEnabled"] is True
    rules = resources(infra, "AWS::Events::Rule")
    patterns = sorted(
        (r["Properties"]["EventPattern"]["source"][0], r["Properties"]["EventPattern"]["detail-type"][0])
        for r in rules.values()
    )
    assert patterns == [
        ("aws.ec2", "EC2 Instance Rebalance Recommendation"),
        ("aws.ec2", "EC2 Instance State-change Notification"),
        ("aws.ec2", "EC2 Spot Instance Interruption Warning"),
        ("aws.health", "AWS Health Event"),
    ]
    for rule in rules.values():
        assert [t["Arn"] for t in rule["Properties"]["Targets"]] == [{"Fn::GetAtt": ["InterruptionQueue", "Arn"]}]
    (policy,) = resources(infra, "AWS::SQS::QueuePolicy").values()
    allow = policy["Properties"]["PolicyDocument"]["Statement"][0]
    assert allow["Principal"] == {"Service": ["events.amazonaws.com", "sqs.amazonaws.com"]}
    assert allow["Action"] == ["sqs:SendMessage"]
    queue_statement = policy_statements(stacks["irsa"])["AllowInterruptionQueueActions"]
    assert queue_statement["Resource"] == [
        {"Fn::Sub": "arn:${AWS::Partition}:sqs:${AWS::Region}:${AWS::AccountId}:irtp-karpenter"}
    ]


def test_without_the_interruption_queue_there_is_no_queue_stack_nor_queue_permission() -> None:
    stacks = stacks_of(edited(*NO_QUEUE))
    assert "karpenter-infra" not in stacks
    assert not any(
        r["Type"].startswith(("AWS::SQS", "AWS::Events")) for t in stacks.values() for r in t["Resources"].values()
    )
    assert "AllowInterruptionQueueActions" not in policy_statements(stacks["irsa"])


# --- efs ----------------------------------------------------------------------------------------------


def test_efs_is_encrypted_and_reachable_on_nfs_from_the_nodes_in_each_private_subnet() -> None:
    efs = variant("reference-v1")["efs"]
    (file_system,) = resources(efs, "AWS::EFS::FileSystem").values()
    assert file_system["Properties"]["Encrypted"] is True
    (group,) = resources(efs, "AWS::EC2::SecurityGroup").values()
    assert group["Properties"]["SecurityGroupIngress"] == [
        {
            "Description": "nodes to EFS (NFS)",
            "IpProtocol": "tcp",
            "FromPort": 2049,
            "ToPort": 2049,
            "SourceSecurityGroupId": {"Ref": "NodeSecurityGroupId"},
        }
    ]
    subnets = sorted(json.dumps(t["Properties"]["SubnetId"]) for t in resources(efs, "AWS::EFS::MountTarget").values())
    assert subnets == sorted(json.dumps({"Fn::Select": [i, {"Ref": "PrivateSubnetIds"}]}) for i in range(3))
    assert efs["Parameters"]["PrivateSubnetIds"]["Default"] == (
        "subnet-0a1b2c3d4e5f60711,subnet-0a1b2c3d4e5f60722,subnet-0a1b2c3d4e5f60733"
    )


def test_without_efs_there_is_no_efs_stack_nor_efs_role() -> None:
    stacks = stacks_of(edited(*NO_EFS))
    assert "efs" not in stacks
    assert "EfsCsiControllerRole" not in stacks["irsa"]["Resources"]
    assert "EfsCsiControllerRoleArn" not in stacks["irsa"]["Outputs"]


# --- kms ----------------------------------------------------------------------------------------------


def test_the_secrets_key_rotates_and_the_account_administers_it() -> None:
    kms = variant("reference-v1")["kms"]
    key = kms["Resources"]["SecretsKey"]["Properties"]
    assert key["EnableKeyRotation"] is True
    (statement,) = key["KeyPolicy"]["Statement"]
    assert statement["Principal"] == {"AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}}
    assert kms["Resources"]["SecretsKeyAlias"]["Properties"] == {
        "AliasName": "alias/irtp-eks-secrets",
        "TargetKeyId": {"Ref": "SecretsKey"},
    }
    assert kms["Outputs"]["KeyArn"]["Value"] == {"Fn::GetAtt": ["SecretsKey", "Arn"]}


def test_without_secrets_encryption_there_is_no_key() -> None:
    assert "kms" not in stacks_of(edited(*NO_SECRETS_ENCRYPTION))


# --- vpc ----------------------------------------------------------------------------------------------


def test_a_created_vpc_is_private_with_its_subnets_and_every_endpoint_a_private_cluster_needs() -> None:
    vpc = variant("create-vpc")["vpc"]
    assert vpc["Resources"]["Vpc"]["Properties"]["CidrBlock"] == "10.20.0.0/22"
    subnets = resources(vpc, "AWS::EC2::Subnet")
    assert sorted(s["Properties"]["CidrBlock"] for s in subnets.values()) == [
        "10.20.0.0/24",
        "10.20.1.0/24",
        "10.20.2.0/24",
    ]
    assert all(s["Properties"]["MapPublicIpOnLaunch"] is False for s in subnets.values())
    types = {r["Type"] for r in vpc["Resources"].values()}
    assert not types & {"AWS::EC2::InternetGateway", "AWS::EC2::NatGateway", "AWS::EC2::Route", "AWS::EC2::EIP"}
    assert len(resources(vpc, "AWS::EC2::RouteTable")) == 3
    endpoints = {
        e["Properties"]["ServiceName"]["Fn::Sub"].removeprefix("com.amazonaws.${AWS::Region}."): e["Properties"]
        for e in resources(vpc, "AWS::EC2::VPCEndpoint").values()
    }
    assert set(NEEDED) | {INTERRUPTION[0]} <= set(endpoints)
    assert endpoints["s3"]["VpcEndpointType"] == "Gateway"
    assert len(endpoints["s3"]["RouteTableIds"]) == 3
    for service, endpoint in endpoints.items():
        if service != "s3":
            assert endpoint["VpcEndpointType"] == "Interface"
            assert endpoint["PrivateDnsEnabled"] is True
            assert endpoint["SecurityGroupIds"] == [{"Ref": "EndpointSecurityGroup"}]
    group = vpc["Resources"]["EndpointSecurityGroup"]["Properties"]
    assert [(r["FromPort"], r["CidrIp"]) for r in group["SecurityGroupIngress"]] == [
        (443, {"Fn::GetAtt": ["Vpc", "CidrBlock"]})
    ]
    assert {"VpcId", "PrivateSubnetIds"} <= set(vpc["Outputs"])


def test_an_existing_vpc_gets_no_vpc_stack_and_its_ids_are_parameter_defaults() -> None:
    stacks = variant("reference-v1")
    assert "vpc" not in stacks
    assert stacks["access"]["Parameters"]["VpcId"]["Default"] == "vpc-0a1b2c3d4e5f60718"
    assert stacks["efs"]["Parameters"]["VpcId"]["Default"] == "vpc-0a1b2c3d4e5f60718"


# --- wiring: where each parameter comes from -----------------------------------------------------------


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_each_parameter_without_default_names_an_output_of_an_earlier_stack(name: str) -> None:
    stacks = variant(name)
    order = list(stacks)
    for stack, template in stacks.items():
        parameters = template.get("Parameters", {})
        sources = template.get("Metadata", {}).get(METADATA_KEY, {}).get("ParameterSources", {})
        assert set(sources) == {p for p, spec in parameters.items() if "Default" not in spec}, stack
        for parameter, source in sources.items():
            origin, output = source.split(".")
            if origin == "cluster":
                continue
            assert order.index(origin) < order.index(stack), (stack, parameter)
            assert output in stacks[origin]["Outputs"], (stack, parameter)


def test_a_created_vpc_feeds_the_access_and_efs_stacks() -> None:
    stacks = variant("create-vpc")
    assert stacks["access"]["Metadata"][METADATA_KEY]["ParameterSources"] == {
        "ClusterSecurityGroupId": "cluster.ClusterSecurityGroupId",
        "VpcId": "vpc.VpcId",
    }
    assert stacks["efs"]["Metadata"][METADATA_KEY]["ParameterSources"] == {
        "NodeSecurityGroupId": "access.NodeSecurityGroupId",
        "PrivateSubnetIds": "vpc.PrivateSubnetIds",
        "VpcId": "vpc.VpcId",
    }


def test_the_longest_cluster_name_the_spec_allows_still_gives_iam_names_iam_accepts() -> None:
    name = "p" * d.MAX_CLUSTER_NAME
    limits = {"RoleName": 64, "InstanceProfileName": 128, "QueueName": 80, "AliasName": 256}
    found = {}
    for template in stacks_of(edited(("  name: irtp\n", f"  name: {name}\n"))).values():
        for resource in template["Resources"].values():
            for key, limit in limits.items():
                value = resource["Properties"].get(key)
                if isinstance(value, str) and name in value:
                    found[value] = limit
    assert any(len(value) == 64 for value in found)  # the bound is tight: one role name is exactly 64
    assert all(len(value) <= limit for value, limit in found.items())
