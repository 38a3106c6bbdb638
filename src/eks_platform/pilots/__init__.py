"""Pilots: one pilot deployment on one dedicated node (pure: objects, patches, the fit)."""

from __future__ import annotations

from eks_platform.pilots.plan import (
    PilotFit,
    PilotPlan,
    manifests_path,
    parse_workloads,
    pilot_from_args,
    plan_pilot,
    with_pilot,
)

__all__ = ["PilotFit", "PilotPlan", "manifests_path", "parse_workloads", "pilot_from_args", "plan_pilot", "with_pilot"]
