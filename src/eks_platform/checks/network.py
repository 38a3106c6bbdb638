"""Where a pod lands and which network its IP is on.

Three homes: Fargate (its namespace and labels match a Fargate profile, by EKS's rules: a VPC IP),
an EC2 node's host network (a VPC IP), or the Calico overlay on EC2 (an IP the API server and
Fargate pods cannot reach). EC2 pods also get the pools their selectors and tolerations allow.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from eks_platform.checks.pods import PodTemplate
from eks_platform.checks.scheduling import Pool, fits_pool
from eks_platform.render.placement import matching_profile
from eks_platform.spec.model import Platform

Home = Literal["fargate", "hostNetwork", "overlay"]
FARGATE_SCHEDULER = "fargate-scheduler"


@dataclass(frozen=True)
class Where:
    home: Home
    fargate_profile: str | None = None
    pools: tuple[str, ...] = ()

    @property
    def on_vpc(self) -> bool:
        return self.home != "overlay"

    @property
    def describe(self) -> str:
        if self.home == "fargate":
            return f"on Fargate (profile {self.fargate_profile})" if self.fargate_profile else "on Fargate"
        network = "in the host network" if self.home == "hostNetwork" else "on the Calico overlay"
        return f"{network} of EC2 pool {', '.join(self.pools)}" if self.pools else network


def classify(template: PodTemplate, *, platform: Platform, pools: list[Pool]) -> Where:
    match = matching_profile(platform, namespace=template.namespace, labels=template.labels)
    if match is not None:
        return Where("fargate", fargate_profile=match[0])
    if template.spec.get("schedulerName") == FARGATE_SCHEDULER:
        return Where("fargate")
    fitting = tuple(pool.name for pool in pools if fits_pool(template, pool))
    return Where("hostNetwork" if template.host_network else "overlay", pools=fitting)
