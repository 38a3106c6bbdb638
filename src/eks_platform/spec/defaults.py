"""Every default of the platform spec, in one place.

The model (model.py) takes its static defaults from here; `complete()` fills the few
defaults that depend on other fields. Nothing else in the code base invents a default.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from eks_platform.spec.model import Platform

KUBERNETES_VERSION = "1.33"
# EKS access policies (spec name -> the policy EKS associates with an access entry)
ACCESS_POLICIES = {
    "cluster-admin": "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy",
    "admin": "arn:aws:eks::aws:cluster-access-policy/AmazonEKSAdminPolicy",
    "edit": "arn:aws:eks::aws:cluster-access-policy/AmazonEKSEditPolicy",
    "view": "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy",
}
SERVICE_CIDR = "172.20.0.0/16"
CONTROL_PLANE_LOGS = ("api", "audit", "authenticator", "controllerManager", "scheduler")

# Calico (facts/calico-and-addons.md §1b, §1d)
CALICO_VERSION = "v3.32.1"
IPPOOL_CIDR = "172.16.0.0/16"  # what the operator itself picks on EKS when no pool is given
IPPOOL_BLOCK_SIZE = 26
CALICO_CONTROL_PLANE_REPLICAS = 1  # one add-ons node: two host-network replicas would clash on 5443/5473

# Karpenter (facts/karpenter.md)
KARPENTER_API = "v1"  # v1alpha5 (the seed's API) runs only on Kubernetes <= 1.28, which EKS no longer offers
KARPENTER_VERSION_BY_API = {"v1alpha5": "v0.31.5", "v1": "1.14.1"}
KARPENTER_NAMESPACE = "karpenter"
MAX_PODS = 110  # Calico pods use no ENI IP, so the ENI-based limit (t3.2xlarge: 58) is wrong here
NODE_TEMPLATE_NAME = "bottlerocket"
DISCOVERY_TAG_KEY = "karpenter.sh/discovery"
DATA_VOLUME_SIZE = "20Gi"
OS_VOLUME_SIZE = "4Gi"
AMI_ALIAS = "bottlerocket@latest"

# Labels and taints eks-platform puts on nodes and pods
POOL_LABEL = "eks-platform.io/pool"
PILOT_LABEL = "eks-platform.io/pilot"
# IAM role names are at most 64 characters; the longest one derived from the cluster name is
# "<name>-fargate-pod-execution", which bounds the name (EKS alone would allow 100)
MAX_CLUSTER_NAME = 64 - len("-fargate-pod-execution")

# a pilot's pool and namespace are "pilot-<name>", and both are at most 63 characters (DNS labels)
MAX_PILOT_NAME = 63 - len("pilot-")

FARGATE_POD_LABEL = "eks-platform.io/compute"
FARGATE_POD_LABEL_VALUE = "fargate"
ROLE_LABEL = "eks-platform.io/role"  # on the namespaces the platform makes: "application" or "pilot"
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGED_BY_VALUE = "eks-platform"
ADDONS_POOL = "addons"
PILOT_INSTANCE_TYPES = ("m6a.4xlarge", "t3.2xlarge")


@dataclass(frozen=True)
class ChartPin:
    chart: str
    repo: str
    version: str
    namespace: str


# Pinned charts (facts/calico-and-addons.md §2a). Keyed by the spec's add-on key.
CHARTS: dict[str, ChartPin] = {
    "karpenter-v1alpha5": ChartPin("karpenter", "oci://public.ecr.aws/karpenter", "v0.31.5", "karpenter"),
    "karpenter-v1": ChartPin("karpenter", "oci://public.ecr.aws/karpenter", "1.14.1", "karpenter"),
    "tigeraOperator": ChartPin(
        "tigera-operator", "https://docs.tigera.io/calico/charts", CALICO_VERSION, "tigera-operator"
    ),
    "calicoCrds": ChartPin(
        "crd.projectcalico.org.v1", "https://docs.tigera.io/calico/charts", CALICO_VERSION, "tigera-operator"
    ),
    "efsCsi": ChartPin(
        "aws-efs-csi-driver", "https://kubernetes-sigs.github.io/aws-efs-csi-driver/", "4.4.1", "kube-system"
    ),
    "ingressNginx": ChartPin("ingress-nginx", "https://kubernetes.github.io/ingress-nginx", "4.15.1", "ingress-nginx"),
    "replicator": ChartPin("kubernetes-replicator", "https://helm.mittwald.de", "2.12.4", "kubernetes-replicator"),
    "kubecost": ChartPin("cost-analyzer", "https://kubecost.github.io/cost-analyzer/", "2.9.7", "kubecost"),
    "metricsServer": ChartPin(
        "metrics-server", "https://kubernetes-sigs.github.io/metrics-server/", "3.13.1", "kube-system"
    ),
    "prometheus": ChartPin(
        "kube-prometheus-stack", "https://prometheus-community.github.io/helm-charts", "88.5.3", "monitoring"
    ),
    "grafana": ChartPin("grafana", "https://grafana-community.github.io/helm-charts", "12.11.1", "monitoring"),
    "loki": ChartPin("loki", "https://grafana-community.github.io/helm-charts", "18.11.0", "monitoring"),
}

# Ports that components serve when they must move off a clash (facts/calico-and-addons.md §3, §5).
METRICS_SERVER_PORT = 10251  # 10250 is the kubelet's (and reserved on Fargate)
PROMETHEUS_OPERATOR_PORT = 10260  # chart default 10250 clashes with the kubelet
INGRESS_WEBHOOK_PORT = 8443
CALICO_APISERVER_PORT = 5443


@dataclass(frozen=True)
class Requests:
    """What one pod of a component asks for. values_path: the Helm values key under which eks-platform sets
    them (a user's `values` can override them there); None: set upstream, not by eks-platform."""

    cpu: str
    memory: str
    values_path: tuple[str, ...] | None = None


# Requests of the pods eks-platform runs. The fit check (EP501) adds them up per node, so every
# pod on a one-node pool gets explicit requests. Set by eks-platform unless values_path is None.
COMPONENT_REQUESTS: dict[str, Requests] = {
    "karpenter": Requests("1", "1Gi", ("controller",)),  # Karpenter's documented sizing
    "tigera-operator": Requests("100m", "256Mi", ()),
    "efs-csi-controller": Requests("100m", "128Mi", ("controller",)),
    "efs-csi-node": Requests("50m", "64Mi", ("node",)),
    "ingress-nginx-controller": Requests("100m", "90Mi", ("controller",)),  # the chart's own default
    "kubernetes-replicator": Requests("50m", "64Mi", ()),
    "kubecost": Requests("200m", "512Mi", ("kubecostModel",)),
    "metrics-server": Requests("100m", "200Mi", ()),  # the chart's own default
    "prometheus-operator": Requests("100m", "128Mi", ("prometheusOperator",)),
    "prometheus": Requests("500m", "2Gi", ("prometheus", "prometheusSpec")),
    "alertmanager": Requests("50m", "128Mi", ("alertmanager", "alertmanagerSpec")),
    "kube-state-metrics": Requests("50m", "128Mi", ("kube-state-metrics",)),
    "node-exporter": Requests("50m", "64Mi", ("prometheus-node-exporter",)),
    "grafana": Requests("100m", "256Mi", ()),
    "loki": Requests("500m", "1Gi", ("singleBinary",)),
    # Set upstream (EKS add-ons, the tigera-operator): what their manifests request, not ours to change.
    "kube-proxy": Requests("100m", "0"),
    "ebs-csi-node": Requests("10m", "40Mi"),
    "coredns": Requests("100m", "70Mi"),
    "ebs-csi-controller": Requests("10m", "40Mi"),
    "calico-node": Requests("0", "0"),
    "calico-typha": Requests("0", "0"),
    "calico-kube-controllers": Requests("0", "0"),
    "calico-apiserver": Requests("0", "0"),
}


def complete(platform: Platform) -> Platform:
    """Fill the defaults that depend on other fields; never overwrite what the user set."""
    karpenter = platform.karpenter
    if karpenter.version is None:
        karpenter = karpenter.model_copy(update={"version": KARPENTER_VERSION_BY_API[karpenter.api]})
    addons = {}
    for field_name, field in type(platform.addons).model_fields.items():
        addon = getattr(platform.addons, field_name)
        pin = CHARTS[field.alias or field_name]
        unset = {key: getattr(pin, key) for key in ("chart", "repo", "version", "namespace") if not getattr(addon, key)}
        addons[field_name] = addon.model_copy(update=unset)
    pilots = [
        pilot if pilot.namespace else pilot.model_copy(update={"namespace": f"pilot-{pilot.name}"})
        for pilot in platform.pilots
    ]
    return platform.model_copy(
        update={
            "karpenter": karpenter,
            "addons": platform.addons.model_copy(update=addons),
            "pilots": pilots,
        }
    )


# Newest Kubernetes minor each Karpenter line supports (karpenter.sh compatibility matrix).
KARPENTER_MAX_KUBERNETES = {"v1alpha5": "1.28", "v1": "1.35"}
