"""Shared by the node-fit rules (EP501-EP503): what the one node of a single-node pool can hold
(Karpenter's allocatable for its instance type, AMI family and kubelet settings) and what the pods
that land there request (Kubernetes' PodRequests, summed over replicas and DaemonSets).

A pod template counts when it is pinned to the pool (its selectors and tolerations allow that pool
and no other), times its replicas; a DaemonSet counts one pod when its pod can land on the pool.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any, cast

from eks_platform.checks.context import CheckContext
from eks_platform.checks.objects import KubeObject, get
from eks_platform.checks.pods import PodTemplate
from eks_platform.checks.scheduling import Pool
from eks_platform.errors import Loc
from eks_platform.plan.allocatable import (
    AMI_FAMILIES,
    ZERO,
    AmiFamily,
    KarpenterApi,
    Reservations,
    Resources,
    allocatable,
    format_memory,
    parse_cpu_m,
    parse_memory_mi,
)
from eks_platform.spec.instance_catalog import InstanceType

INSTANCE_TYPE_LABEL = "node.kubernetes.io/instance-type"
DEFAULT_AMI_FAMILY: dict[str, AmiFamily] = {"v1": "AL2023", "v1alpha5": "AL2"}
# v1 amiSelectorTerms aliases (family@version) and the family each selects.
_ALIASES: dict[str, AmiFamily] = {
    "al2": "AL2",
    "al2023": "AL2023",
    "bottlerocket": "Bottlerocket",
    "windows2019": "Windows2019",
    "windows2022": "Windows2022",
}
REQUESTED = ("cpu", "memory")


# --- one pod ---------------------------------------------------------------------------------------


def _container_requests(container: Mapping[str, Any]) -> Resources:
    """A container's requests; a resource with only a limit requests its limit (API-server defaulting)."""
    requests = get(container, "resources", "requests")
    limits = get(container, "resources", "limits")

    def value(resource: str) -> Any:
        for source in (requests, limits):
            if isinstance(source, Mapping) and source.get(resource) is not None:
                return source[resource]
        return None

    return Resources(cpu_m=parse_cpu_m(value("cpu")) or 0, memory_mi=parse_memory_mi(value("memory")) or 0, pods=0)


def pod_requests(template: PodTemplate) -> Resources:
    """Kubernetes' PodRequests: per resource, the larger of (containers + sidecars) and the peak of the
    init phase (each init container plus the sidecars started before it), plus the pod overhead; pods: 1."""
    containers = ZERO
    for _, container in template.containers(init=False):
        containers += _container_requests(container)
    sidecars, init_peak = ZERO, ZERO
    items = template.spec.get("initContainers")
    for container in items if isinstance(items, list) else []:
        if not isinstance(container, Mapping):
            continue
        requests = _container_requests(container)
        if container.get("restartPolicy") == "Always":  # a sidecar: runs beside the containers
            sidecars += requests
            init_peak = init_peak.max(sidecars)
        else:
            init_peak = init_peak.max(sidecars + requests)
    overhead = template.spec.get("overhead")
    extra = _container_requests({"resources": {"requests": overhead}}) if isinstance(overhead, Mapping) else ZERO
    return (containers + sidecars).max(init_peak) + extra + Resources(0, 0, 1)


_PARSERS = {"cpu": parse_cpu_m, "memory": parse_memory_mi}


def unset_requests(template: PodTemplate) -> Iterator[tuple[Loc, str, list[str]]]:
    """(path, container name, resources) of every container whose cpu or memory request is missing (a limit
    alone counts: the API server copies it) or is not a quantity: the fit check counts those as zero."""
    for path, container in template.containers():
        missing = []
        for resource in REQUESTED:
            value = get(container, "resources", "requests", resource)
            if value is None:
                value = get(container, "resources", "limits", resource)
            if value is None:
                missing.append(resource)
            elif _PARSERS[resource](value) is None:
                missing.append(f"{resource} (not a quantity: {value!r})")
        if missing:
            yield path, str(container.get("name", "")), missing


# --- the pool's node --------------------------------------------------------------------------------


