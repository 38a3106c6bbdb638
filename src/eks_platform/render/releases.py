"""One Helm release per add-on (and for Karpenter and the tigera-operator), with values that
realise the placement and the private registry (keys: facts/calico-and-addons.md §2b)."""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any

from eks_platform.render.bundle import HelmRelease, Obj, Stage
from eks_platform.render.components import Component
from eks_platform.render.images import registry_for, repository_for
from eks_platform.render.karpenter import (
    instance_profile_name,
    interruption_queue_name,
    pool_node_selector,
    pool_tolerations,
)
from eks_platform.render.placement import Placement, PlacementPlan
from eks_platform.spec import defaults as d
from eks_platform.spec.model import AddonSpec, Platform

TOLERATE_EVERYTHING: list[Obj] = [{"operator": "Exists"}]

# Values that come from the AWS stacks (issue: the AWS side) and are filled in at apply time.
KARPENTER_ROLE = "${irsa.KarpenterControllerRoleArn}"
EFS_CSI_ROLE = "${irsa.EfsCsiControllerRoleArn}"
CLUSTER_ENDPOINT = "${cluster.Endpoint}"


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> Obj:
    """override wins; nested mappings merge, everything else is replaced."""
    merged: Obj = copy.deepcopy(dict(base))
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _pin(platform: Platform, placement: Placement) -> Obj:
    """nodeSelector + tolerations that put an EC2 component on its pool ({} on Fargate)."""
    if placement.runs_on == "fargate" or not placement.pools:
        return {}
    pool = placement.pools[0]
    return {"nodeSelector": pool_node_selector(platform, pool), "tolerations": pool_tolerations(platform, pool)}


def _fargate_labels(placement: Placement) -> Obj:
    if placement.runs_on != "fargate":
        return {}
    return {d.FARGATE_POD_LABEL: d.FARGATE_POD_LABEL_VALUE}


def _host_network(placement: Placement) -> bool:
    return placement.runs_on == "hostNetwork"


# --- core ----------------------------------------------------------------------------------------


def karpenter_values(platform: Platform, plan: PlacementPlan) -> tuple[Obj, dict[str, str]]:
    placement = plan.of("karpenter")
    cluster = platform.cluster.name
    values: Obj = {
        "replicas": placement.component.replicas,
        "serviceAccount": {"annotations": {"eks.amazonaws.com/role-arn": KARPENTER_ROLE}},
        "podLabels": _fargate_labels(placement),
        "controller": {"image": {"repository": repository_for(platform, "public.ecr.aws/karpenter/controller")}},
    }
    if platform.karpenter.api == "v1alpha5":
        aws: Obj = {
            "clusterName": cluster,
            "clusterEndpoint": CLUSTER_ENDPOINT,
            "defaultInstanceProfile": instance_profile_name(platform),
        }
        if platform.karpenter.interruption_queue:
            aws["interruptionQueueName"] = interruption_queue_name(platform)
        values["settings"] = {"aws": aws}
    else:
        settings: Obj = {"clusterName": cluster, "clusterEndpoint": CLUSTER_ENDPOINT}
        if platform.karpenter.interruption_queue:
            settings["interruptionQueue"] = interruption_queue_name(platform)
        values["settings"] = settings
    if _host_network(placement):
        values |= {"hostNetwork": True, "dnsPolicy": "ClusterFirstWithHostNet", **_pin(platform, placement)}
    inputs = {"serviceAccount.annotations.eks\\.amazonaws\\.com/role-arn": "irsa.KarpenterControllerRoleArn"}
    inputs["settings.aws.clusterEndpoint" if platform.karpenter.api == "v1alpha5" else "settings.clusterEndpoint"] = (
        "cluster.Endpoint"
    )
    return values, inputs


