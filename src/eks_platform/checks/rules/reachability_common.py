"""Shared by the reachability rules (EP106, EP301-EP307): the pods behind a Service that sit on the
overlay, what the API server calls, how a Service port resolves to the port a pod listens on,
load-balancer target modes, and Service names written in a container's env, args and command."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from eks_platform.checks.context import CheckContext
from eks_platform.checks.objects import KubeObject, get
from eks_platform.checks.pods import PodTemplate
from eks_platform.errors import Loc

WEBHOOK_KINDS = ("ValidatingWebhookConfiguration", "MutatingWebhookConfiguration")
DEFAULT_SERVICE_PORT = 443  # webhook, conversion webhook and APIService references


# --- what the API server calls ------------------------------------------------------------------


@dataclass(frozen=True)
class ApiServerCall:
    """One Service the API server calls: who names it, where, and the Service reference itself."""

    obj: KubeObject
    path: Loc  # the `service` reference in obj
    caller: str  # e.g. "webhook check.example.com of ValidatingWebhookConfiguration policy", "APIService v1.x.io"
    service: Mapping[str, Any]  # {namespace, name, port}

    @property
    def namespace(self) -> str:
        return str(self.service.get("namespace") or "default")

    @property
    def name(self) -> str:
        return str(self.service.get("name", ""))

    @property
    def port(self) -> int:
        port = self.service.get("port")
        return port if isinstance(port, int) else DEFAULT_SERVICE_PORT

    @property
    def target(self) -> str:
        return f"{self.namespace}/{self.name}"


def overlay_backends(ctx: CheckContext, service: Mapping[str, Any]) -> list[PodTemplate]:
    """The pod templates behind a Service reference whose pods are on the Calico overlay."""
    namespace = str(service.get("namespace") or "default")
    backends = ctx.backends(namespace, str(service.get("name", "")))
    return [template for template in backends or [] if not ctx.where(template).on_vpc]


def webhook_calls(ctx: CheckContext) -> Iterator[ApiServerCall]:
    """Validating and mutating admission webhooks that call a Service (not a URL)."""
    for config in ctx.of_kind(*WEBHOOK_KINDS):
        webhooks = config.doc.get("webhooks")
        if not isinstance(webhooks, list):
            continue
        for index, webhook in enumerate(webhooks):
            service = get(webhook, "clientConfig", "service")
            if isinstance(service, Mapping):
                path: Loc = ("webhooks", index, "clientConfig", "service")
                caller = f"webhook {get(webhook, 'name')} of {config.kind} {config.name}"
                yield ApiServerCall(config, path, caller, service)


# apiextensions.k8s.io/v1, then the v1beta1 layout (removed in Kubernetes 1.22, still in old charts).
_CONVERSION_SERVICE_PATHS: tuple[Loc, ...] = (
    ("spec", "conversion", "webhook", "clientConfig", "service"),
    ("spec", "conversion", "webhookClientConfig", "service"),
)


def conversion_calls(ctx: CheckContext) -> Iterator[ApiServerCall]:
    """CustomResourceDefinitions converted by a webhook Service (strategy: Webhook)."""
    for crd in ctx.of_kind("CustomResourceDefinition"):
        if crd.group != "apiextensions.k8s.io" or get(crd.doc, "spec", "conversion", "strategy") != "Webhook":
            continue
        for path in _CONVERSION_SERVICE_PATHS:
            service = get(crd.doc, *path)
            if isinstance(service, Mapping):
                yield ApiServerCall(crd, path, f"the conversion webhook of CRD {crd.name}", service)
                break


def apiservice_calls(ctx: CheckContext) -> Iterator[ApiServerCall]:
    """Aggregated APIServices (spec.service set; without it the API server serves the group itself)."""
    for apiservice in ctx.of_kind("APIService"):
        if apiservice.group != "apiregistration.k8s.io":
            continue
        service = apiservice.spec.get("service")
        if isinstance(service, Mapping):
            yield ApiServerCall(apiservice, ("spec", "service"), f"APIService {apiservice.name}", service)


def api_server_calls(ctx: CheckContext) -> Iterator[ApiServerCall]:
    """Every Service the API server itself connects to."""
    yield from webhook_calls(ctx)
    yield from conversion_calls(ctx)
    yield from apiservice_calls(ctx)


# --- Service ports --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ListeningPort:
    """The port a backend pod listens on for one Service port, and where that is written."""

    number: int
    protocol: str
    path: Loc | None  # the containerPort it is declared at; None when the pod does not declare it


def service_port(service: KubeObject, port: int, protocol: str = "TCP") -> Mapping[str, Any] | None:
    """The entry of a Service's spec.ports with this port number (and protocol), or None."""
    ports = service.spec.get("ports")
    for entry in ports if isinstance(ports, list) else []:
        if (
            isinstance(entry, Mapping)
            and entry.get("port") == port
            and str(entry.get("protocol", "TCP")).upper() == protocol.upper()
        ):
            return entry
    return None


