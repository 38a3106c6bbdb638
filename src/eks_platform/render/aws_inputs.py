"""What the AWS stacks need from the platform, as data: endpoint access, Fargate profiles,
node security-group rules derived from the port plan, IAM roles, EKS managed add-ons."""

from __future__ import annotations

from eks_platform.render.bundle import Obj
from eks_platform.render.karpenter import instance_profile_name, interruption_queue_name
from eks_platform.render.placement import PlacementPlan
from eks_platform.spec import defaults as d
from eks_platform.spec.model import Platform


def render_cluster(platform: Platform) -> Obj:
    cluster = platform.cluster
    access = cluster.endpoint_access
    return {
        "name": cluster.name,
        "region": cluster.region,
        "kubernetesVersion": cluster.kubernetes_version,
        "vpc": {
            "id": cluster.vpc.id,
            "cidr": str(cluster.vpc.cidr),
            "privateSubnetIds": list(cluster.vpc.private_subnet_ids),
            "create": cluster.vpc.create,
            "availabilityZones": cluster.vpc.availability_zones,
        },
        "serviceCidr": str(cluster.service_cidr),
        "endpoint": {
            "privateAccess": True,
            "publicAccess": access.public,
            # who may reach the private endpoint (443 on the cluster security group)
            "accessCidrs": [str(c) for c in access.vpn_cidrs] + [str(p.cidr) for p in access.peered_vpcs],
        },
        "secretsEncryption": cluster.secrets_encryption,
        # who may use the Kubernetes API: EKS access entries (authentication mode API_AND_CONFIG_MAP)
        "accessEntries": [
            {
                "principalArn": entry.principal_arn,
                "policyArn": d.ACCESS_POLICIES[entry.policy],
                "scope": {"type": "namespace", "namespaces": list(entry.namespaces)}
                if entry.namespaces
                else {"type": "cluster"},
            }
            for entry in cluster.access_entries
        ],
        "logging": list(cluster.logging),
        # Calico replaces the VPC CNI: create the cluster without the default add-ons.
        "bootstrapSelfManagedAddons": False,
        "tags": dict(cluster.tags),
    }


def render_fargate_profiles(platform: Platform) -> Obj:
    return {
        "podExecutionRole": f"{platform.cluster.name}-fargate-pod-execution",
        "profiles": [
            {
                "name": profile.name,
                "selectors": [
                    {"namespace": s.namespace, **({"labels": dict(s.labels)} if s.labels else {})}
                    for s in profile.selectors
                ],
            }
            for profile in platform.fargate.profiles
        ],
    }


def render_node_security_group_rules(platform: Platform, plan: PlacementPlan) -> Obj:
    """Ingress rules of the node security group, one per host port something connects to."""
    rules: dict[tuple[int, str, str], Obj] = {}

    def add(port: int, protocol: str, source: str, why: str) -> None:
        rules.setdefault(
            (port, protocol, source),
            {"fromPort": port, "toPort": port, "protocol": protocol.lower(), "source": source, "description": why},
        )

    for uses in plan.ports_by_pool.values():
        for use in uses:
            port = use.port
            if port.loopback_only:
                continue
            if port.called_by_api_server:
                add(port.number, port.protocol, "clusterSecurityGroup", f"API server -> {use.owner} ({port.role})")
            if port.from_load_balancer:
                add(port.number, port.protocol, "vpcCidr", f"NLB IP targets -> {use.owner} ({port.role})")
    for number in platform.cluster.api_server_node_ports:
        add(number, "TCP", "clusterSecurityGroup", "API server -> a host-network webhook (cluster.apiServerNodePorts)")
    ordered = [rules[key] for key in sorted(rules)]
    # VXLAN, typha, node-exporter and every host-network port, and overlay traffic NATed to a node's IP.
    ordered.append(
        {
            "fromPort": 0,
            "toPort": 65535,
            "protocol": "-1",
            "source": "nodeSecurityGroup",
            "description": "nodes -> nodes (VXLAN 4789/udp, typha 5473, host-network ports, NATed pod traffic)",
        }
    )
    return {
        "vpcCidr": str(platform.cluster.vpc.cidr),
        # Nodes carry only the node security group (not the cluster one, which admits everything from the
        # control plane): each port the API server calls is opened above, one by one, and `eksp check`
        # (EP106) holds every host-network webhook to that.
        "ingress": ordered,
        # Fargate pods (CoreDNS) and the API server use the cluster security group: nodes must reach them.
        "clusterSecurityGroupIngress": [
            {
                "fromPort": 0,
                "toPort": 65535,
                "protocol": "-1",
                "source": "nodeSecurityGroup",
                "description": "nodes -> Fargate pods (CoreDNS) and the API server",
            }
        ],
    }


def render_iam(platform: Platform) -> Obj:
    name = platform.cluster.name
    roles: list[Obj] = [
        {"name": f"{name}-cluster", "for": "EKS control plane"},
        {"name": f"{name}-fargate-pod-execution", "for": "Fargate pods"},
        {
            "name": f"{name}-karpenter-node",
            "for": "Karpenter nodes",
            "instanceProfile": instance_profile_name(platform),
        },
        {
            "name": f"{name}-karpenter",
            "for": "Karpenter controller (IRSA)",
            "serviceAccount": f"{platform.karpenter.namespace}/karpenter",
            "output": "KarpenterControllerRoleArn",
        },
        {
            "name": f"{name}-ebs-csi",
            "for": "EBS CSI controller (IRSA)",
            "serviceAccount": "kube-system/ebs-csi-controller-sa",
        },
    ]
    if platform.addons.efs_csi.enabled:
        roles.append(
            {
                "name": f"{name}-efs-csi",
                "for": "EFS CSI controller (IRSA)",
                "serviceAccount": f"{platform.addons.efs_csi.namespace}/efs-csi-controller-sa",
                "output": "EfsCsiControllerRoleArn",
            }
        )
    return {"roles": roles}


def render_karpenter_infra(platform: Platform) -> Obj:
    return {
        "interruptionQueue": interruption_queue_name(platform) if platform.karpenter.interruption_queue else None,
        "discoveryTag": {"karpenter.sh/discovery": platform.cluster.name},
        # Karpenter's subnet and security-group selectors: the node security group only (see node-security-group).
        "tagged": ["privateSubnets", "nodeSecurityGroup"],
    }


def render_managed_addons(platform: Platform, plan: PlacementPlan) -> Obj:
    managed = platform.managed_addons
    coredns = {"computeType": "Fargate"} if plan.of("coredns").runs_on == "fargate" else {}
    ebs: Obj = {"controller": {"region": platform.cluster.region}}
    addons = [
        ("coredns", managed.coredns, coredns),
        ("kube-proxy", managed.kube_proxy, {}),
        ("aws-ebs-csi-driver", managed.ebs_csi, ebs),
    ]
    return {
        "addons": [
            {
                "name": name,
                "version": spec.version,
                "configuration": {**base, **spec.configuration},
                **({"serviceAccountRole": f"{platform.cluster.name}-ebs-csi"} if name == "aws-ebs-csi-driver" else {}),
            }
            for name, spec, base in addons
        ]
    }
