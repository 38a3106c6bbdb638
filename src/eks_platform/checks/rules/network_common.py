"""What the network and security rules share: the Calico IPPools among the objects (the Installation's
and IPPool objects), the spec's own networks, CIDR helpers, and the namespaces the platform owns.

Facts: shared/facts/calico-and-addons.md §1b. An Installation pool's blockSize defaults to 26 (IPv4) and
the operator copies it into an IPPool object of the same name; natOutgoing is a string
(Enabled/Disabled) in the Installation and a boolean in an IPPool.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from ipaddress import IPv4Network, IPv6Network, ip_network

from eks_platform.checks.context import CheckContext
from eks_platform.checks.finding import Finding
from eks_platform.checks.objects import KubeObject, get
from eks_platform.checks.rule import Rule
from eks_platform.errors import Loc
from eks_platform.spec.model import Platform

Network = IPv4Network | IPv6Network

CALICO_GROUPS = frozenset({"projectcalico.org", "crd.projectcalico.org"})
DEFAULT_BLOCK_SIZE = {4: 26, 6: 122}
SPEC_POOL_LOC: Loc = ("calico", "ipPool", "cidr")
# Namespaces of Kubernetes itself: no application runs there, and a default deny would cut off the cluster.
SYSTEM_NAMESPACES = frozenset({"kube-system", "kube-public", "kube-node-lease"})
# Created by the tigera-operator (not in the placement plan as such when a component is disabled).
CALICO_NAMESPACES = frozenset({"tigera-operator", "calico-system", "calico-apiserver"})


def parse_cidr(value: object) -> Network | None:
    """'10.0.0.0/16' -> the network (host bits ignored, as Calico does); None when it is not a CIDR."""
    if not isinstance(value, str):
        return None
    try:
        return ip_network(value.strip(), strict=False)
    except ValueError:
        return None


def overlaps(a: Network, b: Network) -> bool:
    if isinstance(a, IPv4Network) and isinstance(b, IPv4Network):
        return a.overlaps(b)
    if isinstance(a, IPv6Network) and isinstance(b, IPv6Network):
        return a.overlaps(b)
    return False


@dataclass(frozen=True)
class SpecNetwork:
    """A network the spec names: the VPC, the service range, a VPN range, a peered VPC."""

    what: str  # "the VPC CIDR", "peered VPC jenkins-tooling", ...
    loc: Loc
    cidr: IPv4Network


def spec_networks(platform: Platform) -> list[SpecNetwork]:
    cluster = platform.cluster
    access = cluster.endpoint_access
    found = [
        SpecNetwork("the VPC CIDR", ("cluster", "vpc", "cidr"), cluster.vpc.cidr),
        SpecNetwork("the service CIDR", ("cluster", "serviceCidr"), cluster.service_cidr),
    ]
    found += [
        SpecNetwork("the VPN CIDR", ("cluster", "endpointAccess", "vpnCidrs", i), cidr)
        for i, cidr in enumerate(access.vpn_cidrs)
    ]
    found += [
        SpecNetwork(f"peered VPC {peer.name}", ("cluster", "endpointAccess", "peeredVpcs", i, "cidr"), peer.cidr)
        for i, peer in enumerate(access.peered_vpcs)
    ]
    return found


@dataclass(frozen=True)
class IpPool:
    """One Calico IPPool: an entry of the Installation's spec.calicoNetwork.ipPools, or an IPPool object."""

    obj: KubeObject
    path: Loc  # where its cidr is written in obj
    name: str
    cidr: Network
    block_size: int
    allocates: bool  # hands out pod addresses (not disabled, not closed to new allocations, used by workloads)

    @property
    def platform_owned(self) -> bool:
        """The pool eks-platform renders from calico.ipPool (its findings go on the spec)."""
        return self.obj.origin.startswith("rendered")

    @property
    def describe(self) -> str:
        if self.platform_owned:
            return f"the platform's IPPool {self.name} ({self.cidr})"
        if self.obj.kind == "IPPool":
            return f"IPPool {self.name} ({self.cidr})"
        return f"the pool {self.name or '(unnamed)'} ({self.cidr}) of Installation {self.obj.name}"

    @property
    def blocks(self) -> int:
        """How many blocks of its blockSize the pool holds (0 when the pool is smaller than a block)."""
        bits = self.block_size - self.cidr.prefixlen
        return 2**bits if bits >= 0 else 0

    @property
    def block_addresses(self) -> int:
        return int(2 ** (self.cidr.max_prefixlen - self.block_size))


