"""The irsa stack, deployed once the cluster exists: the cluster's OIDC provider and the roles pods assume
through it (IRSA; Fargate has no Pod Identity). The Karpenter controller, the EBS CSI controller and, when
EFS is on, the EFS CSI controller."""

from __future__ import annotations

import json

from awacs.aws import Allow, Condition, PolicyDocument, Principal, Statement, StringEquals
from awacs.sts import AssumeRoleWithWebIdentity
from troposphere import Equals, GetAtt, If, Output, Ref, Select, Split, Sub, Template, iam

from eks_platform.render.stacks.common import (
    add_parameter,
    ebs_csi_role_name,
    efs_csi_role_name,
    fill_in_at_apply,
    karpenter_controller_role_name,
    managed_policy,
    new_template,
    service_accounts,
    tags,
)
from eks_platform.render.stacks.karpenter_policy import karpenter_controller_policy
from eks_platform.spec.model import Platform

AUDIENCE = "sts.amazonaws.com"
CREATE_PROVIDER = "CreateOidcProvider"


def web_identity_trust(service_account: str) -> str:
    """The trust policy of an IRSA role as a Fn::Sub string: its condition keys hold the issuer
    (`oidc.eks.<region>.amazonaws.com/id/<id>:sub`), and CloudFormation cannot compute a JSON key."""
    namespace, name = service_account.split("/")
    document = PolicyDocument(
        Version="2012-10-17",
        Statement=[
            Statement(
                Effect=Allow,
                Principal=Principal("Federated", "${ProviderArn}"),
                Action=[AssumeRoleWithWebIdentity],
                Condition=Condition(
                    StringEquals(
                        {
                            "${Issuer}:sub": f"system:serviceaccount:{namespace}:{name}",
                            "${Issuer}:aud": AUDIENCE,
                        }
                    )
                ),
            )
        ],
    )
    return json.dumps(json.loads(document.to_json()), sort_keys=True)


def irsa_template(platform: Platform) -> Template:
    cluster = platform.cluster.name
    template = new_template(
        f"eks-platform {cluster}: the cluster's OIDC provider and the IRSA roles of the Karpenter, EBS CSI "
        "and EFS CSI controllers (after the cluster exists)."
    )
    issuer_url = add_parameter(
        template,
        "OidcIssuerUrl",
        Type="String",
        AllowedPattern=r"^https://[^/]+/.+$",
        Description="The cluster's OIDC issuer (DescribeCluster: identity.oidc.issuer), https://...",
    )
    provider_arn = add_parameter(
        template,
        "OidcProviderArn",
        Type="String",
        Default="",
        AllowedPattern=r"^(arn:aws[a-z-]*:iam::\d{12}:oidc-provider/.+)?$",
        Description="An IAM OIDC provider for the issuer that already exists; empty: this stack creates it.",
    )
    fill_in_at_apply(template, {"OidcIssuerUrl": "cluster.OidcIssuerUrl"})
    template.add_condition(CREATE_PROVIDER, Equals(Ref(provider_arn), ""))
    provider = template.add_resource(
        iam.OIDCProvider(
            "OidcProvider",
            Condition=CREATE_PROVIDER,
            Url=Ref(issuer_url),
            ClientIdList=[AUDIENCE],
            Tags=tags(platform),
        )
    )
    the_provider = If(CREATE_PROVIDER, GetAtt(provider, "Arn"), Ref(provider_arn))
    issuer = Select(1, Split("//", Ref(issuer_url)))  # without https://, as IAM writes it in condition keys
    accounts = service_accounts(platform)

    def irsa_role(logical: str, role_name: str, description: str, **policies: object) -> iam.Role:
        return template.add_resource(
            iam.Role(
                logical,
                RoleName=role_name,
                Description=f"{description} (IRSA: {accounts[role_name]})",
                AssumeRolePolicyDocument=Sub(
                    web_identity_trust(accounts[role_name]), Issuer=issuer, ProviderArn=the_provider
                ),
                Tags=tags(platform),
                **policies,
            )
        )

    karpenter = irsa_role(
        "KarpenterControllerRole",
        karpenter_controller_role_name(platform),
        f"Karpenter controller of {cluster}",
        Policies=[
            iam.Policy(PolicyName="KarpenterControllerPolicy", PolicyDocument=karpenter_controller_policy(platform))
        ],
    )
    ebs = irsa_role(
        "EbsCsiControllerRole",
        ebs_csi_role_name(platform),
        f"EBS CSI controller of {cluster}",
        ManagedPolicyArns=[managed_policy("service-role/AmazonEBSCSIDriverPolicy")],
    )
    outputs = [
        ("KarpenterControllerRoleArn", karpenter, "the Karpenter chart's service account annotation"),
        ("EbsCsiControllerRoleArn", ebs, "the aws-ebs-csi-driver add-on's serviceAccountRoleArn"),
    ]
    if platform.addons.efs_csi.enabled:
        efs = irsa_role(
            "EfsCsiControllerRole",
            efs_csi_role_name(platform),
            f"EFS CSI controller of {cluster}",
            ManagedPolicyArns=[managed_policy("service-role/AmazonEFSCSIDriverPolicy")],
        )
        outputs.append(("EfsCsiControllerRoleArn", efs, "the EFS CSI chart's controller service account annotation"))
    for name, role, description in outputs:
        template.add_output(Output(name, Description=description, Value=GetAtt(role, "Arn")))
    template.add_output(Output("OidcProviderArn", Description="The cluster's IAM OIDC provider.", Value=the_provider))
    return template
