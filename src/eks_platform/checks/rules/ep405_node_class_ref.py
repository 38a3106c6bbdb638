from __future__ import annotations

from collections.abc import Iterator

from eks_platform.checks.context import CheckContext
from eks_platform.checks.finding import Finding, Severity
from eks_platform.checks.rule import Rule
from eks_platform.checks.rules.karpenter_common import AWS_GROUP, NODE_CLASS_KIND, node_class_ref, node_classes
from eks_platform.errors import Loc, format_path

NOR = {"v1": "", "v1alpha5": " (nor an inline provider)"}
MISSING_REF_PATH: dict[str, Loc] = {
    "v1": ("spec", "template", "spec", "nodeClassRef"),
    "v1alpha5": ("spec", "providerRef"),
}


class Ep405NodeClassRef(Rule):
    id = "EP405"
    severity = Severity.error
    title = (
        "Every NodePool references an EC2NodeClass, and every Provisioner an AWSNodeTemplate, that is among the "
        "objects checked"
    )
    fix = "reference the platform's node class (bottlerocket) or pass your own with --manifests"
    url = "https://karpenter.sh/docs/concepts/nodeclasses/"

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        for pool in ctx.pools:
            kind = NODE_CLASS_KIND[pool.api]
            known = node_classes(ctx, kind)
            choices = f"one of: {', '.join(sorted(known))}" if known else f"an {kind} you also pass with --manifests"
            ref = node_class_ref(pool)
            label = f"{pool.obj.kind} {pool.name}"
            if ref is None:
                path = MISSING_REF_PATH[pool.api]
                yield self.on_object(
                    pool.obj,
                    path,
                    f"{label} has no {format_path(path)}{NOR[pool.api]}: Karpenter cannot tell which AMI, "
                    "subnets and security groups its nodes get, and launches none",
                    f"add {_example(pool.api, sorted(known))} ({choices})",
                )
                continue
            if ref.inline:
                continue  # a v1alpha5 inline provider: deprecated (EP409), but complete
            if pool.api == "v1alpha5" and pool.obj.spec.get("provider") is not None:
                yield self.on_object(
                    pool.obj,
                    ("spec", "provider"),
                    f"{label} has both an inline provider and providerRef: Karpenter's webhook rejects it "
                    "(they are mutually exclusive)",
                    "remove the inline provider (deprecated) and keep providerRef",
                )
                continue
            if ref.group != AWS_GROUP or ref.kind != kind:
                yield self.on_object(
                    pool.obj,
                    ref.path,
                    f"{label} references {ref.group or '<no group>'}/{ref.kind or '<no kind>'}; Karpenter on AWS "
                    f"takes only {AWS_GROUP} {kind}",
                    f"write {_example(pool.api, sorted(known))}",
                )
            elif ref.name is None:
                yield self.on_object(
                    pool.obj, ref.path, f"{label}'s node class reference has no name", f"name {choices}"
                )
            elif ref.name not in known:
                yield self.on_object(
                    pool.obj,
                    (*ref.path, "name"),
                    f"{label} references {kind} '{ref.name}', which is not among the objects checked: Karpenter "
                    "launches no node for the pool until it exists",
                    f"reference {choices}, or pass the {kind} '{ref.name}' with --manifests",
                )


def _example(api: str, known: list[str]) -> str:
    name = known[0] if known else "<name>"
    if api == "v1alpha5":
        return f"providerRef: {{name: {name}}}"
    return f"nodeClassRef: {{group: {AWS_GROUP}, kind: EC2NodeClass, name: {name}}}"
