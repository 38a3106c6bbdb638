"""What eks-platform knows about every component it runs: the facts placement is decided from.

Sources: facts/calico-and-addons.md §0 (what Fargate rejects), §2 (webhooks, APIServices, ports),
§5 (the port map of a shared host-network node).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from eks_platform.spec import defaults as d
from eks_platform.spec.model import Platform, RunsOn

Workload = Literal["Deployment", "StatefulSet", "DaemonSet"]
Protocol = Literal["TCP", "UDP"]


@dataclass(frozen=True)
class Port:
    role: str
    number: int
    protocol: Protocol = "TCP"
    called_by_api_server: bool = False  # a webhook or APIService backend port
    from_load_balancer: bool = False  # an NLB IP target
    from_nodes: bool = False  # other nodes connect to it (typha, VXLAN, node-exporter scrapes)
    loopback_only: bool = False  # bound on 127.0.0.1: still taken on the node, no SG rule


@dataclass(frozen=True)
class ApiServerCall:
    kind: str  # ValidatingWebhookConfiguration, MutatingWebhookConfiguration, APIService
    name: str
    port_role: str


@dataclass(frozen=True)
class Component:
    name: str
    owner: str  # the spec key that configures it, e.g. "addons.metricsServer"
    namespace: str
    workload: Workload
    pod_labels: Mapping[str, str]
    allowed: frozenset[RunsOn]
    default: RunsOn
    why_not: Mapping[RunsOn, str] = field(default_factory=dict)  # why a placement is not allowed
    ports: tuple[Port, ...] = ()
    movable_port: str | None = None  # role of the port that the spec's `port` sets
    api_server_calls: tuple[ApiServerCall, ...] = ()
    can_label_for_fargate: bool = True  # its pod labels can be set (for an exact Fargate selector)
    replicas: int = 1
    tolerates_all_pools: bool = False  # DaemonSets, and typha: land on every EC2 pool they tolerate


FARGATE_REJECTS_DAEMONSET = "Fargate runs no DaemonSets"
FARGATE_REJECTS_HOST_NETWORK = "it runs in the host network, which Fargate rejects (hostNetwork)"
OVERLAY_UNREACHABLE = (
    "the API server cannot open connections to pods on the Calico overlay "
    "(webhook calls fail with 'Address is not allowed')"
)
NEEDS_OVERLAY = "it must connect to pods on the Calico overlay, which a Fargate pod cannot reach"
DAEMONSET_ON_EVERY_NODE = "it is a DaemonSet on every EC2 node"
NEEDS_EBS = "it keeps its data on a PersistentVolumeClaim (an EBS volume), which Fargate cannot mount"
NOT_PLACED_ON_FARGATE = (
    "eks-platform runs it on the add-ons node with the rest of the monitoring; a profile that selects it "
    "would move it to Fargate without the spec saying so"
)


def _daemonset(
    name: str,
    owner: str,
    namespace: str,
    labels: Mapping[str, str],
    *,
    host_network: bool,
    ports: tuple[Port, ...] = (),
) -> Component:
    runs_on: RunsOn = "hostNetwork" if host_network else "overlay"
    return Component(
        name=name,
        owner=owner,
        namespace=namespace,
        workload="DaemonSet",
        pod_labels=labels,
        allowed=frozenset({runs_on}),
        default=runs_on,
        why_not={"fargate": FARGATE_REJECTS_DAEMONSET},
        ports=ports,
        tolerates_all_pools=True,
    )


def components(platform: Platform) -> list[Component]:
    """Every component the platform runs, in a stable order."""
    addons = platform.addons
    found: list[Component] = [
        Component(
            name="coredns",
            owner="managedAddons.coredns",
            namespace="kube-system",
            workload="Deployment",
            pod_labels={"k8s-app": "kube-dns"},
            allowed=frozenset({"fargate"}),
            default="fargate",
            why_not={
                "overlay": "Fargate pods (Karpenter, the CSI controllers) resolve names through it",
                "hostNetwork": "the EKS add-on does not run in the host network",
            },
            can_label_for_fargate=False,
            replicas=2,
        ),
        _daemonset(
            "kube-proxy",
            "managedAddons.kubeProxy",
            "kube-system",
            {"k8s-app": "kube-proxy"},
            host_network=True,
            ports=(Port("metrics", 10249, loopback_only=True), Port("healthz", 10256)),
        ),
        Component(
            name="ebs-csi-controller",
            owner="managedAddons.ebsCsi",
            namespace="kube-system",
            workload="Deployment",
            pod_labels={"app": "ebs-csi-controller"},
            allowed=frozenset({"fargate", "overlay"}),
            default="fargate",
            can_label_for_fargate=False,  # the EKS add-on's configuration schema has no verified podLabels key
            replicas=2,
        ),
        _daemonset("ebs-csi-node", "managedAddons.ebsCsi", "kube-system", {"app": "ebs-csi-node"}, host_network=False),
        _karpenter(platform),
        Component(
            name="tigera-operator",
            owner="calico",
            namespace="tigera-operator",
            workload="Deployment",
            pod_labels={"k8s-app": "tigera-operator"},
            allowed=frozenset({"hostNetwork"}),
            default="hostNetwork",
            why_not={"fargate": "its chart hard-codes hostNetwork: true and a hostPath volume, which Fargate rejects"},
        ),
        _daemonset(
            "calico-node",
            "calico",
            "calico-system",
            {"k8s-app": "calico-node"},
            host_network=True,
            ports=(Port("felix-health", 9099, loopback_only=True), Port("vxlan", 4789, "UDP", from_nodes=True)),
        ),
        Component(
            name="calico-typha",
            owner="calico",
            namespace="calico-system",
            workload="Deployment",
            pod_labels={"k8s-app": "calico-typha"},
            allowed=frozenset({"hostNetwork"}),
            default="hostNetwork",
            why_not={"fargate": "the operator runs typha in the host network, which Fargate rejects"},
            ports=(Port("typha", 5473, from_nodes=True), Port("health", 9098, loopback_only=True)),
            tolerates_all_pools=True,
        ),
        Component(
            name="calico-kube-controllers",
            owner="calico",
            namespace="calico-system",
            workload="Deployment",
            pod_labels={"k8s-app": "calico-kube-controllers"},
            allowed=frozenset({"fargate", "overlay"}),
            default="fargate",
        ),
        Component(
            name="calico-apiserver",
            owner="calico",
            namespace="calico-apiserver",
            workload="Deployment",
            pod_labels={"k8s-app": "calico-apiserver"},
            allowed=frozenset({"hostNetwork"}),
            default="hostNetwork",
            why_not={"fargate": "the operator forces hostNetwork on EKS with Calico CNI, which Fargate rejects"},
            ports=(Port("apiserver", d.CALICO_APISERVER_PORT, called_by_api_server=True),),
            movable_port="apiserver",
            api_server_calls=(ApiServerCall("APIService", "v3.projectcalico.org", "apiserver"),),
            replicas=platform.calico.control_plane_replicas,
        ),
    ]
    if addons.efs_csi.enabled:
        found += [
            Component(
                name="efs-csi-controller",
                owner="addons.efsCsi",
                namespace=addons.efs_csi.namespace,
                workload="Deployment",
                pod_labels={"app": "efs-csi-controller"},
                allowed=frozenset({"fargate", "overlay", "hostNetwork"}),
                default="fargate",
                can_label_for_fargate=False,  # the chart's pod-label key differs across versions
                ports=(Port("healthz", 9909),),
                replicas=2,
            ),
            _daemonset(
                "efs-csi-node",
                "addons.efsCsi",
                addons.efs_csi.namespace,
                {"app": "efs-csi-node"},
                host_network=True,
                ports=(Port("healthz", 9809),),
            ),
        ]
    if addons.ingress_nginx.enabled:
        found.append(
            Component(
                name="ingress-nginx-controller",
                owner="addons.ingressNginx",
                namespace=addons.ingress_nginx.namespace,
                workload="Deployment",
                pod_labels={"app.kubernetes.io/name": "ingress-nginx", "app.kubernetes.io/component": "controller"},
                allowed=frozenset({"hostNetwork"}),
                default="hostNetwork",
                why_not={
                    "fargate": NEEDS_OVERLAY + " (the application backends)",
                    "overlay": OVERLAY_UNREACHABLE + "; NLB IP targets need a VPC IP",
                },
                ports=(
                    Port("http", 80, from_load_balancer=True),
                    Port("https", 443, from_load_balancer=True),
                    Port("metrics", 10254),
                    Port("webhook", d.INGRESS_WEBHOOK_PORT, called_by_api_server=True),
                ),
                movable_port="webhook",
                api_server_calls=(
                    ApiServerCall("ValidatingWebhookConfiguration", "ingress-nginx-admission", "webhook"),
                ),
            )
        )
    if addons.replicator.enabled:
        found.append(
            _overlay_app(
                "kubernetes-replicator",
                "addons.replicator",
                addons.replicator.namespace,
                {"app.kubernetes.io/name": "kubernetes-replicator"},
                Port("health", 9102),
                allowed=frozenset({"overlay", "fargate", "hostNetwork"}),
            )
        )
    if addons.kubecost.enabled:
        found.append(
            _overlay_app(
                "kubecost",
                "addons.kubecost",
                addons.kubecost.namespace,
                {"app": "cost-analyzer"},
                Port("http", 9090),
                not_on_fargate=NEEDS_OVERLAY + " (Prometheus)",
            )
        )
    if addons.metrics_server.enabled:
        found.append(
            Component(
                name="metrics-server",
                owner="addons.metricsServer",
                namespace=addons.metrics_server.namespace,
                workload="Deployment",
                pod_labels={"app.kubernetes.io/name": "metrics-server"},
                allowed=frozenset({"fargate", "hostNetwork"}),
                default="fargate",
                why_not={
                    "overlay": "the API server cannot open connections to pods on the Calico overlay, "
                    "so APIService v1beta1.metrics.k8s.io would stay FailedDiscoveryCheck"
                },
                ports=(Port("https", d.METRICS_SERVER_PORT, called_by_api_server=True),),
                movable_port="https",
                api_server_calls=(ApiServerCall("APIService", "v1beta1.metrics.k8s.io", "https"),),
            )
        )
    if addons.prometheus.enabled:
        namespace = addons.prometheus.namespace
        found += [
            Component(
                name="prometheus-operator",
                owner="addons.prometheus",
                namespace=namespace,
                workload="Deployment",
                pod_labels={"app": "kube-prometheus-stack-operator"},
                allowed=frozenset({"fargate", "hostNetwork"}),
                default="fargate",
                why_not={"overlay": OVERLAY_UNREACHABLE},
                ports=(Port("https", d.PROMETHEUS_OPERATOR_PORT, called_by_api_server=True),),
                movable_port="https",
                api_server_calls=(
                    ApiServerCall("ValidatingWebhookConfiguration", "kube-prometheus-stack-admission", "https"),
                    ApiServerCall("MutatingWebhookConfiguration", "kube-prometheus-stack-admission", "https"),
                ),
            ),
            _overlay_app(
                "prometheus",
                "addons.prometheus",
                namespace,
                {"app.kubernetes.io/name": "prometheus"},
                Port("http", 9090),
                workload="StatefulSet",
                not_on_fargate=NEEDS_OVERLAY + " (the pods it scrapes)",
            ),
            _overlay_app(
                "alertmanager",
                "addons.prometheus",
                namespace,
                {"app.kubernetes.io/name": "alertmanager"},
                Port("http", 9093),
                workload="StatefulSet",
            ),
            _overlay_app(
                "kube-state-metrics",
                "addons.prometheus",
                namespace,
                {"app.kubernetes.io/name": "kube-state-metrics"},
                Port("http", 8080),
            ),
            _daemonset(
                "node-exporter",
                "addons.prometheus",
                namespace,
                {"app.kubernetes.io/name": "prometheus-node-exporter"},
                host_network=True,
                ports=(Port("metrics", 9100, from_nodes=True),),
            ),
        ]
    if addons.grafana.enabled:
        found.append(
            _overlay_app(
                "grafana",
                "addons.grafana",
                addons.grafana.namespace,
                {"app.kubernetes.io/name": "grafana"},
                Port("http", 3000),
                not_on_fargate=NEEDS_OVERLAY + " (Prometheus and Loki)",
            )
        )
    if addons.loki.enabled:
        found.append(
            _overlay_app(
                "loki",
                "addons.loki",
                addons.loki.namespace,
                {"app.kubernetes.io/name": "loki"},
                Port("http", 3100),
                workload="StatefulSet",
                not_on_fargate=NEEDS_EBS,
            )
        )
    return found


def _karpenter(platform: Platform) -> Component:
    v1alpha5 = platform.karpenter.api == "v1alpha5"
    ports: tuple[Port, ...] = (Port("metrics", 8000 if v1alpha5 else 8080), Port("health", 8081))
    calls: tuple[ApiServerCall, ...] = ()
    if v1alpha5:
        ports += (Port("webhook", 8443, called_by_api_server=True),)
        calls = tuple(
            ApiServerCall(kind, name, "webhook")
            for kind, name in (
                ("ValidatingWebhookConfiguration", "validation.webhook.karpenter.sh"),
                ("ValidatingWebhookConfiguration", "validation.webhook.config.karpenter.sh"),
                ("ValidatingWebhookConfiguration", "validation.webhook.karpenter.k8s.aws"),
                ("MutatingWebhookConfiguration", "defaulting.webhook.karpenter.k8s.aws"),
            )
        )
    return Component(
        name="karpenter",
        owner="karpenter",
        namespace=platform.karpenter.namespace,
        workload="Deployment",
        pod_labels={"app.kubernetes.io/name": "karpenter"},
        allowed=frozenset({"fargate", "hostNetwork"}),
        default="fargate",
        why_not={"overlay": "it must run before any node (and so before the overlay) exists"},
        ports=ports,
        api_server_calls=calls,
        replicas=2,
    )


def _overlay_app(
    name: str,
    owner: str,
    namespace: str,
    labels: Mapping[str, str],
    port: Port,
    *,
    workload: Workload = "Deployment",
    allowed: frozenset[RunsOn] = frozenset({"overlay"}),
    not_on_fargate: str = NOT_PLACED_ON_FARGATE,
) -> Component:
    return Component(
        name=name,
        owner=owner,
        namespace=namespace,
        workload=workload,
        pod_labels=labels,
        allowed=allowed,
        default="overlay",
        why_not={
            "fargate": not_on_fargate,
            "hostNetwork": "nothing on the VPC side calls it; keep host ports for what needs them",
        },
        ports=(port,),
    )
