"""EP106: the API server reaches a host-network backend on an EC2 node through the node security
group, which opens only the ports the platform knows of. A webhook, conversion webhook or APIService
served in the host network needs an ingress rule from the cluster security group for the port the
pod listens on; without it the call times out (calico#7555: "the server is currently unable to handle
the request"). Fargate backends use the cluster security group and are not concerned."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from eks_platform.checks.context import CheckContext
from eks_platform.checks.finding import Finding, Severity
from eks_platform.checks.pods import PodTemplate
from eks_platform.checks.rule import Rule
from eks_platform.checks.rules.reachability_common import ApiServerCall, api_server_calls, listening_port, service_port
from eks_platform.errors import Loc

API_SERVER_SOURCE = "clusterSecurityGroup"


class Ep106NodeSgAllowsApiServerPorts(Rule):
    id = "EP106"
    severity = Severity.error
    title = "The node security group admits the API server on every host port of a webhook or APIService"
    fix = "add the port to cluster.apiServerNodePorts (opens it in the node security group from the cluster's)"
    url = "https://github.com/projectcalico/calico/issues/7555"

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        ingress = _ingress_rules(ctx)
        closed: dict[tuple[int, int], _ClosedPort] = {}  # (workload, port) -> who calls it there
        for call in api_server_calls(ctx):
            service = ctx.services.get((call.namespace, call.name))
            entry = service_port(service, call.port) if service is not None else None
            if entry is None:
                continue  # the reference resolves to no Service port: not this rule's finding
            for template in ctx.backends(call.namespace, call.name) or []:
                if ctx.where(template).home != "hostNetwork":
                    continue
                port = listening_port(template, entry)
                if port is None or port.protocol != "TCP" or _allowed(ingress, port.number):
                    continue
                path = port.path or template.spec_path("hostNetwork")
                item = closed.setdefault((id(template.owner), port.number), _ClosedPort(template, port.number, path))
                item.calls.append(call)
        for item in closed.values():
            callers = "; ".join(call.caller for call in item.calls)
            yield self.on_object(
                item.template.owner,
                item.path,
                f"the API server calls this pod, {ctx.where(item.template).describe}, on tcp/{item.number} for "
                f"{callers}; no node security group rule from the cluster security group admits tcp/{item.number}, "
                "so the calls time out",
                f"add {item.number} to cluster.apiServerNodePorts (opens tcp/{item.number} in the node security "
                "group from the cluster security group)",
            )


@dataclass(frozen=True)
class _ClosedPort:
    template: PodTemplate
    number: int
    path: Loc
    calls: list[ApiServerCall] = field(default_factory=list)


def _ingress_rules(ctx: CheckContext) -> list[Mapping[str, Any]]:
    group = ctx.bundle.aws.get("node-security-group")
    rules = group.get("ingress") if isinstance(group, Mapping) else None
    return [rule for rule in rules if isinstance(rule, Mapping)] if isinstance(rules, list) else []


def _allowed(ingress: list[Mapping[str, Any]], port: int) -> bool:
    """Does a rule from the cluster security group admit tcp/port? (Protocol -1 is every port.)"""
    for rule in ingress:
        protocol = str(rule.get("protocol", "")).lower()
        if rule.get("source") != API_SERVER_SOURCE or protocol not in ("tcp", "6", "-1"):
            continue
        low, high = rule.get("fromPort"), rule.get("toPort")
        if protocol == "-1" or (isinstance(low, int) and isinstance(high, int) and low <= port <= high):
            return True
    return False
