from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import combinations

from eks_platform.checks.context import CheckContext
from eks_platform.checks.finding import Finding, Severity
from eks_platform.checks.pods import PodTemplate
from eks_platform.checks.rule import Rule
from eks_platform.checks.scheduling import Pool
from eks_platform.errors import Loc
from eks_platform.render.placement import KUBELET_PORT

KUBELET_PORTS = (KUBELET_PORT, 10248)  # 10248: its healthz, on loopback (a host-network bind on it still fails)
OWN_REPLICAS = "its own other replicas"
SPREAD_FIX = "run one replica, give it a pool of more nodes, or run it on Fargate (no host ports there)"


@dataclass(frozen=True)
class Taker:
    """One taker of a host port on a node: a pod template's port field, or the kubelet (template None)."""

    template: PodTemplate | None
    path: Loc = ()

    @property
    def everywhere(self) -> bool:
        return self.template is None or self.template.is_daemonset

    @property
    def name(self) -> str:
        if self.template is None:
            return "the kubelet"
        owner = self.template.owner
        return f"{owner.kind} {owner.namespace}/{owner.name}"


class Ep305HostPortClash(Rule):
    id = "EP305"
    severity = Severity.error
    title = "No two pods that can share a node take the same host port (the kubelet takes 10250 and 10248)"
    fix = "give one of them another port, or run it on Fargate (no host ports there)"
    url = "https://kubernetes.io/docs/concepts/configuration/overview/#services"

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        # a port field -> who else takes that port -> on which pools
        clashes: dict[tuple[Taker, int, str], dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
        for pool in ctx.pools:
            where = f"pool {pool.name}, a single node" if pool.single_node else f"pool {pool.name}"
            for (port, protocol), takers in _host_ports(ctx, pool).items():
                for a, b in combinations(takers, 2):
                    if a.template is not b.template and (a.everywhere or b.everywhere or pool.single_node):
                        for blamed, other in _blame(a, b):
                            clashes[(blamed, port, protocol)][other.name].append(where)
                for taker in takers:
                    if taker.template is not None and _crowded(ctx, taker, pool):
                        clashes[(taker, port, protocol)][OWN_REPLICAS].append(where)
        for (taker, port, protocol), others in clashes.items():
            if taker.template is not None:
                named = " and by ".join(f"{other} ({'; '.join(pools)})" for other, pools in others.items())
                yield self.on_object(
                    taker.template.owner,
                    taker.path,
                    f"host port {port}/{protocol} is taken by {taker.name} and by {named}: "
                    "a node gives it to only one of them, the others cannot start there",
                    SPREAD_FIX if OWN_REPLICAS in others else None,
                )


def _host_ports(ctx: CheckContext, pool: Pool) -> dict[tuple[int, str], list[Taker]]:
    """(port, protocol) -> who takes it on a node of the pool: the kubelet, then every EC2 pod that can land there."""
    ports: dict[tuple[int, str], list[Taker]] = {(port, "TCP"): [Taker(None)] for port in KUBELET_PORTS}
    for template in ctx.templates:
        where = ctx.where(template)
        if where.home == "fargate" or pool.name not in where.pools:
            continue
        for path, port, protocol in template.host_ports():
            ports.setdefault((port, protocol), []).append(Taker(template, path))
    return ports


def _blame(a: Taker, b: Taker) -> list[tuple[Taker, Taker]]:
    """Which side of a clash to report: the user's; else the one not on every node; else both (never the kubelet)."""
    sides = [(s, o) for s, o in ((a, b), (b, a)) if s.template is not None]
    users = [(s, o) for s, o in sides if s.template is not None and s.template.owner.origin == "user"]
    if len(users) == 1:
        return users
    movable = [(s, o) for s, o in sides if not s.everywhere]
    return movable if len(sides) == 2 and len(movable) == 1 else sides


def _crowded(ctx: CheckContext, taker: Taker, pool: Pool) -> bool:
    """Its first host port, when it has more replicas than the single-node pools it can land on have nodes."""
    template = taker.template
    if template is None or template.is_daemonset or not pool.single_node:
        return False
    if taker.path != next((path for path, _, _ in template.host_ports()), None):
        return False
    pools = ctx.where(template).pools
    return template.replicas > len(pools) and all(p.single_node for p in ctx.pools if p.name in pools)
