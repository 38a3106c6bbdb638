"""Where every component runs: the one place placement is decided.

Three homes: Fargate (a VPC IP; no hostNetwork, hostPort, hostPath, DaemonSet or port 10250),
an EC2 node's host network (a VPC IP; a host port unique on that node), or the Calico overlay
on EC2 (nothing on the VPC side can call it). Anything the API server calls must have a VPC IP.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache

from eks_platform.errors import Loc, SpecError, SpecIssue
from eks_platform.render.components import NOT_PLACED_ON_FARGATE, OVERLAY_UNREACHABLE, Component, Port, components
from eks_platform.spec import defaults as d
from eks_platform.spec.model import FargateSelector, Platform, RunsOn

KUBELET_PORT = 10250


@dataclass(frozen=True)
class Placement:
    component: Component
    runs_on: RunsOn
    pools: tuple[str, ...]  # EC2 pools it can land on; empty on Fargate
    ports: tuple[Port, ...]  # effective ports
    pod_labels: Mapping[str, str]
    fargate_profile: str | None

    @property
    def name(self) -> str:
        return self.component.name

    @property
    def network(self) -> str:
        return "VPC" if self.runs_on in ("fargate", "hostNetwork") else "Calico overlay"

    def port(self, role: str) -> Port:
        return next(p for p in self.ports if p.role == role)


@dataclass(frozen=True)
class PortUse:
    port: Port
    owner: str


@dataclass(frozen=True)
class PlacementPlan:
    placements: tuple[Placement, ...]
    ports_by_pool: Mapping[str, tuple[PortUse, ...]]
    refusals: tuple[SpecIssue, ...] = ()  # what a strict plan raises; kept when planned with strict=False

    def of(self, name: str) -> Placement:
        return next(p for p in self.placements if p.component.name == name)

    def get(self, name: str) -> Placement | None:
        return next((p for p in self.placements if p.component.name == name), None)


def owner_loc(component: Component) -> Loc:
    return tuple(component.owner.split("."))


def port_loc(component: Component) -> Loc:
    """The spec key that moves the component's served port."""
    if component.owner == "calico":
        return ("calico", "apiServerPort")
    return (*owner_loc(component), "port")


def replicas_refusal(component: Component) -> tuple[Loc, str]:
    """Where to point, and what to say, when its host-network replicas cannot share one node."""
    if component.owner == "calico":
        return ("calico", "controlPlaneReplicas"), "set calico.controlPlaneReplicas: 1 (the add-ons pool is one node)"
    if "fargate" in component.allowed:
        return (*owner_loc(component), "runsOn"), "run it on Fargate (runsOn: fargate)"
    return (*owner_loc(component), "pool"), "give it a pool of more than one node"


def pool_names(platform: Platform) -> list[str]:
    return [p.name for p in platform.karpenter.provisioners] + [f"pilot-{p.name}" for p in platform.pilots]


def plan_placement(platform: Platform, *, strict: bool = True) -> PlacementPlan:
    """Decide every component's home and host ports; raise SpecError with every refusal.

    strict=False keeps the refusals in the plan instead (for `eksp check`, which reports them as findings
    and checks what the spec asks for as it is)."""
    issues: list[SpecIssue] = []
    placements = [_place(component, platform, issues) for component in components(platform)]
    issues += list(_fargate_mismatches(placements, platform))
    ports_by_pool = _port_plan(placements, platform, issues)
    if issues and strict:
        raise SpecError(issues)
    return PlacementPlan(placements=tuple(placements), ports_by_pool=ports_by_pool, refusals=tuple(issues))


# --- one component -------------------------------------------------------------------------------


