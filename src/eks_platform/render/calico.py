"""Calico: the operator's Installation and APIServer, and the projectcalico.org/v3 policies of
every application and pilot namespace (facts/calico-and-addons.md §1)."""

from __future__ import annotations

from eks_platform.render.bundle import Obj
from eks_platform.render.images import registry_for
from eks_platform.render.karpenter import pool_node_selector, pool_tolerations
from eks_platform.render.placement import Placement, PlacementPlan
from eks_platform.spec import defaults as d
from eks_platform.spec.model import Platform

NOT_ON_FARGATE: Obj = {
    "nodeSelectorTerms": [
        {"matchExpressions": [{"key": "eks.amazonaws.com/compute-type", "operator": "NotIn", "values": ["fargate"]}]}
    ]
}
CRITICAL_ADDONS_ONLY: Obj = {"key": "CriticalAddonsOnly", "operator": "Exists"}


def _meta(name: str, namespace: str | None = None) -> Obj:
    meta: Obj = {"name": name, "labels": {d.MANAGED_BY_LABEL: d.MANAGED_BY_VALUE}}
    if namespace:
        meta["namespace"] = namespace
    return meta


def calico_registry(platform: Platform) -> str:
    """Installation.spec.registry: must end with a slash."""
    registry = platform.calico.image_registry or registry_for(platform, "quay.io")
    return registry.rstrip("/") + "/"


def render_installation(platform: Platform, plan: PlacementPlan) -> Obj:
    pool = platform.calico.ip_pool
    spec: Obj = {
        "kubernetesProvider": "EKS",
        "cni": {"type": "Calico", "ipam": {"type": "Calico"}},
        "calicoNetwork": {
            "bgp": "Disabled",
            "ipPools": [
                {
                    "name": pool.name,
                    "cidr": str(pool.cidr),
                    "blockSize": pool.block_size,
                    "encapsulation": pool.encapsulation,
                    "natOutgoing": "Enabled" if pool.nat_outgoing else "Disabled",
                    "nodeSelector": "all()",
                }
            ],
        },
        "registry": calico_registry(platform),
        "controlPlaneReplicas": platform.calico.control_plane_replicas,
        # replaces typha's tolerate-everything: typha may use the add-ons node and untainted nodes, never a pilot's
        "controlPlaneTolerations": [*pool_tolerations(platform, platform.calico.pool), CRITICAL_ADDONS_ONLY],
        "typhaDeployment": {
            "spec": {
                "template": {
                    "spec": {
                        "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": NOT_ON_FARGATE}}
                    }
                }
            }
        },
        "kubeletVolumePluginPath": "None",
    }
    controllers = plan.of("calico-kube-controllers")
    if controllers.runs_on == "fargate":
        spec["calicoKubeControllersDeployment"] = {
            "spec": {"template": {"metadata": {"labels": {d.FARGATE_POD_LABEL: d.FARGATE_POD_LABEL_VALUE}}}}
        }
    else:
        spec["calicoKubeControllersDeployment"] = {
            "spec": {"template": {"spec": {"nodeSelector": pool_node_selector(platform, platform.calico.pool)}}}
        }
    return {"apiVersion": "operator.tigera.io/v1", "kind": "Installation", "metadata": _meta("default"), "spec": spec}


def render_apiserver(platform: Platform, plan: PlacementPlan) -> Obj:
    port = plan.of("calico-apiserver").port("apiserver").number
    pool = platform.calico.pool
    template_spec: Obj = {
        "nodeSelector": pool_node_selector(platform, pool),
        "tolerations": [*pool_tolerations(platform, pool), CRITICAL_ADDONS_ONLY],
        "containers": [{"name": "calico-apiserver", "ports": [{"name": "apiserver", "containerPort": port}]}],
    }
    return {
        "apiVersion": "operator.tigera.io/v1",
        "kind": "APIServer",
        "metadata": _meta("default"),
        "spec": {"apiServerDeployment": {"spec": {"template": {"spec": template_spec}}}},
    }