def tigera_operator_values(platform: Platform, plan: PlacementPlan) -> Obj:
    operator = plan.of("tigera-operator")
    return {
        # The Installation and APIServer are rendered as objects of their own (validated, server-side applied).
        "installation": {"enabled": False},
        "apiServer": {"enabled": False},
        "goldmane": {"enabled": False},
        "whisker": {"enabled": False},
        "tigeraOperator": {"registry": registry_for(platform, "quay.io")},
        "nodeSelector": _pin(platform, operator)["nodeSelector"],
        # The operator must start on a node whose CNI is not ready yet: it installs that CNI.
        "tolerations": TOLERATE_EVERYTHING,
    }


# --- add-ons -------------------------------------------------------------------------------------


def efs_csi_values(platform: Platform, plan: PlacementPlan) -> Obj:
    controller = plan.of("efs-csi-controller")
    return {
        "image": {"repository": repository_for(platform, "public.ecr.aws/efs-csi-driver/amazon/aws-efs-csi-driver")},
        "sidecars": {
            name: {
                "image": {"repository": repository_for(platform, f"public.ecr.aws/eks-distro/kubernetes-csi/{image}")}
            }
            for name, image in (
                ("livenessProbe", "livenessprobe"),
                ("nodeDriverRegistrar", "node-driver-registrar"),
                ("csiProvisioner", "external-provisioner"),
            )
        },
        "controller": {
            "healthPort": controller.port("healthz").number,
            "serviceAccount": {"annotations": {"eks.amazonaws.com/role-arn": EFS_CSI_ROLE}},
            # Fargate has no instance metadata: the region comes from the regional STS endpoint.
            "regionalStsEndpoints": True,
            **_pin(platform, controller),
        },
        "node": {"tolerations": TOLERATE_EVERYTHING},
    }


def ingress_nginx_values(platform: Platform, plan: PlacementPlan) -> Obj:
    placement = plan.of("ingress-nginx-controller")
    pin = _pin(platform, placement)
    registry = registry_for(platform, "registry.k8s.io")
    return {
        "controller": {
            "kind": "Deployment",
            "replicaCount": placement.component.replicas,
            "hostNetwork": True,
            "dnsPolicy": "ClusterFirstWithHostNet",
            "hostPort": {"enabled": False},
            "containerPort": {"http": placement.port("http").number, "https": placement.port("https").number},
            "metrics": {"enabled": True, "port": placement.port("metrics").number},
            "admissionWebhooks": {
                "enabled": True,
                "port": placement.port("webhook").number,
                "patch": {**pin, "image": {"registry": registry}},
            },
            "image": {"registry": registry},
            "service": {
                "type": "LoadBalancer",
                "annotations": {
                    "service.beta.kubernetes.io/aws-load-balancer-type": "external",
                    "service.beta.kubernetes.io/aws-load-balancer-nlb-target-type": "ip",
                    "service.beta.kubernetes.io/aws-load-balancer-scheme": "internal",
                },
            },
            **pin,
        },
    }


def replicator_values(platform: Platform, plan: PlacementPlan) -> Obj:
    placement = plan.of("kubernetes-replicator")
    return {
        "image": {"repository": repository_for(platform, "quay.io/mittwald/kubernetes-replicator")},
        "podLabels": _fargate_labels(placement),
        **_pin(platform, placement),
    }


def _prometheus_url(platform: Platform) -> str:
    return f"http://kube-prometheus-stack-prometheus.{platform.addons.prometheus.namespace}.svc:9090"


def kubecost_values(platform: Platform, plan: PlacementPlan) -> Obj:
    placement = plan.of("kubecost")
    values: Obj = {
        "global": {"grafana": {"enabled": False, "proxy": False}},
        "kubecostFrontend": {"image": repository_for(platform, "icr.io/kubecost/frontend")},
        "kubecostModel": {"image": repository_for(platform, "icr.io/kubecost/cost-model")},
        "forecasting": _pin(platform, placement),
        **_pin(platform, placement),
    }
    if platform.addons.prometheus.enabled:
        values["global"]["prometheus"] = {"enabled": False, "fqdn": _prometheus_url(platform)}
    return values


