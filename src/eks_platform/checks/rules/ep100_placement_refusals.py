from __future__ import annotations

from collections.abc import Iterator

from eks_platform.checks.context import CheckContext
from eks_platform.checks.finding import Finding, Severity
from eks_platform.checks.rule import Rule


class Ep100PlacementRefusals(Rule):
    """What `eksp render` refuses to render (a placement that cannot work), reported by `eksp check`
    as findings so one run shows every problem; the other rules then check the platform as asked."""

    id = "EP100"
    severity = Severity.error
    title = "Every component's placement in the spec can work (what `eksp render` would refuse)"
    fix = "change the spec as the message says"

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        for refusal in ctx.bundle.placement.refusals:
            yield self.on_spec(ctx, refusal.loc, refusal.message, refusal.fix or None)
