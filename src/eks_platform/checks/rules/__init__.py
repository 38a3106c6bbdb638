"""Every rule eksp check runs, in one explicit tuple (one file per rule; ids never change)."""

from __future__ import annotations

from eks_platform.checks.rule import Rule
from eks_platform.checks.rules.ep100_placement_refusals import Ep100PlacementRefusals
from eks_platform.checks.rules.ep301_webhook_backends_on_vpc import Ep301WebhookBackendsOnVpc

RULES: tuple[Rule, ...] = (
    Ep100PlacementRefusals(),
    Ep301WebhookBackendsOnVpc(),
)