def listening_port(template: PodTemplate, entry: Mapping[str, Any]) -> ListeningPort | None:
    """The port one backend listens on for a Service port: targetPort (default: port) as a number, or
    the container port of that name. A Service sends to the pod IP and this port (never a hostPort); for a
    host-network pod that is the node's IP, so this is also the port it takes on the node.
    None when a named targetPort matches no container port of this pod (it gets no endpoint)."""
    protocol = str(entry.get("protocol", "TCP")).upper()
    target = entry.get("targetPort", entry.get("port"))
    for path, port in template.ports():
        if str(port.get("protocol", "TCP")).upper() != protocol:
            continue
        container_port = port.get("containerPort")
        if not isinstance(container_port, int):
            continue
        if (isinstance(target, int) and container_port == target) or (
            isinstance(target, str) and port.get("name") == target
        ):
            return ListeningPort(container_port, protocol, (*path, "containerPort"))
    if isinstance(target, int):
        return ListeningPort(target, protocol, None)  # listens without declaring it: still its port
    if isinstance(target, str) and target.isdigit():
        return ListeningPort(int(target), protocol, None)
    return None


# --- load balancers -------------------------------------------------------------------------------

NLB_TARGET_TYPE = "service.beta.kubernetes.io/aws-load-balancer-nlb-target-type"
LB_TYPE = "service.beta.kubernetes.io/aws-load-balancer-type"
ALB_TARGET_TYPE = "alb.ingress.kubernetes.io/target-type"


def nlb_ip_target_annotation(service: KubeObject) -> str | None:
    """The annotation that puts a LoadBalancer Service in IP-target mode, or None (instance mode)."""
    if service.spec.get("type") != "LoadBalancer":
        return None
    annotations = service.annotations
    if str(annotations.get(NLB_TARGET_TYPE, "")).strip().lower() == "ip":
        return NLB_TARGET_TYPE
    if str(annotations.get(LB_TYPE, "")).strip().lower() == "nlb-ip":  # the legacy in-tree spelling
        return LB_TYPE
    return None


def ingress_backends(ingress: KubeObject) -> Iterator[tuple[Loc, str]]:
    """(path, Service name) of each backend of an Ingress (networking.k8s.io/v1, and the older
    serviceName layout); resource backends are skipped."""
    default: Loc = ("spec", "defaultBackend")
    legacy_default: Loc = ("spec", "backend")
    for path in (default, legacy_default):
        found = _backend_service(ingress.doc, path)
        if found is not None:
            yield found
    rules = ingress.spec.get("rules")
    for r, rule in enumerate(rules if isinstance(rules, list) else []):
        paths = get(rule, "http", "paths")
        for p in range(len(paths) if isinstance(paths, list) else 0):
            found = _backend_service(ingress.doc, ("spec", "rules", r, "http", "paths", p, "backend"))
            if found is not None:
                yield found


def _backend_service(doc: Mapping[str, Any], path: Loc) -> tuple[Loc, str] | None:
    name = get(doc, *path, "service", "name")
    if isinstance(name, str) and name:
        return (*path, "service"), name
    legacy = get(doc, *path, "serviceName")
    if isinstance(legacy, str) and legacy:
        return (*path, "serviceName"), legacy
    return None


# --- Service names in a container's env, args and command ----------------------------------------

_LABEL = r"[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?"
# <svc>.<ns>.svc[...] (also <pod>.<svc>.<ns>.svc, a headless Service's pod)
_SVC_DOMAIN = re.compile(rf"(?<![-a-z0-9.])(?:{_LABEL}\.)?({_LABEL})\.({_LABEL})\.svc(?![-a-z0-9])")
# <svc>.<ns>:<port>
_WITH_PORT = re.compile(rf"(?<![-a-z0-9.])({_LABEL})\.({_LABEL}):\d")
# //<svc>.<ns> ending the host (URL)
_URL_QUALIFIED = re.compile(rf"//({_LABEL})\.({_LABEL})(?=[:/?#]|$)")
# //<svc>: or //<svc>/ (same namespace)
_URL_SHORT = re.compile(rf"//({_LABEL})(?=[:/])")


def service_names(text: str, *, namespace: str) -> list[tuple[str, str]]:
    """(namespace, name) of each Service that a string names, in order, without repeats:
    `<svc>.<ns>.svc...`, `<svc>.<ns>:<port>`, `//<svc>.<ns>`, and (same namespace) `//<svc>:`, `//<svc>/`.
    Names that are no Service of the objects checked are filtered out by the caller."""
    lowered = text.lower()
    found: list[tuple[str, str]] = []
    for pattern in (_SVC_DOMAIN, _WITH_PORT, _URL_QUALIFIED):
        found += [(match.group(2), match.group(1)) for match in pattern.finditer(lowered)]
    found += [(namespace, match.group(1)) for match in _URL_SHORT.finditer(lowered)]
    return list(dict.fromkeys(found))


def container_strings(template: PodTemplate) -> Iterator[tuple[Loc, str]]:
    """(path, text) of every literal env value, arg and command word of every container."""
    for path, container in template.containers():
        env = container.get("env")
        for index, variable in enumerate(env if isinstance(env, list) else []):
            value = variable.get("value") if isinstance(variable, Mapping) else None
            if isinstance(value, str):
                yield (*path, "env", index, "value"), value
        for field in ("command", "args"):
            words = container.get(field)
            for index, word in enumerate(words if isinstance(words, list) else []):
                if isinstance(word, str):
                    yield (*path, field, index), word
