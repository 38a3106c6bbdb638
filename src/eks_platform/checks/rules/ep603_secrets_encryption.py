from __future__ import annotations

from collections.abc import Iterator

from eks_platform.checks.context import CheckContext
from eks_platform.checks.finding import Finding, Severity
from eks_platform.checks.rule import Rule


class Ep603SecretsEncryption(Rule):
    id = "EP603"
    severity = Severity.error
    title = "Kubernetes Secrets are encrypted with a KMS key (envelope encryption)"
    fix = "set cluster.secretsEncryption: true (eks-platform creates the KMS key and the cluster's encryptionConfig)"
    url = "https://docs.aws.amazon.com/eks/latest/userguide/enable-kms.html"

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        if not ctx.platform.cluster.secrets_encryption:
            yield self.on_spec(
                ctx,
                ("cluster", "secretsEncryption"),
                "Secrets are stored in etcd without envelope encryption by a KMS key of the account",
            )
