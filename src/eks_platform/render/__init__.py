"""Pure functions from a platform spec to a Bundle. No I/O, no clients."""

from __future__ import annotations

from eks_platform.render.aws_inputs import (
    render_cluster,
    render_fargate_profiles,
    render_iam,
    render_karpenter_infra,
    render_managed_addons,
    render_node_security_group_rules,
)
from eks_platform.render.bundle import Bundle, apply_rank
from eks_platform.render.calico import (
    render_apiserver,
    render_installation,
    render_kube_controllers_configuration,
    render_policies,
)
from eks_platform.render.karpenter import render_karpenter
from eks_platform.render.namespaces import render_namespaces
from eks_platform.render.pilots import render_pilot_limits
from eks_platform.render.placement import plan_placement
from eks_platform.render.releases import render_releases
from eks_platform.render.stacks import render_stacks
from eks_platform.render.storage import render_storage_classes
from eks_platform.render.workloads import render_workloads
from eks_platform.spec.instance_catalog import InstanceCatalog
from eks_platform.spec.model import Platform
from eks_platform.spec.validation import warnings


def render(platform: Platform, *, catalog: InstanceCatalog, strict: bool = True) -> Bundle:
    """The whole platform. Raises SpecError when a placement cannot work, unless strict=False: then the
    refusals are kept in bundle.placement.refusals and the platform is rendered as the spec asks."""
    plan = plan_placement(platform, strict=strict)
    releases = tuple(render_releases(platform, plan))
    workloads = tuple(render_workloads(platform, plan, releases))
    manifests = [
        *render_namespaces(platform, plan),
        *render_karpenter(platform, catalog),
        render_installation(platform, plan),
        render_apiserver(platform, plan),
        render_kube_controllers_configuration(),
        *render_policies(platform, plan),
        *render_pilot_limits(platform, catalog=catalog, workloads=workloads),
        *render_storage_classes(platform),
    ]
    return Bundle(
        manifests=tuple(sorted(manifests, key=apply_rank)),
        releases=releases,
        aws={
            "cluster": render_cluster(platform),
            "fargate-profiles": render_fargate_profiles(platform),
            "node-security-group": render_node_security_group_rules(platform, plan),
            "iam": render_iam(platform),
            "karpenter-infra": render_karpenter_infra(platform),
            "managed-addons": render_managed_addons(platform, plan),
        },
        placement=plan,
        workloads=workloads,
        warnings=tuple(warnings(platform)),
        stacks=render_stacks(platform, plan),
    )


__all__ = ["Bundle", "render"]
