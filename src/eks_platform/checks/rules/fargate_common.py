"""Shared by the Fargate rules (EP201-EP204): which pods land on Fargate, and which selector puts them there."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from eks_platform.checks.context import CheckContext
from eks_platform.checks.objects import get
from eks_platform.checks.pods import PodTemplate
from eks_platform.checks.scheduling import satisfies, tolerates
from eks_platform.errors import Loc, format_path
from eks_platform.render.placement import matching_profile
from eks_platform.spec import defaults as d
from eks_platform.spec.model import FargateSelector

FARGATE_LABEL = f"{d.FARGATE_POD_LABEL}: {d.FARGATE_POD_LABEL_VALUE}"
COMPUTE_TYPE = "eks.amazonaws.com/compute-type"
FARGATE_NODE_TAINT = {"key": COMPUTE_TYPE, "value": "fargate", "effect": "NoSchedule"}
# What a Fargate node is labelled with: known values, and keys present with a value we cannot know.
FARGATE_NODE_LABELS = {COMPUTE_TYPE: "fargate", "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64"}
FARGATE_NODE_KEYS = frozenset(
    {
        "kubernetes.io/hostname",
        "topology.kubernetes.io/zone",
        "topology.kubernetes.io/region",
        "eks.amazonaws.com/fargate-profile",
    }
)


def workload(template: PodTemplate) -> str:
    """'Deployment calico-system/calico-typha': how messages name a pod template's owner."""
    owner = template.owner
    return f"{owner.kind} {owner.namespace}/{owner.name}"


def fargate_pods(ctx: CheckContext) -> Iterator[PodTemplate]:
    """Pod templates that land on Fargate, DaemonSets excepted: Fargate runs none of their pods (EP202)."""
    for template in ctx.templates:
        if ctx.where(template).home == "fargate" and not template.is_daemonset:
            yield template


def fargate_selector(ctx: CheckContext, template: PodTemplate) -> tuple[Loc, FargateSelector] | None:
    """The Fargate profile selector that picks the template's pods (None: its schedulerName does)."""
    match = matching_profile(ctx.platform, namespace=template.namespace, labels=template.labels)
    if match is None:
        return None
    loc = match[1]
    profile, index = int(loc[2]), int(loc[4])
    return loc, ctx.platform.fargate.profiles[profile].selectors[index]


def why_fargate(ctx: CheckContext, template: PodTemplate) -> tuple[str, str]:
    """(what sends the pods to Fargate, how to keep them off it), for messages and fixes."""
    found = fargate_selector(ctx, template)
    if found is None:
        return "its schedulerName is fargate-scheduler", "remove schedulerName: fargate-scheduler"
    loc, selector = found
    if selector.labels:
        labels = ", ".join(f"{k}: {v}" for k, v in selector.labels.items())
        return (
            f"the Fargate profile selector {format_path(loc)} picks pods labelled {{{labels}}} in {selector.namespace}",
            f"take those labels off its pod template, or narrow the selector {format_path(loc)}",
        )
    return (
        f"the Fargate profile selector {format_path(loc)} picks every pod in {selector.namespace}",
        f"narrow the selector {format_path(loc)} to labelled pods, e.g. labels {{{FARGATE_LABEL}}}, "
        "and label only the pods meant for Fargate",
    )


# --- DaemonSet pods on Fargate nodes ----------------------------------------------------------------


def fargate_node_toleration(template: PodTemplate) -> int | None:
    """Index of the toleration that lets the DaemonSet controller put a pod on every Fargate node, when
    nothing else (nodeSelector, required node affinity) keeps the pods off them."""
    tolerations = template.spec.get("tolerations")
    if not isinstance(tolerations, list):
        return None
    index = next(
        (i for i, t in enumerate(tolerations) if isinstance(t, Mapping) and tolerates([t], FARGATE_NODE_TAINT)), None
    )
    if index is None or not _fits_fargate_node(template.spec):
        return None
    return index


def _fits_fargate_node(spec: Mapping[str, Any]) -> bool:
    selector = spec.get("nodeSelector")
    if isinstance(selector, Mapping) and not all(_allows(str(k), "In", [str(v)]) for k, v in selector.items()):
        return False
    terms = get(spec, "affinity", "nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution", "nodeSelectorTerms")
    if not isinstance(terms, list) or not terms:
        return True
    return any(
        all(
            _allows(str(e.get("key")), str(e.get("operator")), [str(v) for v in e.get("values") or []])
            for e in term.get("matchExpressions") or []
            if isinstance(e, Mapping)
        )
        for term in terms
        if isinstance(term, Mapping)
    )


def _allows(key: str, operator: str, values: list[str]) -> bool:
    """Can a Fargate node meet this node requirement?"""
    if key in FARGATE_NODE_KEYS:
        return operator != "DoesNotExist"
    return satisfies(FARGATE_NODE_LABELS.get(key), operator, values)
