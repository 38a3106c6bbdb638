from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from eks_platform.checks.context import CheckContext
from eks_platform.checks.finding import Finding, Severity
from eks_platform.checks.pods import PodTemplate
from eks_platform.checks.rule import Rule
from eks_platform.checks.rules.fargate_common import fargate_pods, workload
from eks_platform.errors import Loc
from eks_platform.render.placement import KUBELET_PORT

# A listening flag: --secure-port, --port, --web.listen-address, --listen-address, --bind-address, ...
# (not --kubelet-port and the like: those name the port of the kubelet the process calls)
_FLAG = r"--?(?![\w.-]*kubelet)[\w.-]*(?:port|listen|addr|bind)[\w.-]*"
_VALUE = rf"(?:\S*:)?{KUBELET_PORT}"
_FLAG_WITH_VALUE = re.compile(rf"^{_FLAG}={_VALUE}$", re.IGNORECASE)
_FLAG_ALONE = re.compile(rf"^{_FLAG}$", re.IGNORECASE)
_VALUE_ALONE = re.compile(rf"^{_VALUE}$")


class Ep203FargateKubeletPort(Rule):
    id = "EP203"
    severity = Severity.error
    title = f"Pods on Fargate do not serve on {KUBELET_PORT}, the port of the Fargate node's own kubelet"
    fix = (
        "serve on another port: metrics-server 10251 (chart value containerPort), prometheus-operator 10260 "
        "(prometheusOperator.tls.internalPort); change the flag and the containerPort together"
    )
    url = "https://docs.aws.amazon.com/eks/latest/userguide/metrics-server.html"

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        for template in fargate_pods(ctx):
            for path, what in kubelet_port_fields(template):
                yield self.on_object(
                    template.owner,
                    path,
                    f"{workload(template)} runs on Fargate and {what}: a Fargate pod shares its IP with the "
                    f"Fargate node, whose kubelet already listens on {KUBELET_PORT} (bind: address already in use)",
                )


def kubelet_port_fields(template: PodTemplate) -> Iterator[tuple[Loc, str]]:
    for path, port in template.ports():
        if port.get("containerPort") == KUBELET_PORT:
            yield (*path, "containerPort"), f"declares containerPort {KUBELET_PORT}"
    for path, container in template.containers():
        for field in ("command", "args"):
            for index, flag in _listening_args(container.get(field)):
                yield (*path, field, index), f"listens on {KUBELET_PORT} ({flag})"


def _listening_args(args: Any) -> Iterator[tuple[int, str]]:
    """(index, text) of the arguments that make a process listen on the kubelet port."""
    if not isinstance(args, list):
        return
    text = [str(arg) if isinstance(arg, (str, int)) else "" for arg in args]
    for index, arg in enumerate(text):
        value = text[index + 1] if index + 1 < len(text) else ""
        if _FLAG_WITH_VALUE.match(arg):
            yield index, arg
        elif _FLAG_ALONE.match(arg) and _VALUE_ALONE.match(value):
            yield index, f"{arg} {value}"