def render_policies(platform: Platform, plan: PlacementPlan) -> list[Obj]:
    """Per application and pilot namespace: default deny, then what the platform itself needs."""
    namespaces = [n.name for n in platform.namespaces] + [p.namespace or "" for p in platform.pilots]
    objects: list[Obj] = []
    for namespace in namespaces:
        objects += [
            _policy("default-deny", namespace, order=2000, types=["Ingress", "Egress"]),
            _policy(
                "allow-dns",
                namespace,
                order=100,
                types=["Egress"],
                egress=[
                    # CoreDNS runs on Fargate: no Calico endpoint to select, so match the Service's endpoints.
                    {
                        "action": "Allow",
                        "protocol": protocol,
                        "destination": {"services": {"name": "kube-dns", "namespace": "kube-system"}},
                    }
                    for protocol in ("UDP", "TCP")
                ],
            ),
            _policy(
                "allow-same-namespace",
                namespace,
                order=200,
                types=["Ingress", "Egress"],
                ingress=[
                    {
                        "action": "Allow",
                        "source": {"namespaceSelector": _namespace_is(namespace)},
                    }
                ],
                egress=[
                    {
                        "action": "Allow",
                        "destination": {"namespaceSelector": _namespace_is(namespace)},
                    }
                ],
            ),
        ]
        ingress = plan.get("ingress-nginx-controller")
        if ingress is not None:
            objects.append(
                _policy(
                    "allow-from-ingress-nginx",
                    namespace,
                    order=300,
                    types=["Ingress"],
                    # ingress-nginx runs in the host network of its node: its connections come from the node's
                    # IP or VXLAN tunnel address, which no pod selector matches. Calico's automatic host
                    # endpoints carry both addresses and the node's labels, so select the node.
                    ingress=[
                        {
                            "action": "Allow",
                            "protocol": "TCP",
                            "source": {
                                "namespaceSelector": "global()",
                                "selector": _node_selector_expression(platform, ingress),
                            },
                        }
                    ],
                )
            )
        prometheus = plan.get("prometheus")
        if prometheus is not None:
            objects.append(
                _policy(
                    "allow-from-prometheus",
                    namespace,
                    order=300,
                    types=["Ingress"],
                    ingress=[
                        {
                            "action": "Allow",
                            "protocol": "TCP",
                            "source": {
                                "namespaceSelector": _namespace_is(prometheus.component.namespace),
                                "selector": "app.kubernetes.io/name == 'prometheus'",
                            },
                        }
                    ],
                )
            )
    return objects


def _namespace_is(namespace: str) -> str:
    return f"kubernetes.io/metadata.name == '{namespace}'"


def _node_selector_expression(platform: Platform, placement: Placement) -> str:
    labels = pool_node_selector(platform, placement.pools[0])
    return " && ".join(f"{key} == '{value}'" for key, value in sorted(labels.items()))


def render_kube_controllers_configuration() -> Obj:
    """Automatic host endpoints: what lets a policy name a node (and its host-network pods) as a source."""
    return {
        "apiVersion": "projectcalico.org/v3",
        "kind": "KubeControllersConfiguration",
        "metadata": {"name": "default"},
        "spec": {"controllers": {"node": {"hostEndpoint": {"autoCreate": "Enabled"}}}},
    }


def _policy(
    name: str,
    namespace: str,
    *,
    order: int,
    types: list[str],
    ingress: list[Obj] | None = None,
    egress: list[Obj] | None = None,
) -> Obj:
    spec: Obj = {"order": order, "selector": "all()", "types": types}
    if ingress is not None:
        spec["ingress"] = ingress
    if egress is not None:
        spec["egress"] = egress
    return {
        "apiVersion": "projectcalico.org/v3",
        "kind": "NetworkPolicy",
        "metadata": _meta(name, namespace),
        "spec": spec,
    }
