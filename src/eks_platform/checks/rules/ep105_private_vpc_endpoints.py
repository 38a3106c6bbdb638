from __future__ import annotations

from collections.abc import Iterator

from eks_platform.checks.context import CheckContext
from eks_platform.checks.finding import Finding, Severity
from eks_platform.checks.rule import Rule

# What a private cluster (no internet) needs each VPC endpoint for (short service names).
NEEDED: dict[str, str] = {
    "ec2": "Karpenter launches nodes and reads subnets, security groups and instance types",
    "ecr.api": "image pulls: ECR authentication and manifests (the registry mirror, EKS add-on images)",
    "ecr.dkr": "image pulls: ECR's registry API",
    "s3": "image pulls: ECR serves image layers from S3",
    "sts": "IRSA: pods trade their service-account token for AWS credentials (AssumeRoleWithWebIdentity)",
    "eks": "Karpenter reads the cluster (endpoint, CA bundle) from the EKS API",
    "ssm": "Karpenter resolves the Bottlerocket AMI from SSM public parameters",
    "logs": "container logs go to CloudWatch Logs",
    "elasticloadbalancing": "the load balancer controller creates load balancers and registers their targets",
}
INTERRUPTION = ("sqs", "Karpenter reads spot interruption and rebalance events from its interruption queue")


def short_name(endpoint: str) -> str:
    """'com.amazonaws.us-east-1.ecr.api' -> 'ecr.api'; 'ECR.API' -> 'ecr.api'."""
    name = endpoint.strip().lower()
    if name.startswith("com.amazonaws."):
        name = name.split(".", 3)[3] if name.count(".") >= 3 else name
    return name


class Ep105PrivateVpcEndpoints(Rule):
    id = "EP105"
    severity = Severity.error
    title = "The existing VPC has every VPC endpoint a private cluster needs"
    fix = (
        "create the missing interface endpoints (s3: a gateway endpoint) in the VPC with private DNS, "
        "then list them in cluster.vpc.endpoints"
    )
    url = "https://docs.aws.amazon.com/eks/latest/userguide/private-clusters.html"

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        vpc = ctx.platform.cluster.vpc
        if vpc.endpoints is None or vpc.create:
            return  # unknown, or a new VPC that eks-platform builds with its endpoints
        have = {short_name(endpoint) for endpoint in vpc.endpoints}
        needed = dict(NEEDED)
        if ctx.platform.karpenter.interruption_queue:
            needed[INTERRUPTION[0]] = INTERRUPTION[1]
        missing = [f"{name} ({why})" for name, why in needed.items() if name not in have]
        if missing:
            yield self.on_spec(
                ctx,
                ("cluster", "vpc", "endpoints"),
                f"the cluster has no internet, and the VPC lacks {len(missing)} endpoint"
                f"{'s' if len(missing) != 1 else ''} it needs: {'; '.join(missing)}",
            )
