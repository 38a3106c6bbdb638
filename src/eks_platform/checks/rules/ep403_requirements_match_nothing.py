from __future__ import annotations

from collections.abc import Iterator, Sequence
from itertools import combinations

from eks_platform.checks.context import CheckContext
from eks_platform.checks.finding import Finding, Severity
from eks_platform.checks.rule import Rule
from eks_platform.checks.rules.karpenter_common import (
    BOUND_OPERATORS,
    Requirement,
    effective_requirements,
    effective_types,
    shorten,
    sorted_values,
    types_allowed,
)
from eks_platform.checks.scheduling import INSTANCE_LABELS
from eks_platform.spec.instance_catalog import InstanceCatalog


class Ep403RequirementsMatchNothing(Rule):
    id = "EP403"
    severity = Severity.error
    title = "A NodePool's/Provisioner's requirements together allow at least one instance type"
    fix = "widen the requirements so that some instance type meets all of them"
    url = "https://karpenter.sh/docs/concepts/scheduling/#well-known-labels"

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        for pool in ctx.pools:
            if effective_types(pool, ctx.catalog):
                continue
            instance = [r for r in effective_requirements(pool) if r.key in INSTANCE_LABELS]
            if any(_malformed_bound(r) for r in instance):
                continue  # a bound that is not a number matches nothing by itself: EP404 says what to write
            culprits, fix = _explain(instance, ctx.catalog)
            named = " and ".join(r.describe() for r in culprits)
            together = "together leave" if len(culprits) > 1 else "leaves"
            yield self.on_object(
                pool.obj,
                pool.requirements_path,
                f"{pool.obj.kind} {pool.name}: {named} {together} no instance type: Karpenter can launch no node "
                "for this pool, and the pods meant for it stay Pending",
                fix,
            )


def _malformed_bound(requirement: Requirement) -> bool:
    return requirement.operator in BOUND_OPERATORS and not (
        len(requirement.values) == 1 and requirement.values[0].lstrip("-").isdigit()
    )


def _explain(requirements: Sequence[Requirement], catalog: InstanceCatalog) -> tuple[list[Requirement], str]:
    """The fewest requirements that already match nothing, and what would match."""
    if not requirements:
        return [], "check the instance catalog: it has no instance types"
    for requirement in requirements:
        if not types_allowed([requirement], catalog):
            return [requirement], _widen_alone(requirement, catalog)
    for first, second in combinations(requirements, 2):
        if not types_allowed([first, second], catalog):
            return [first, second], _what_matches([first], second, catalog)
    *others, last = requirements  # only all of them together match nothing
    return list(requirements), _what_matches(others, last, catalog)


def _what_matches(others: Sequence[Requirement], last: Requirement, catalog: InstanceCatalog) -> str:
    """'the types that meet requirements[0] have karpenter.k8s.aws/instance-size: nano, ...; ...'."""
    label = INSTANCE_LABELS[last.key]
    values = sorted_values(last.key, types_allowed(others, catalog), label)
    meeting = f"the instance types that meet {' and '.join(r.where for r in others)}"
    if last.origin:
        return (
            f"{meeting} have {last.key} {shorten(values)}: write a requirement {last.key} In [{shorten(values)}] "
            f"(without one, Karpenter's webhook adds {last.expression()})"
        )
    if last.numeric:
        span = f"from {values[0]} to {values[-1]}" if values else "no value"
        return f"{meeting} have {last.key} {span}: change {last.where} to fit that range, or widen the others"
    return f"{meeting} have {last.key} {shorten(values)}: use some of those in {last.where}, or widen the others"


def _widen_alone(requirement: Requirement, catalog: InstanceCatalog) -> str:
    label = INSTANCE_LABELS[requirement.key]
    values = sorted_values(requirement.key, catalog.types.values(), label)
    if requirement.numeric and values:
        return f"the instance catalog has {requirement.key} from {values[0]} to {values[-1]}: change the bound"
    return f"use values that exist for {requirement.key} (e.g. {shorten(values, most=6)}), or remove the requirement"