def ip_pools(objects: Iterable[KubeObject]) -> list[IpPool]:
    """Every IPPool, in object order. An IPPool object with the name and CIDR of an Installation pool is the
    operator's copy of it (e.g. `kubectl get ippools` of a running cluster): it is the same pool, kept once."""
    from_installations: list[IpPool] = []
    from_objects: list[IpPool] = []
    for obj in objects:
        if obj.kind == "Installation" and obj.group == "operator.tigera.io":
            entries = get(obj.doc, "spec", "calicoNetwork", "ipPools")
            for index, entry in enumerate(entries if isinstance(entries, list) else []):
                pool = _pool(obj, ("spec", "calicoNetwork", "ipPools", index), entry, installation=True)
                if pool is not None:
                    from_installations.append(pool)
        elif obj.kind == "IPPool" and obj.group in CALICO_GROUPS:
            pool = _pool(obj, ("spec",), obj.spec, installation=False)
            if pool is not None:
                from_objects.append(pool)
    copies = {(pool.name, pool.cidr) for pool in from_installations}
    return from_installations + [pool for pool in from_objects if (pool.name, pool.cidr) not in copies]


def _pool(obj: KubeObject, at: Loc, entry: object, *, installation: bool) -> IpPool | None:
    if not isinstance(entry, dict):
        return None
    cidr = parse_cidr(entry.get("cidr"))
    if cidr is None:
        return None
    block_size = entry.get("blockSize")
    if not isinstance(block_size, int) or isinstance(block_size, bool):
        block_size = DEFAULT_BLOCK_SIZE[cidr.version]
    if installation:
        name = str(entry.get("name") or "")
        closed = entry.get("disableNewAllocations") is True
    else:
        name = obj.name
        closed = entry.get("disabled") is True or entry.get("disableNewAllocations") is True
    uses = entry.get("allowedUses")
    for_workloads = not isinstance(uses, list) or not uses or "Workload" in uses
    return IpPool(
        obj=obj,
        path=(*at, "cidr"),
        name=name,
        cidr=cidr,
        block_size=block_size,
        allocates=for_workloads and not closed,
    )


def on_pool(rule: Rule, ctx: CheckContext, *, pool: IpPool, message: str, fix: str | None = None) -> Finding:
    """A finding about a pool: on the spec (calico.ipPool.cidr) for the platform's own, else on its object."""
    if pool.platform_owned:
        return rule.on_spec(ctx, SPEC_POOL_LOC, message, fix)
    return rule.on_object(pool.obj, pool.path, message, fix)


def platform_namespaces(ctx: CheckContext) -> frozenset[str]:
    """Namespaces of the platform's own components and Helm releases (not application namespaces)."""
    names = {placement.component.namespace for placement in ctx.bundle.placement.placements}
    names |= {release.namespace for release in ctx.bundle.releases}
    names |= CALICO_NAMESPACES | {ctx.platform.karpenter.namespace}
    return frozenset(names)


def join(items: Sequence[str]) -> str:
    """['a'] -> 'a'; ['a', 'b', 'c'] -> 'a, b and c'."""
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def unique(findings: Iterable[Finding]) -> Iterator[Finding]:
    """Each (object, path) once: several rendered objects can come from one spec key."""
    seen: set[tuple[str, str, str]] = set()
    for finding in findings:
        if finding.key not in seen:
            seen.add(finding.key)
            yield finding
