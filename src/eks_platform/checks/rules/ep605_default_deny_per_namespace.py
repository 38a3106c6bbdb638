from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from eks_platform.checks.context import CheckContext
from eks_platform.checks.finding import Finding, Severity
from eks_platform.checks.objects import KubeObject
from eks_platform.checks.rule import Rule
from eks_platform.checks.rules.network_common import CALICO_GROUPS, SYSTEM_NAMESPACES, platform_namespaces
from eks_platform.errors import Loc

ALL = ("", "all()")


@dataclass(frozen=True)
class Target:
    namespace: str
    why: str  # "application namespace", "pilot namespace", "runs Deployment x/y"
    spec_loc: Loc | None  # where the spec names it (application and pilot namespaces)


class Ep605DefaultDenyPerNamespace(Rule):
    """Which namespaces: every application and pilot namespace of the spec, and every namespace where the
    user's own workloads run, except Kubernetes' system namespaces (kube-system, kube-public,
    kube-node-lease: no application there, and a default deny would cut off cluster services) and the
    platform's own add-on namespaces. `default` is checked: an application there runs unisolated."""

    id = "EP605"
    severity = Severity.error
    title = "Every application namespace has a default-deny ingress policy"
    fix = (
        "list the namespace under namespaces: in the spec (eks-platform renders its default-deny, allow-dns and "
        "allow-same-namespace policies), or add a NetworkPolicy with podSelector: {}, policyTypes: [Ingress] "
        "and no ingress rules"
    )
    url = "https://kubernetes.io/docs/concepts/services-networking/network-policies/#default-deny-all-ingress-traffic"

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        if any(_global_default_deny(obj) for obj in ctx.of_kind("GlobalNetworkPolicy")):
            return
        protected = {obj.namespace for obj in ctx.of_kind("NetworkPolicy") if _namespace_default_deny(obj)}
        namespace_objects = {obj.name: obj for obj in ctx.of_kind("Namespace") if obj.group == ""}
        for target in _targets(ctx):
            if target.namespace in protected:
                continue
            message = (
                f"namespace {target.namespace} ({target.why}) has no default-deny ingress policy: "
                "every pod in it accepts connections from any pod of the cluster"
            )
            fix = None
            if target.namespace == "default":
                fix = (
                    "run the application in a namespace of its own listed under namespaces: in the spec, or add a "
                    "NetworkPolicy to default with podSelector: {}, policyTypes: [Ingress] and no ingress rules"
                )
            namespace = namespace_objects.get(target.namespace)
            first = next((t for t in ctx.templates_by_namespace.get(target.namespace, []) if _users(t.owner)), None)
            if namespace is not None:
                yield self.on_object(namespace, (), message, fix)
            elif first is not None:
                yield self.on_object(first.owner, ("metadata", "namespace"), message, fix)
            elif target.spec_loc is not None:
                yield self.on_spec(ctx, target.spec_loc, message, fix)


def _users(obj: KubeObject) -> bool:
    return obj.origin == "user"


def _targets(ctx: CheckContext) -> Iterator[Target]:
    seen: set[str] = set()
    for index, namespace in enumerate(ctx.platform.namespaces):
        seen.add(namespace.name)
        yield Target(namespace.name, "an application namespace", ("namespaces", index, "name"))
    for index, pilot in enumerate(ctx.platform.pilots):
        name = pilot.namespace or f"pilot-{pilot.name}"
        if name not in seen:
            seen.add(name)
            yield Target(name, f"pilot {pilot.name}'s namespace", ("pilots", index, "namespace"))
    skip = SYSTEM_NAMESPACES | platform_namespaces(ctx)
    for template in ctx.templates:
        name = template.namespace
        if not _users(template.owner) or name in seen or name in skip:
            continue
        seen.add(name)
        yield Target(name, f"where {template.owner.kind} {template.owner.name} runs", None)


def _has_ingress(types: Any, *, ingress: Any, egress: Any, calico: bool) -> bool:
    """Does the policy apply to ingress? Unset types: Kubernetes always includes Ingress; Calico includes it
    when there are ingress rules or no egress rules."""
    if isinstance(types, list) and types:
        return "Ingress" in types
    return not calico or bool(ingress) or not egress


def _namespace_default_deny(obj: KubeObject) -> bool:
    spec = obj.spec
    if obj.group == "networking.k8s.io":
        selector = spec.get("podSelector")
        selects_all = not selector or (
            isinstance(selector, Mapping) and not selector.get("matchLabels") and not selector.get("matchExpressions")
        )
        ingress, egress = spec.get("ingress"), spec.get("egress")
        applies = _has_ingress(spec.get("policyTypes"), ingress=ingress, egress=egress, calico=False)
        return selects_all and applies and not ingress
    if obj.group in CALICO_GROUPS:
        return _calico_default_deny(spec)
    return False


def _calico_default_deny(spec: Mapping[str, Any]) -> bool:
    ingress, egress = spec.get("ingress"), spec.get("egress")
    return (
        str(spec.get("selector") or "").strip() in ALL
        and not spec.get("serviceAccountSelector")
        and _has_ingress(spec.get("types"), ingress=ingress, egress=egress, calico=True)
        and not ingress
    )


def _global_default_deny(obj: KubeObject) -> bool:
    """A GlobalNetworkPolicy denying ingress to every pod of every namespace."""
    spec = obj.spec
    if obj.group not in CALICO_GROUPS or spec.get("doNotTrack") or spec.get("preDNAT"):
        return False
    return str(spec.get("namespaceSelector") or "").strip() in ALL and _calico_default_deny(spec)
