"""EP307: a pod on the overlay reaches VPC IPs (CoreDNS on Fargate, the VPC endpoints of ECR, STS, S3,
the NLBs) only if its IPPool has natOutgoing: the VPC has no route back to the overlay's range, so
unNATed packets are answered into nothing (DNS times out, image pulls by the pod fail).

IPPools come from the Installation (operator.tigera.io/v1 spec.calicoNetwork.ipPools[], natOutgoing
"Enabled"|"Disabled", default Enabled; the platform's own Installation is reported on the spec at
calico.ipPool.natOutgoing) and from IPPool objects (projectcalico.org/v3 or crd.projectcalico.org/v1,
natOutgoing boolean, default false; disabled pools are skipped). A pool counts when an overlay pod can
get its address from it: named in the pod's or its namespace's cni.projectcalico.org/ipv4pools
annotation, or else handed out automatically (not Manual, not disableNewAllocations, allowedUses with
Workload, a nodeSelector that is not `!all()` and, when it is a simple `key == 'value'`, may match a
node of a pool the pod can land on)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from eks_platform.checks.context import CheckContext
from eks_platform.checks.finding import Finding, Severity
from eks_platform.checks.objects import KubeObject, get
from eks_platform.checks.pods import PodTemplate
from eks_platform.checks.rule import Rule
from eks_platform.checks.scheduling import WELL_KNOWN, Pool
from eks_platform.errors import Loc

IPV4POOLS = "cni.projectcalico.org/ipv4pools"
CALICO_GROUPS = ("projectcalico.org", "crd.projectcalico.org")
SPEC_LOC: Loc = ("calico", "ipPool", "natOutgoing")
_EQUALS = re.compile(r"""^\s*([A-Za-z0-9./_-]+)\s*==\s*(?:'([^']*)'|"([^"]*)")\s*$""")


@dataclass(frozen=True)
class _IpPool:
    obj: KubeObject
    path: Loc  # where its natOutgoing is (or would be written)
    name: str
    cidr: str
    nat_outgoing: bool
    automatic: bool  # hands out addresses to pods that name no pool
    node_selector: str

    @property
    def describe(self) -> str:
        if self.obj.kind == "Installation":
            return f"IP pool {self.name} ({self.cidr}) of Installation {self.obj.name}"
        return f"IPPool {self.name} ({self.cidr})"

    @property
    def platforms_own(self) -> bool:
        return self.obj.kind == "Installation" and self.obj.origin.startswith("rendered")


class Ep307OverlayEgressNeedsNatOutgoing(Rule):
    id = "EP307"
    severity = Severity.error
    title = "IPPools that overlay pods use have natOutgoing on, so those pods reach VPC IPs"
    fix = (
        "turn NAT outgoing on for the pool: calico.ipPool.natOutgoing: true in the platform spec, "
        "natOutgoing: Enabled in an Installation's ipPools, natOutgoing: true on an IPPool"
    )
    url = "https://docs.tigera.io/calico/latest/networking/configuring/workloads-outside-cluster"

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        overlay = [t for t in ctx.templates if ctx.where(t).home == "overlay"]
        if not overlay:
            return
        for pool in _ip_pools(ctx):
            if pool.nat_outgoing:
                continue
            users = [t for t in overlay if _uses(ctx, t, pool)]
            if not users:
                continue
            examples = ", ".join(f"{t.owner.kind} {t.namespace}/{t.owner.name}" for t in users[:3])
            more = f" and {len(users) - 3} more" if len(users) > 3 else ""
            message = (
                f"{pool.describe} has NAT outgoing off, and {len(users)} workload(s) on the "
                f"Calico overlay get their IPs from it ({examples}{more}): their packets to VPC IPs leave with "
                "overlay source addresses the VPC cannot route back, so DNS (CoreDNS on Fargate) and the VPC "
                "endpoints time out"
            )
            if pool.platforms_own:
                yield self.on_spec(ctx, SPEC_LOC, message, "set calico.ipPool.natOutgoing: true")
            elif pool.obj.kind == "Installation":
                yield self.on_object(pool.obj, pool.path, message, "set natOutgoing: Enabled on this ipPool")
            else:
                yield self.on_object(pool.obj, pool.path, message, "set spec.natOutgoing: true")