def _requested(component: Component, platform: Platform) -> tuple[RunsOn | None, int | None, str]:
    """(runsOn, port, pool) the spec asks for this component."""
    owner = component.owner
    if owner.startswith("addons."):
        addon = platform.addons.by_key(owner.split(".", 1)[1])
        if component.name in _MAIN_COMPONENTS:
            return addon.runs_on, addon.port, addon.pool
        return None, None, addon.pool
    if owner == "karpenter":
        return platform.karpenter.runs_on, None, platform.karpenter.pool
    if owner == "calico":
        port = platform.calico.api_server_port if component.movable_port else None
        return None, port, platform.calico.pool
    return None, None, d.ADDONS_POOL


_MAIN_COMPONENTS = frozenset(
    {
        "efs-csi-controller",
        "ingress-nginx-controller",
        "kubernetes-replicator",
        "kubecost",
        "metrics-server",
        "prometheus-operator",
        "grafana",
        "loki",
    }
)


def _place(component: Component, platform: Platform, issues: list[SpecIssue]) -> Placement:
    runs_on_request, port_request, pool = _requested(component, platform)
    runs_on = runs_on_request or component.default
    loc = owner_loc(component)
    if runs_on not in component.allowed:
        reason = component.why_not.get(runs_on) or (OVERLAY_UNREACHABLE if component.api_server_calls else "")
        options = " or ".join(sorted(component.allowed))
        issues.append(
            SpecIssue(
                loc=(*loc, "runsOn"),
                message=f"{component.name} cannot run on {runs_on}: {reason}",
                fix=f"use runsOn: {options}",
            )
        )
        runs_on = component.default
    default_port = next((p.number for p in component.ports if p.role == component.movable_port), None)
    ports = component.ports
    if port_request is not None and component.movable_port:
        ports = tuple(replace(p, number=port_request) if p.role == component.movable_port else p for p in ports)
    suggested = default_port if default_port not in (None, KUBELET_PORT) else d.METRICS_SERVER_PORT
    if runs_on == "fargate":
        for port in ports:
            if port.number == KUBELET_PORT:
                issues.append(
                    SpecIssue(
                        loc=port_loc(component),
                        message=f"{component.name} would serve on {KUBELET_PORT}, "
                        "the port Fargate reserves for its own kubelet",
                        fix=f"use another port, e.g. {port_loc(component)[-1]}: {suggested}",
                    )
                )
    labels = dict(component.pod_labels)
    if runs_on == "fargate" and component.can_label_for_fargate:
        labels[d.FARGATE_POD_LABEL] = d.FARGATE_POD_LABEL_VALUE
    pools: tuple[str, ...] = ()
    if runs_on != "fargate":
        if component.workload == "DaemonSet":
            pools = tuple(pool_names(platform))
        elif component.tolerates_all_pools:
            pools = tuple(p.name for p in platform.karpenter.provisioners)
        else:
            pools = (pool,)
    return Placement(
        component=component,
        runs_on=runs_on,
        pools=pools,
        ports=ports,
        pod_labels=labels,
        fargate_profile=None,
    )


# --- Fargate profiles ----------------------------------------------------------------------------


@lru_cache(maxsize=256)
def _wildcard(pattern: str) -> re.Pattern[str]:
    return re.compile("^" + re.escape(pattern).replace(r"\*", ".*").replace(r"\?", ".") + "$")


def selector_matches(selector: FargateSelector, *, namespace: str, labels: Mapping[str, str]) -> bool:
    """EKS's rule: the namespace matches (wildcards * and ?) and the pod has every selector label."""
    if not _wildcard(selector.namespace).match(namespace):
        return False
    return all(
        any(_wildcard(key).match(k) and _wildcard(value).match(v) for k, v in labels.items())
        for key, value in selector.labels.items()
    )


def matching_profile(platform: Platform, *, namespace: str, labels: Mapping[str, str]) -> tuple[str, Loc] | None:
    """The profile EKS would pick (names sorted, first wins) and the selector's location."""
    for index, profile in sorted(enumerate(platform.fargate.profiles), key=lambda item: item[1].name):
        for s_index, selector in enumerate(profile.selectors):
            if selector_matches(selector, namespace=namespace, labels=labels):
                return profile.name, ("fargate", "profiles", index, "selectors", s_index)
    return None


