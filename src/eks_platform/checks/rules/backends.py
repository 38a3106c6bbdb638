"""Shared by the reachability rules: the pods behind a Service reference that sit on the overlay."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from eks_platform.checks.context import CheckContext
from eks_platform.checks.pods import PodTemplate


def overlay_backends(ctx: CheckContext, service: Mapping[str, Any]) -> list[PodTemplate]:
    namespace = str(service.get("namespace") or "default")
    backends = ctx.backends(namespace, str(service.get("name", "")))
    return [template for template in backends or [] if not ctx.where(template).on_vpc]
