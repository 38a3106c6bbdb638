"""`eksp up --local` then `eksp down --local` on the reference platform, through the CLI, with the
emulator's state kept between the commands. Every resource is checked through its own service's API,
never through a stack status (moto's CloudFormation skips types it does not implement)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
import pytest
from typer.testing import CliRunner

from eks_platform.apply.local import LocalAws
from eks_platform.cli import app

runner = CliRunner()
CLUSTER = "irtp"


def aws(endpoint: Any, service: str) -> Any:
    return boto3.session.Session(
        aws_access_key_id=endpoint.credentials.access_key_id,
        aws_secret_access_key=endpoint.credentials.secret_access_key,
        region_name=endpoint.region,
    ).client(service, endpoint_url=endpoint.url)


def ingress(ec2: Any, group_id: str) -> set[tuple[str, int, int, str]]:
    rules = ec2.describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [group_id]}])
    found = set()
    for rule in rules["SecurityGroupRules"]:
        if rule.get("IsEgress"):
            continue
        source = rule.get("CidrIpv4") or rule.get("ReferencedGroupInfo", {}).get("GroupId", "")
        found.add((rule["IpProtocol"], rule.get("FromPort", -1), rule.get("ToPort", -1), source))
    return found


@pytest.fixture(scope="module")
def state(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("emulator")


def test_up_local_creates_the_aws_side(state: Path) -> None:
    result = runner.invoke(app, ["up", "--local", "--state", str(state), "--yes"])
    assert result.exit_code == 0, result.output
    assert "up: done" in result.output
    assert (
        "managed add-ons (coredns, kube-proxy, aws-ebs-csi-driver): skipped (moto does not implement" in result.output
    )
    with LocalAws(state_dir=state) as endpoint:
        eks, ec2, iam = aws(endpoint, "eks"), aws(endpoint, "ec2"), aws(endpoint, "iam")
        cluster = eks.describe_cluster(name=CLUSTER)["cluster"]
        assert cluster["resourcesVpcConfig"]["endpointPublicAccess"] is False
        assert cluster["resourcesVpcConfig"]["endpointPrivateAccess"] is True
        assert cluster["encryptionConfig"][0]["resources"] == ["secrets"]
        profiles = {
            name: eks.describe_fargate_profile(clusterName=CLUSTER, fargateProfileName=name)["fargateProfile"]
            for name in eks.list_fargate_profiles(clusterName=CLUSTER)["fargateProfileNames"]
        }
        assert sorted(profiles) == ["core", "platform"]
        assert {"namespace": "kube-system", "labels": {"k8s-app": "kube-dns"}} in profiles["core"]["selectors"]
        roles = {r["RoleName"] for r in iam.list_roles()["Roles"]}
        assert {f"{CLUSTER}-cluster", f"{CLUSTER}-fargate-pod-execution", f"{CLUSTER}-karpenter-node"} <= roles
        groups = ec2.describe_security_groups(Filters=[{"Name": "tag:karpenter.sh/discovery", "Values": [CLUSTER]}])
        [node_group] = groups["SecurityGroups"]
        cluster_group = ec2.describe_security_groups(
            Filters=[{"Name": "tag:eks-platform.io/stand-in-for", "Values": ["eks:clusterSecurityGroupId"]}]
        )["SecurityGroups"][0]["GroupId"]
        node_rules = ingress(ec2, node_group["GroupId"])
        for port in (5443, 8443, 10250):  # calico-apiserver, ingress-nginx admission, kubelet
            assert ("tcp", port, port, cluster_group) in node_rules
        cluster_rules = ingress(ec2, cluster_group)
        assert ("tcp", 443, 443, "10.8.0.0/16") in cluster_rules and ("tcp", 443, 443, "10.50.0.0/16") in cluster_rules
        assert not any(rule[3] == "0.0.0.0/0" for rule in cluster_rules)
        queues = aws(endpoint, "sqs").list_queues().get("QueueUrls", [])
        assert any(url.endswith(f"/{CLUSTER}-karpenter") for url in queues)
        rules = aws(endpoint, "events").list_rules()["Rules"]
        assert len([r for r in rules if r["Name"].startswith(CLUSTER)]) == 4


def test_a_second_up_local_has_nothing_to_do(state: Path) -> None:
    result = runner.invoke(app, ["up", "--local", "--state", str(state), "--yes"])
    assert result.exit_code == 0, result.output
    assert "nothing to do: AWS already matches the spec" in result.output  # the cluster side: not on --local


def test_down_local_leaves_nothing_tagged(state: Path) -> None:
    result = runner.invoke(app, ["down", "--local", "--state", str(state), "--yes"])
    assert result.exit_code == 0, result.output
    assert "eks cluster irtp" in result.output
    with LocalAws(state_dir=state) as endpoint:
        assert aws(endpoint, "eks").list_clusters()["clusters"] == []
        assert [
            s
            for s in aws(endpoint, "cloudformation").describe_stacks()["Stacks"]
            if s["StackStatus"] != "DELETE_COMPLETE"
        ] == []
        tagged = aws(endpoint, "resourcegroupstaggingapi").get_resources(
            TagFilters=[{"Key": "eks-platform.io/cluster", "Values": [CLUSTER]}]
        )["ResourceTagMappingList"]
        stand_ins = [
            r
            for r in tagged
            if ":vpc/" in r["ResourceARN"] or ":subnet/" in r["ResourceARN"] or "security-group" in r["ResourceARN"]
        ]
        assert [r["ResourceARN"] for r in tagged if r not in stand_ins] == []