def node_class(ctx: CheckContext, pool: Pool) -> KubeObject | None:
    """The pool's EC2NodeClass (v1) or AWSNodeTemplate (v1alpha5), when it is among the objects."""
    kind = "EC2NodeClass" if pool.api == "v1" else "AWSNodeTemplate"
    return next((obj for obj in ctx.of_kind(kind) if obj.name == pool.node_class), None)


def ami_family(ctx: CheckContext, pool: Pool) -> AmiFamily:
    """v1: the EC2NodeClass's amiSelectorTerms alias (bottlerocket@latest -> Bottlerocket), else its amiFamily;
    v1alpha5: the AWSNodeTemplate's (or the inline provider's) amiFamily. Default AL2023 (v1) / AL2 (v1alpha5)."""
    found = node_class(ctx, pool)
    spec: Mapping[str, Any] = found.spec if found is not None else {}
    if pool.api == "v1":
        terms = spec.get("amiSelectorTerms")
        for term in terms if isinstance(terms, list) else []:
            alias = get(term, "alias")
            if isinstance(alias, str) and alias.partition("@")[0].lower() in _ALIASES:
                return _ALIASES[alias.partition("@")[0].lower()]
    elif found is None:
        spec = get(pool.obj.spec, "provider") or {}
    family = spec.get("amiFamily")
    if isinstance(family, str) and family in AMI_FAMILIES:
        return cast(AmiFamily, family)
    return DEFAULT_AMI_FAMILY[pool.api]


def kubelet(ctx: CheckContext, pool: Pool) -> tuple[Mapping[str, Any], str]:
    """The kubelet settings Karpenter applies to the pool's nodes, and where they are written."""
    if pool.api == "v1":
        found = node_class(ctx, pool)
        settings = get(found.doc, "spec", "kubelet") if found is not None else None
        where = f"EC2NodeClass {pool.node_class} spec.kubelet"
    else:
        settings = get(pool.obj.doc, "spec", "kubeletConfiguration")
        where = f"Provisioner {pool.name} spec.kubeletConfiguration"
    return (settings if isinstance(settings, Mapping) else {}), where


@dataclass(frozen=True)
class Node:
    """The one node of a single-node pool: its instance type and what shapes its allocatable."""

    instance_type: InstanceType
    ami_family: AmiFamily
    max_pods: int | None
    reservations: Reservations
    api: KarpenterApi
    kubelet_path: str  # where maxPods and the reservations are written, for a fix

    def allocatable(self, instance_type: InstanceType | None = None) -> Resources:
        return allocatable(
            instance_type or self.instance_type,
            ami_family=self.ami_family,
            max_pods=self.max_pods,
            reservations=self.reservations,
            karpenter_api=self.api,
        )

    @property
    def describe(self) -> str:
        pods = f"maxPods {self.max_pods}" if self.max_pods is not None else "ENI-limited pods"
        return f"{self.instance_type.name} ({self.ami_family}, {pods})"


def node_of(ctx: CheckContext, pool: Pool, instance_type: InstanceType) -> Node:
    settings, where = kubelet(ctx, pool)
    max_pods = settings.get("maxPods")
    return Node(
        instance_type=instance_type,
        ami_family=ami_family(ctx, pool),
        max_pods=max_pods if isinstance(max_pods, int) and not isinstance(max_pods, bool) else None,
        reservations=Reservations.from_kubelet(settings),
        api="v1alpha5" if pool.api == "v1alpha5" else "v1",
        kubelet_path=where,
    )


# --- what lands on it ---------------------------------------------------------------------------------


def counted_on(ctx: CheckContext, template: PodTemplate) -> tuple[str, ...]:
    """The pools whose node the fit check charges with this template's pods: every pool a DaemonSet's pod
    can land on; for other pods, the one pool they are pinned to (none when several pools could take them)."""
    pools = ctx.where(template).pools
    return pools if template.is_daemonset or len(pools) == 1 else ()