def _fargate_mismatches(placements: list[Placement], platform: Platform) -> Iterator[SpecIssue]:
    for index, placement in enumerate(placements):
        component = placement.component
        match = matching_profile(platform, namespace=component.namespace, labels=placement.pod_labels)
        if placement.runs_on == "fargate":
            if match is None:
                wanted = (
                    dict(placement.pod_labels)
                    if not component.can_label_for_fargate
                    else {d.FARGATE_POD_LABEL: d.FARGATE_POD_LABEL_VALUE}
                )
                yield SpecIssue(
                    loc=("fargate", "profiles"),
                    message=f"{component.name} is placed on Fargate, but no Fargate profile selects its pods "
                    f"(namespace {component.namespace}, labels {_labels(placement.pod_labels)}); it would stay Pending",
                    fix=f"add a selector {{namespace: {component.namespace}, labels: {_labels(wanted)}}}",
                )
            else:
                placements[index] = replace(placement, fargate_profile=match[0])
        elif match is not None:
            reason = component.why_not.get("fargate") or f"it is placed on {placement.runs_on}"
            yield SpecIssue(
                loc=match[1],
                message=f"selects {component.name} (namespace {component.namespace}), "
                f"which {'eks-platform does not place' if reason == NOT_PLACED_ON_FARGATE else 'must not run'} "
                f"on Fargate: {reason}",
                fix=f"add labels {{{d.FARGATE_POD_LABEL}: {d.FARGATE_POD_LABEL_VALUE}}} so the selector picks only "
                "the pods eks-platform places on Fargate",
            )


def _labels(labels: Mapping[str, str]) -> str:
    return "{" + ", ".join(f"{k}: {v}" for k, v in sorted(labels.items())) + "}"


# --- host ports ----------------------------------------------------------------------------------


def _port_plan(
    placements: Sequence[Placement], platform: Platform, issues: list[SpecIssue]
) -> dict[str, tuple[PortUse, ...]]:
    single_node = {p.name for p in platform.karpenter.provisioners if p.single_node} | {
        f"pilot-{p.name}" for p in platform.pilots
    }
    plan: dict[str, list[PortUse]] = {
        pool: [PortUse(Port("kubelet", KUBELET_PORT, called_by_api_server=True), "kubelet")]
        for pool in pool_names(platform)
    }
    for placement in placements:
        if placement.runs_on != "hostNetwork":
            continue
        component = placement.component
        for pool in placement.pools:
            if pool not in plan:
                continue
            for port in placement.ports:
                clash = next(
                    (
                        use
                        for use in plan[pool]
                        if use.port.number == port.number and use.port.protocol == port.protocol
                    ),
                    None,
                )
                if clash is not None:
                    moved = port.role == component.movable_port
                    issues.append(
                        SpecIssue(
                            loc=port_loc(component) if moved else (*owner_loc(component), "runsOn"),
                            message=f"{component.name} needs host port {port.number}/{port.protocol} on pool {pool}, "
                            f"which {clash.owner} already uses",
                            fix="choose a free port" if moved else "run it on Fargate, or move the other one's port",
                        )
                    )
                    continue
                plan[pool].append(PortUse(port, component.name))
        if component.workload != "DaemonSet" and not component.tolerates_all_pools and component.replicas > 1:
            crowded = [pool for pool in placement.pools if pool in single_node]
            if crowded and placement.ports:
                replicas_loc, replicas_fix = replicas_refusal(component)
                issues.append(
                    SpecIssue(
                        loc=replicas_loc,
                        message=f"{component.replicas} replicas of {component.name} use host port "
                        f"{placement.ports[0].number} on the single node of pool {crowded[0]}: only one can start",
                        fix=replicas_fix,
                    )
                )
    return {pool: tuple(sorted(uses, key=lambda u: (u.port.number, u.port.protocol))) for pool, uses in plan.items()}
