from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from eks_platform.checks.context import CheckContext
from eks_platform.checks.finding import Finding, Severity
from eks_platform.checks.objects import get
from eks_platform.checks.pods import PodTemplate
from eks_platform.checks.rule import Rule
from eks_platform.checks.rules.karpenter_common import shorten, sorted_values
from eks_platform.checks.scheduling import INSTANCE_LABELS, WELL_KNOWN, Pool, pool_allows, tolerates
from eks_platform.errors import Loc
from eks_platform.spec.defaults import PILOT_LABEL

DEFAULT_SCHEDULER = "default-scheduler"
REQUIRED_TERMS = ("affinity", "nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution", "nodeSelectorTerms")


@dataclass(frozen=True)
class Refusal:
    """One reason a pool turns a pod away."""

    path: Loc
    reason: str
    fix: str
    undefined_label: bool = False  # the pod asks for a label the pool does not define at all


class Ep411PodMatchesNoPool(Rule):
    id = "EP411"
    severity = Severity.error
    title = "Every EC2 pod fits some Karpenter pool (its nodeSelector, node affinity and tolerations)"
    fix = "select labels a pool sets and tolerate that pool's taints"
    url = "https://karpenter.sh/docs/concepts/scheduling/"

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        for template in ctx.templates:
            spec = template.spec
            if template.is_daemonset or spec.get("nodeName"):
                continue  # a DaemonSet's pods follow the nodes; nodeName bypasses scheduling
            if spec.get("schedulerName", DEFAULT_SCHEDULER) != DEFAULT_SCHEDULER:
                continue  # another scheduler: Fargate's is classified by ctx.where, others are not ours
            where = ctx.where(template)
            if where.home == "fargate" or where.pools:
                continue
            owner = f"{template.owner.kind} {template.owner.name}"
            if not ctx.pools:
                yield self.on_object(
                    template.owner,
                    template.spec_path(),
                    f"{owner} runs on EC2 but no Karpenter pool is among the objects checked: its pods stay Pending",
                    "check it together with the platform's NodePools",
                )
                continue
            ranked = sorted(
                ((_refusals(template, pool, ctx.pools), index, pool) for index, pool in enumerate(ctx.pools)),
                key=lambda item: (sum(r.undefined_label for r in item[0]), len(item[0]), item[1]),
            )
            refusals, _, closest = ranked[0]
            names = ", ".join(pool.name for pool in ctx.pools)
            why = "; ".join(r.reason for r in refusals) or "its requirements do not intersect the pod's"
            fixes = list(dict.fromkeys(r.fix for r in refusals))
            yield self.on_object(
                template.owner,
                refusals[0].path if refusals else template.spec_path(),
                f"{owner}: its pods fit no Karpenter pool and stay Pending. Pools: {names}; "
                f"the closest, {closest.name}, refuses them: {why}",
                "; ".join(fixes) or None,
            )


def _refusals(template: PodTemplate, pool: Pool, pools: Sequence[Pool]) -> list[Refusal]:
    spec = template.spec
    found: list[Refusal] = []
    selector = spec.get("nodeSelector")
    if isinstance(selector, Mapping):
        for key, value in selector.items():
            if not pool_allows(pool, str(key), "In", [str(value)]):
                found.append(
                    _label_refusal(
                        template.spec_path("nodeSelector", str(key)),
                        pool,
                        pools,
                        key=str(key),
                        asked=f"nodeSelector {key}={value}",
                    )
                )
    terms = get(spec, *REQUIRED_TERMS)
    if isinstance(terms, list) and terms:
        per_term: list[list[Refusal]] = [
            _term_refusals(template, pool, pools, index, term) for index, term in enumerate(terms)
        ]
        if all(per_term):  # the terms are ORed: one that fits is enough
            found.extend(sorted(per_term, key=len)[0])
    tolerations = [t for t in spec.get("tolerations") or [] if isinstance(t, Mapping)]
    for taint in pool.taints:
        if taint.get("effect") in ("NoSchedule", "NoExecute") and not tolerates(tolerations, taint):
            found.append(
                Refusal(
                    template.spec_path("tolerations"),
                    f"its taint {_taint(taint)} is not tolerated",
                    f"tolerate {_taint(taint)}: {_toleration(taint)}",
                )
            )
    return found


def _term_refusals(template: PodTemplate, pool: Pool, pools: Sequence[Pool], index: int, term: Any) -> list[Refusal]:
    found: list[Refusal] = []
    expressions = term.get("matchExpressions") if isinstance(term, Mapping) else None
    for e_index, expression in enumerate(expressions if isinstance(expressions, list) else []):
        if not isinstance(expression, Mapping):
            continue
        key, operator = str(expression.get("key")), str(expression.get("operator"))
        raw = expression.get("values")
        values = [str(v) for v in raw] if isinstance(raw, list) else []
        if not pool_allows(pool, key, operator, values):
            found.append(
                _label_refusal(
                    template.spec_path(*REQUIRED_TERMS, index, "matchExpressions", e_index),
                    pool,
                    pools,
                    key=key,
                    asked=f"node affinity {key} {operator} [{', '.join(values)}]",
                )
            )
    return found


def _label_refusal(path: Loc, pool: Pool, pools: Sequence[Pool], *, key: str, asked: str) -> Refusal:
    if key in INSTANCE_LABELS:
        types = {t.name: t for p in pools for t in p.instance_types}.values()
        offered = sorted_values(key, types, INSTANCE_LABELS[key])
        fix = (
            f"the pools' instance types have {key} {shorten(offered)}: ask for one of those, "
            "or add a pool whose requirements allow what the pod needs"
        )
    elif offered := sorted({p.labels[key] for p in pools if key in p.labels}):
        fix = f"use a value some pool sets for {key}: {', '.join(offered)}"
    else:
        fix = f"no pool sets {key}: drop it, or add it to a pool's labels"
    if key == PILOT_LABEL:
        fix += " (or add the pilot to pilots: in the spec: each pilot gets its own pool)"
    if key in pool.labels:
        return Refusal(path, f"{asked}, but its nodes carry {key}={pool.labels[key]}", fix)
    if key in INSTANCE_LABELS:
        return Refusal(path, f"{asked}, but none of its instance types has that", fix)
    if any(r.get("key") == key for r in pool.requirements):
        return Refusal(path, f"{asked}, but its requirements on {key} exclude that", fix)
    if key in WELL_KNOWN:
        return Refusal(path, f"{asked}, which its nodes cannot have", fix)
    return Refusal(
        path,
        f"{asked}, a label it does not define (Karpenter matches only labels a pool sets)",
        fix,
        undefined_label=True,
    )


def _taint(taint: Mapping[str, Any]) -> str:
    value = f"={taint['value']}" if taint.get("value") not in (None, "") else ""
    return f"{taint.get('key')}{value}:{taint.get('effect')}"


def _toleration(taint: Mapping[str, Any]) -> str:
    if taint.get("value") in (None, ""):
        return f"{{key: {taint.get('key')}, operator: Exists, effect: {taint.get('effect')}}}"
    return f"{{key: {taint.get('key')}, operator: Equal, value: {taint.get('value')}, effect: {taint.get('effect')}}}"