def metrics_server_values(platform: Platform, plan: PlacementPlan) -> Obj:
    placement = plan.of("metrics-server")
    values: Obj = {
        "containerPort": placement.port("https").number,
        "hostNetwork": {"enabled": _host_network(placement)},
        "podLabels": _fargate_labels(placement),
        "image": {"repository": repository_for(platform, "registry.k8s.io/metrics-server/metrics-server")},
        "apiService": {"create": True},
        **_pin(platform, placement),
    }
    return values


def prometheus_values(platform: Platform, plan: PlacementPlan) -> Obj:
    operator = plan.of("prometheus-operator")
    server = _pin(platform, plan.of("prometheus"))
    quay = registry_for(platform, "quay.io")
    return {
        "grafana": {"enabled": False},  # Grafana is its own release
        "kubeControllerManager": {"enabled": False},  # the EKS control plane is not scrapable
        "kubeScheduler": {"enabled": False},
        "kubeEtcd": {"enabled": False},
        "prometheusOperator": {
            "podLabels": _fargate_labels(operator),
            "hostNetwork": _host_network(operator),
            "tls": {"internalPort": operator.port("https").number},
            "image": {"registry": quay},
            "prometheusConfigReloader": {"image": {"registry": quay}},
            "admissionWebhooks": {"patch": {**server, "image": {"registry": registry_for(platform, "ghcr.io")}}},
            **_pin(platform, operator),
        },
        "prometheus": {"prometheusSpec": {"image": {"registry": quay}, **server}},
        "alertmanager": {"alertmanagerSpec": {"image": {"registry": quay}, **_pin(platform, plan.of("alertmanager"))}},
        "kube-state-metrics": {
            "image": {"registry": registry_for(platform, "registry.k8s.io")},
            **_pin(platform, plan.of("kube-state-metrics")),
        },
        "prometheus-node-exporter": {
            "hostNetwork": True,
            "service": {"port": plan.of("node-exporter").port("metrics").number},
            "image": {"registry": quay},
            "tolerations": TOLERATE_EVERYTHING,
        },
    }


def grafana_values(platform: Platform, plan: PlacementPlan) -> Obj:
    datasources: list[Obj] = []
    if platform.addons.prometheus.enabled:
        datasources.append(
            {"name": "Prometheus", "type": "prometheus", "url": _prometheus_url(platform), "isDefault": True}
        )
    if platform.addons.loki.enabled:
        datasources.append(
            {"name": "Loki", "type": "loki", "url": f"http://loki.{platform.addons.loki.namespace}.svc:3100"}
        )
    docker = registry_for(platform, "docker.io")
    return {
        "image": {"registry": docker},
        "sidecar": {"image": {"registry": registry_for(platform, "quay.io")}},
        "initChownData": {"image": {"registry": docker}},
        "datasources": {"datasources.yaml": {"apiVersion": 1, "datasources": datasources}},
        **_pin(platform, plan.of("grafana")),
    }


def loki_values(platform: Platform, plan: PlacementPlan) -> Obj:
    return {
        "deploymentMode": "SingleBinary",
        "global": {"imageRegistry": registry_for(platform, "docker.io")},
        "loki": {
            "auth_enabled": False,
            "commonConfig": {"replication_factor": 1},
            "storage": {"type": "filesystem"},
            "schemaConfig": {
                "configs": [
                    {
                        "from": "2024-04-01",
                        "store": "tsdb",
                        "object_store": "filesystem",
                        "schema": "v13",
                        "index": {"prefix": "loki_index_", "period": "24h"},
                    }
                ]
            },
        },
        "singleBinary": {"replicas": 1, **_pin(platform, plan.of("loki"))},
        "read": {"replicas": 0},
        "write": {"replicas": 0},
        "backend": {"replicas": 0},
        "gateway": {"enabled": False},
        "chunksCache": {"enabled": False},
        "resultsCache": {"enabled": False},
        "lokiCanary": {"enabled": False},  # a DaemonSet on every node, pilots included
        "test": {"enabled": False},
        "minio": {"enabled": False},
    }


