"""Run the rules over a platform and a set of objects; apply suppressions; count."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from eks_platform.checks.context import CheckContext
from eks_platform.checks.finding import SEVERITY_ORDER, Finding, Severity
from eks_platform.checks.rule import Rule

SKIP_PREFIX = "eks-platform.io/skip-"


@dataclass(frozen=True)
class Report:
    findings: tuple[Finding, ...]  # not suppressed, most severe first
    suppressed: tuple[Finding, ...]
    objects_checked: int
    rules: tuple[Rule, ...]

    def count(self, severity: Severity) -> int:
        return sum(1 for f in self.findings if f.severity == severity)

    @property
    def exit_code(self) -> int:
        return 1 if self.count(Severity.error) else 0


def run(ctx: CheckContext, rules: Sequence[Rule]) -> Report:
    skips = _suppressions(ctx)
    findings: list[Finding] = []
    suppressed: list[Finding] = []
    for rule in rules:
        for finding in rule.check(ctx):
            reason = skips.get((finding.object.id, rule.id))
            if reason is None:
                findings.append(finding)
            elif reason.strip():
                suppressed.append(replace(finding, suppressed=reason.strip()))
            else:
                findings.append(
                    replace(
                        finding,
                        message=f"{finding.message} (not suppressed: {SKIP_PREFIX}{rule.id} needs a reason)",
                    )
                )
    order = sorted(findings, key=_order)
    return Report(
        findings=tuple(order),
        suppressed=tuple(sorted(suppressed, key=_order)),
        objects_checked=len(ctx.objects),
        rules=tuple(rules),
    )


def _order(finding: Finding) -> tuple[int, str, str, str, str]:
    return (SEVERITY_ORDER[finding.severity], finding.object.id, finding.rule_id, finding.path, finding.message)


def _suppressions(ctx: CheckContext) -> dict[tuple[str, str], str]:
    """(object id, rule id) -> reason, from annotations on the object or on its pod template."""
    skips: dict[tuple[str, str], str] = {}
    for obj in ctx.objects:
        for key, value in obj.annotations.items():
            if str(key).startswith(SKIP_PREFIX):
                skips[(obj.id, str(key)[len(SKIP_PREFIX) :].upper())] = str(value or "")
    for template in ctx.templates:
        for key, value in template.annotations.items():
            if str(key).startswith(SKIP_PREFIX):
                skips.setdefault((template.owner.id, str(key)[len(SKIP_PREFIX) :].upper()), str(value or ""))
    return skips
