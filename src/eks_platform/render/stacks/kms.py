"""The kms stack: the customer-managed key that encrypts the cluster's Kubernetes secrets (envelope
encryption; EKS grants itself use of it when the cluster is created with it)."""

from __future__ import annotations

from awacs.aws import Allow, PolicyDocument, Principal, Statement
from awacs.kms import Action as KmsAction
from troposphere import GetAtt, Output, Ref, Template, kms

from eks_platform.render.stacks.common import arn, new_template, tags
from eks_platform.spec.model import Platform

# A deleted key waits this long before it is gone (7: the shortest AWS allows); `eksp down` lists it till then.
PENDING_WINDOW_DAYS = 7


def alias_name(platform: Platform) -> str:
    return f"alias/{platform.cluster.name}-eks-secrets"


def kms_template(platform: Platform) -> Template:
    cluster = platform.cluster.name
    template = new_template(f"eks-platform {cluster}: the KMS key that encrypts Kubernetes secrets.")
    key = template.add_resource(
        kms.Key(
            "SecretsKey",
            # Deleting the stack deletes the key (after the pending window); a replacement keeps the old key,
            # which the cluster's secrets are encrypted with.
            DeletionPolicy="Delete",
            UpdateReplacePolicy="Retain",
            Description=f"Kubernetes secrets of EKS cluster {cluster}",
            EnableKeyRotation=True,
            PendingWindowInDays=PENDING_WINDOW_DAYS,
            # The account administers the key through IAM; EKS uses it through the grant it creates.
            KeyPolicy=PolicyDocument(
                Version="2012-10-17",
                Statement=[
                    Statement(
                        Sid="AccountAdministersTheKeyThroughIam",
                        Effect=Allow,
                        Principal=Principal("AWS", arn("iam::${AWS::AccountId}:root")),
                        Action=[KmsAction("*")],
                        Resource=["*"],
                    )
                ],
            ),
            Tags=tags(platform),
        )
    )
    alias = template.add_resource(kms.Alias("SecretsKeyAlias", AliasName=alias_name(platform), TargetKeyId=Ref(key)))
    template.add_output(
        Output("KeyArn", Description="CreateCluster encryptionConfig provider keyArn", Value=GetAtt(key, "Arn"))
    )
    template.add_output(Output("KeyAlias", Description="The key's alias.", Value=Ref(alias)))
    return template