def _ip_pools(ctx: CheckContext) -> Iterator[_IpPool]:
    for installation in ctx.of_kind("Installation"):
        if installation.group != "operator.tigera.io":
            continue
        pools = get(installation.spec, "calicoNetwork", "ipPools")
        for index, pool in enumerate(pools if isinstance(pools, list) else []):
            if isinstance(pool, Mapping) and not _is_ipv6(pool):
                yield _IpPool(
                    obj=installation,
                    path=("spec", "calicoNetwork", "ipPools", index, "natOutgoing"),
                    name=str(pool.get("name") or f"ipPools[{index}]"),
                    cidr=str(pool.get("cidr", "")),
                    nat_outgoing=pool.get("natOutgoing", "Enabled") != "Disabled",
                    automatic=_automatic(pool) and pool.get("disableNewAllocations") is not True,
                    node_selector=str(pool.get("nodeSelector") or "all()"),
                )
    for obj in ctx.of_kind("IPPool"):
        spec = obj.spec
        if obj.group not in CALICO_GROUPS or spec.get("disabled") is True or _is_ipv6(spec):
            continue
        yield _IpPool(
            obj=obj,
            path=("spec", "natOutgoing"),
            name=obj.name,
            cidr=str(spec.get("cidr", "")),
            nat_outgoing=spec.get("natOutgoing") is True,
            automatic=_automatic(spec),
            node_selector=str(spec.get("nodeSelector") or "all()"),
        )


def _is_ipv6(pool: Mapping[str, Any]) -> bool:
    return ":" in str(pool.get("cidr", ""))


def _automatic(pool: Mapping[str, Any]) -> bool:
    uses = pool.get("allowedUses")
    if isinstance(uses, list) and "Workload" not in uses:
        return False
    return pool.get("assignmentMode") != "Manual"


def _uses(ctx: CheckContext, template: PodTemplate, pool: _IpPool) -> bool:
    """Can this overlay pod get its IP from the pool?"""
    named = _requested_pools(ctx, template)
    if named is not None:
        return pool.name in named or pool.cidr in named
    if not pool.automatic:
        return False
    return _selects_nodes_of(ctx, template, pool.node_selector)


def _requested_pools(ctx: CheckContext, template: PodTemplate) -> list[str] | None:
    """The pools (names or CIDRs) named by the pod's, or else its namespace's, ipv4pools annotation."""
    value = template.annotations.get(IPV4POOLS)
    if value is None:
        namespace = next((ns for ns in ctx.of_kind("Namespace") if ns.name == template.namespace), None)
        value = namespace.annotations.get(IPV4POOLS) if namespace is not None else None
    if value is None:
        return None
    try:
        names = json.loads(str(value))
    except ValueError:
        return None
    return [str(name) for name in names] if isinstance(names, list) else None


def _selects_nodes_of(ctx: CheckContext, template: PodTemplate, selector: str) -> bool:
    """Does the pool's nodeSelector take a node the pod can land on? Only `all()`, `!all()` and
    `key == 'value'` are read; any other selector is taken to match."""
    text = selector.strip()
    if text.replace(" ", "") == "!all()":
        return False
    match = _EQUALS.match(text)
    pools = [pool for name in ctx.where(template).pools if (pool := ctx.pool(name)) is not None]
    if match is None or not pools:
        return True
    key, value = match.group(1), match.group(2) if match.group(2) is not None else match.group(3)
    return any(_may_carry(pool, key, value) for pool in pools)


def _may_carry(pool: Pool, key: str, value: str) -> bool:
    """Can a node of this pool carry the label key=value? Its own labels are known; instance and
    well-known labels, and keys its requirements name, may take many values (taken to match)."""
    if key in pool.labels:
        return pool.labels[key] == value
    return key in WELL_KNOWN or any(requirement.get("key") == key for requirement in pool.requirements)