ValuesFn = Callable[[Platform, PlacementPlan], Obj]

# spec key -> (release name, values, install stage)
ADDON_RELEASES: tuple[tuple[str, str, ValuesFn], ...] = (
    ("efsCsi", "aws-efs-csi-driver", efs_csi_values),
    ("metricsServer", "metrics-server", metrics_server_values),
    ("ingressNginx", "ingress-nginx", ingress_nginx_values),
    ("replicator", "kubernetes-replicator", replicator_values),
    ("prometheus", "kube-prometheus-stack", prometheus_values),
    ("loki", "loki", loki_values),
    ("grafana", "grafana", grafana_values),
    ("kubecost", "kubecost", kubecost_values),
)


def _release(name: str, addon: AddonSpec, values: Obj, stage: Stage, **extra: Any) -> HelmRelease:
    return HelmRelease(
        name=name,
        namespace=addon.namespace,
        chart=addon.chart,
        repo=addon.repo,
        version=addon.version,
        values=deep_merge(values, addon.values),
        stage=stage,
        **extra,
    )


def release_of(component: Component) -> str | None:
    """The Helm release that runs a component (None: an EKS add-on, or created by the tigera-operator)."""
    if component.name == "tigera-operator":
        return "calico"
    if component.owner == "karpenter":
        return "karpenter"
    return next((name for key, name, _ in ADDON_RELEASES if component.owner == f"addons.{key}"), None)


def _with_requests(values: Obj, plan: PlacementPlan, release: str) -> Obj:
    """Explicit requests for every pod the release runs (d.COMPONENT_REQUESTS); the user's values still win."""
    for placement in plan.placements:
        requests = d.COMPONENT_REQUESTS.get(placement.name)
        if release_of(placement.component) != release or requests is None or requests.values_path is None:
            continue
        nested: Obj = {"resources": {"requests": {"cpu": requests.cpu, "memory": requests.memory}}}
        for key in reversed(requests.values_path):
            nested = {key: nested}
        values = deep_merge(values, nested)
    return values


def render_releases(platform: Platform, plan: PlacementPlan) -> list[HelmRelease]:
    karpenter_pin = d.CHARTS[f"karpenter-{platform.karpenter.api}"]
    values, inputs = karpenter_values(platform, plan)
    values = _with_requests(values, plan, "karpenter")
    releases = [
        HelmRelease(
            name="karpenter",
            namespace=platform.karpenter.namespace,
            chart=karpenter_pin.chart,
            repo=karpenter_pin.repo,
            version=platform.karpenter.version or karpenter_pin.version,
            values=values,
            stage="core",
            aws_inputs=inputs,
        )
    ]
    calico_crds, operator = d.CHARTS["calicoCrds"], d.CHARTS["tigeraOperator"]
    releases += [
        HelmRelease(
            name="calico-crds",
            namespace=calico_crds.namespace,
            chart=calico_crds.chart,
            repo=calico_crds.repo,
            version=platform.calico.version,
            values={},
            stage="network",
            method="server-side",
        ),
        HelmRelease(
            name="calico",
            namespace=operator.namespace,
            chart=operator.chart,
            repo=operator.repo,
            version=platform.calico.version,
            values=_with_requests(tigera_operator_values(platform, plan), plan, "calico"),
            stage="network",
        ),
    ]
    for key, name, values_fn in ADDON_RELEASES:
        addon = platform.addons.by_key(key)
        if not addon.enabled:
            continue
        extra: dict[str, Any] = {}
        if key == "efsCsi":
            extra["aws_inputs"] = {
                "controller.serviceAccount.annotations.eks\\.amazonaws\\.com/role-arn": "irsa.EfsCsiControllerRoleArn"
            }
        values = _with_requests(values_fn(platform, plan), plan, name)
        releases.append(_release(name, addon, values, "addons", **extra))
    return releases
