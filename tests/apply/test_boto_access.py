"""The access-entry adapter against botocore's Stubber (moto does not implement EKS access entries): the
requests it sends and how it reads the answers."""

from __future__ import annotations

import boto3
from botocore.stub import Stubber

from eks_platform.apply.boto import BotoEksAccess
from eks_platform.apply.ports import AccessPolicyAssociation

JENKINS = "arn:aws:iam::123456789012:role/jenkins-tooling"
EDIT = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSEditPolicy"


def client():  # type: ignore[no-untyped-def]
    return boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    ).client("eks")


def test_reads_entries_with_their_associated_policies() -> None:
    eks = client()
    with Stubber(eks) as stub:
        stub.add_response("list_access_entries", {"accessEntries": [JENKINS]}, {"clusterName": "irtp"})
        stub.add_response(
            "list_associated_access_policies",
            {
                "clusterName": "irtp",
                "principalArn": JENKINS,
                "associatedAccessPolicies": [
                    {"policyArn": EDIT, "accessScope": {"type": "namespace", "namespaces": ["irtp"]}}
                ],
            },
            {"clusterName": "irtp", "principalArn": JENKINS},
        )
        found = BotoEksAccess(eks).access_entries("irtp")
    assert found == {JENKINS: frozenset({AccessPolicyAssociation(EDIT, "namespace", ("irtp",))})}


def test_creates_a_standard_entry_and_associates_a_scoped_policy() -> None:
    eks = client()
    with Stubber(eks) as stub:
        stub.add_response(
            "create_access_entry",
            {},
            {
                "clusterName": "irtp",
                "principalArn": JENKINS,
                "type": "STANDARD",
                "tags": {"eks-platform.io/cluster": "irtp"},
            },
        )
        stub.add_response(
            "associate_access_policy",
            {},
            {
                "clusterName": "irtp",
                "principalArn": JENKINS,
                "policyArn": EDIT,
                "accessScope": {"type": "namespace", "namespaces": ["irtp"]},
            },
        )
        access = BotoEksAccess(eks)
        access.create_access_entry(cluster="irtp", principal_arn=JENKINS, tags={"eks-platform.io/cluster": "irtp"})
        access.associate_access_policy(
            cluster="irtp", principal_arn=JENKINS, association=AccessPolicyAssociation(EDIT, "namespace", ("irtp",))
        )
        stub.assert_no_pending_responses()
