from __future__ import annotations

from collections.abc import Iterator

from eks_platform.checks.context import CheckContext
from eks_platform.checks.finding import Finding, Severity
from eks_platform.checks.rule import Rule
from eks_platform.checks.rules.network_common import join

# The control-plane logs that show who did what: requests, the audit trail, and who authenticated.
NEEDED = {
    "api": "API server requests and errors",
    "audit": "who changed what through the API",
    "authenticator": "which IAM identity each Kubernetes user was",
}


class Ep604ControlPlaneLogging(Rule):
    id = "EP604"
    severity = Severity.warning
    title = "The control plane sends its api, audit and authenticator logs to CloudWatch Logs"
    fix = "add api, audit and authenticator to cluster.logging"
    url = "https://docs.aws.amazon.com/eks/latest/userguide/control-plane-logs.html"

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        logging = set(ctx.platform.cluster.logging)
        missing = [f"{name} ({why})" for name, why in NEEDED.items() if name not in logging]
        if missing:
            yield self.on_spec(
                ctx,
                ("cluster", "logging"),
                f"cluster.logging lacks {join(missing)}: without them an incident on the cluster cannot be traced",
            )
