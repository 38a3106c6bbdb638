from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from eks_platform.checks.context import CheckContext
from eks_platform.checks.finding import Finding, Severity
from eks_platform.checks.objects import KubeObject
from eks_platform.checks.rule import Rule
from eks_platform.checks.rules.network_common import unique
from eks_platform.errors import Loc

SPEC_OPTIONS: Loc = ("karpenter", "nodeTemplate", "metadataOptions")


@dataclass(frozen=True)
class Defaults:
    """What the node class's API does with metadataOptions: left out whole, or a field left out."""

    omitted: tuple[str, int]  # (httpTokens, httpPutResponseHopLimit) when metadataOptions is left out
    tokens: str  # httpTokens when metadataOptions is given without it
    hop_limit: int  # likewise httpPutResponseHopLimit


# shared/crds/karpenter: v1 EC2NodeClass (v1.14.1) and v1beta1 (v0.36.2) default each field; v1alpha1
# AWSNodeTemplate (v0.31.5) defaults only the whole block (hop limit 2) and leaves a missing field to EC2,
# whose launch-template defaults are httpTokens optional and hop limit 1.
DEFAULTS: dict[tuple[str, str], Defaults] = {
    ("EC2NodeClass", "karpenter.k8s.aws/v1"): Defaults(("required", 1), "required", 1),
    ("EC2NodeClass", "karpenter.k8s.aws/v1beta1"): Defaults(("required", 2), "required", 2),
    ("AWSNodeTemplate", "karpenter.k8s.aws/v1alpha1"): Defaults(("required", 2), "optional", 1),
}


class Ep601Imdsv2Required(Rule):
    id = "EP601"
    severity = Severity.error
    title = "Karpenter nodes require IMDSv2 (httpTokens: required) with a hop limit of 1"
    fix = (
        "set metadataOptions {httpTokens: required, httpPutResponseHopLimit: 1} on the node class "
        "(karpenter.nodeTemplate.metadataOptions in the spec): pods then cannot reach the node's instance role"
    )
    url = (
        "https://aws.github.io/aws-eks-best-practices/security/docs/iam/"
        "#restrict-access-to-the-instance-profile-assigned-to-the-worker-node"
    )

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        yield from unique(self._findings(ctx))

    def _findings(self, ctx: CheckContext) -> Iterator[Finding]:
        for obj in ctx.of_kind("EC2NodeClass", "AWSNodeTemplate"):
            defaults = DEFAULTS.get((obj.kind, obj.api_version))
            if defaults is None:
                continue
            options = obj.spec.get("metadataOptions")
            if not isinstance(options, Mapping):
                tokens, hops = defaults.omitted
                if tokens != "required" or hops != 1:
                    yield self._finding(
                        ctx,
                        obj,
                        field=None,
                        message=f"{obj.kind} {obj.api_version} sets no metadataOptions, whose defaults are "
                        f"httpTokens {tokens} and hop limit {hops}: a pod can reach IMDS through the node's network "
                        "hop and take the node's instance role",
                    )
                continue
            if str(options.get("httpEndpoint", "enabled")).lower() == "disabled":
                continue  # no IMDS at all
            tokens = str(options.get("httpTokens") or defaults.tokens)
            if tokens != "required":
                written = "is" if "httpTokens" in options else "defaults to"
                yield self._finding(
                    ctx,
                    obj,
                    field="httpTokens",
                    message=f"httpTokens {written} {tokens}: IMDSv1 answers any request without a session token, "
                    "so a server-side request forgery in any pod can read the node's credentials",
                )
            hops = _int(options.get("httpPutResponseHopLimit"), defaults.hop_limit)
            if hops != 1:
                written = "is" if "httpPutResponseHopLimit" in options else "defaults to"
                yield self._finding(
                    ctx,
                    obj,
                    field="httpPutResponseHopLimit",
                    message=f"httpPutResponseHopLimit {written} {hops}: the IMDS token reaches pods behind the "
                    "node's network hop, so every pod can take the node's instance role",
                )

    def _finding(self, ctx: CheckContext, obj: KubeObject, *, field: str | None, message: str) -> Finding:
        """On the spec for the platform's own node classes (rendered from karpenter.nodeTemplate), else the object."""
        more: Loc = (field,) if field else ()
        if obj.origin.startswith("rendered"):
            return self.on_spec(ctx, (*SPEC_OPTIONS, *more), message)
        return self.on_object(obj, ("spec", "metadataOptions", *more), message)


def _int(value: Any, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default