@dataclass(frozen=True)
class Share:
    """What one pod template asks of the node: `count` pods of `pod` each."""

    template: PodTemplate
    pod: Resources
    count: int

    @property
    def total(self) -> Resources:
        return self.pod * self.count

    @property
    def describe(self) -> str:
        owner = self.template.owner
        each = f"{self.pod.cpu_m}m/{format_memory(self.pod.memory_mi)}"
        return f"{owner.kind} {owner.namespace}/{owner.name} {self.count}×{each}"


@dataclass(frozen=True, eq=False)
class PoolFit:
    pool: Pool
    node: Node
    shares: tuple[Share, ...]

    @cached_property
    def allocatable(self) -> Resources:
        return self.node.allocatable()

    @cached_property
    def requested(self) -> Resources:
        total = ZERO
        for share in self.shares:
            total += share.total
        return total

    @property
    def headroom(self) -> Resources:
        return self.allocatable - self.requested

    @property
    def fits(self) -> bool:
        return self.requested.fits_in(self.allocatable)

    @property
    def path(self) -> Loc:
        """The pool's instance-type requirement (where a bigger type goes), else its requirements."""
        requirements = get(self.pool.obj.doc, *self.pool.requirements_path)
        for index, requirement in enumerate(requirements if isinstance(requirements, list) else []):
            if get(requirement, "key") == INSTANCE_TYPE_LABEL:
                return (*self.pool.requirements_path, index)
        return self.pool.requirements_path

    @property
    def figures(self) -> str:
        """'7910m/28745Mi/110 allocatable, 1860m/4.6Gi/15 requested'."""
        a, r = self.allocatable, self.requested
        return (
            f"{a.cpu_m}m/{a.memory_mi}Mi/{a.pods} allocatable, "
            f"{r.cpu_m}m/{format_memory(r.memory_mi)}/{r.pods} requested"
        )


def pool_fits(ctx: CheckContext) -> Iterator[PoolFit]:
    """Every single-node pool that allows exactly one catalog instance type, with what lands on it."""
    for pool in ctx.pools:
        if not pool.single_node or len(pool.instance_types) != 1:
            continue
        on_pool = [t for t in ctx.templates if pool.name in counted_on(ctx, t)]
        shares = [Share(t, pod_requests(t), t.replicas) for t in on_pool if not t.is_daemonset]
        shares += [Share(t, pod_requests(t), 1) for t in on_pool if t.is_daemonset]
        yield PoolFit(pool=pool, node=node_of(ctx, pool, pool.instance_types[0]), shares=tuple(shares))


def bigger_type(ctx: CheckContext, fit: PoolFit) -> InstanceType | None:
    """A catalog type at least as big as the pool's in cpu and memory (same architecture, no GPU, not metal)
    whose allocatable, with the same AMI family and kubelet settings, holds what the pool asks for: the
    cheapest of the same family, else of the same category, else of any."""
    current = fit.node.instance_type
    candidates = [
        t
        for t in ctx.catalog.types.values()
        if t.architecture == current.architecture
        and t.vcpu >= current.vcpu
        and t.memory_mib >= current.memory_mib
        and not t.bare_metal
        and t.gpu_count == 0
        and t.price_per_hour_us_east_1 is not None
        and t.name != current.name
        and fit.requested.fits_in(fit.node.allocatable(t))
    ]
    if not candidates:
        return None
    return min(
        candidates,
        key=lambda t: (t.family != current.family, t.category != current.category, t.price_per_hour_us_east_1, t.name),
    )


def where_instance_type_is_set(ctx: CheckContext, pool: Pool) -> str:
    """For a fix: the spec field that sets a platform pool's instance type, else the pool's requirement."""
    if pool.obj.origin.startswith("rendered"):
        for index, pilot in enumerate(ctx.platform.pilots):
            if pool.name == f"pilot-{pilot.name}":
                return f"platform.yaml pilots[{index}].instanceType"
        for index, provisioner in enumerate(ctx.platform.karpenter.provisioners):
            if provisioner.name == pool.name:
                return f"platform.yaml karpenter.provisioners[{index}].requirements"
    return f"{pool.obj.kind} {pool.name} {INSTANCE_TYPE_LABEL} requirement"
