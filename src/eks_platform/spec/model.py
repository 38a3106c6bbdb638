"""The platform spec: a typed model of the whole platform (pydantic v2).

YAML keys are camelCase, Python attributes snake_case; unknown keys are rejected.
Static defaults come from defaults.py; cross-field rules live in validation.py.
"""

from __future__ import annotations

from ipaddress import IPv4Network
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from eks_platform.spec import defaults as d

DnsLabel = Annotated[str, Field(pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", max_length=63)]
LabelValue = Annotated[str, Field(pattern=r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$", max_length=63)]
RunsOn = Literal["fargate", "hostNetwork", "overlay"]
Port = Annotated[int, Field(ge=1, le=65535)]


class Base(BaseModel):
    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, populate_by_name=True, frozen=True, strict=True)


# --- cluster -------------------------------------------------------------------------------------


class PeeredVpc(Base):
    name: DnsLabel
    cidr: Annotated[IPv4Network, Field(strict=False)]
    vpc_id: Annotated[str, Field(pattern=r"^vpc-[0-9a-f]{8,17}$")] | None = None


class EndpointAccess(Base):
    public: bool = False
    vpn_cidrs: list[Annotated[IPv4Network, Field(strict=False)]] = []
    peered_vpcs: list[PeeredVpc] = []


class VpcSpec(Base):
    id: Annotated[str, Field(pattern=r"^vpc-[0-9a-f]{8,17}$")] | None = None
    cidr: Annotated[IPv4Network, Field(strict=False)]
    private_subnet_ids: list[Annotated[str, Field(pattern=r"^subnet-[0-9a-f]{8,17}$")]] = []
    create: bool = False
    availability_zones: Annotated[int, Field(ge=2, le=6)] = 3
    endpoints: list[str] | None = None  # VPC endpoints that already exist (service short names); None: unknown


ControlPlaneLog = Literal["api", "audit", "authenticator", "controllerManager", "scheduler"]
AccessPolicy = Literal["cluster-admin", "admin", "edit", "view"]


class AccessEntry(Base):
    """Who may use the Kubernetes API (EKS access entries): an IAM role or user and an EKS access policy,
    cluster-wide or limited to namespaces."""

    principal_arn: Annotated[str, Field(pattern=r"^arn:aws[a-z-]*:iam::\d{12}:(role|user)/[\w+=,.@/-]+$")]
    policy: AccessPolicy = "view"
    namespaces: list[DnsLabel] = []


class ClusterSpec(Base):
    name: Annotated[str, Field(pattern=rf"^[a-zA-Z][a-zA-Z0-9-]{{0,{d.MAX_CLUSTER_NAME - 1}}}$")]
    region: Annotated[str, Field(pattern=r"^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d$")]
    kubernetes_version: Annotated[str, Field(pattern=r"^1\.\d{2}$")] = d.KUBERNETES_VERSION
    vpc: VpcSpec
    service_cidr: Annotated[IPv4Network, Field(strict=False)] = IPv4Network(d.SERVICE_CIDR)
    endpoint_access: EndpointAccess = EndpointAccess()
    secrets_encryption: bool = True
    logging: list[ControlPlaneLog] = list(d.CONTROL_PLANE_LOGS)  # type: ignore[arg-type]
    # Host ports on EC2 nodes that the API server must reach besides the platform's own: the ports of
    # your host-network webhooks and APIServices (opened from the cluster security group).
    api_server_node_ports: list[Port] = []
    access_entries: list[AccessEntry] = []
    tags: dict[str, str] = {}


# --- fargate -------------------------------------------------------------------------------------


class FargateSelector(Base):
    namespace: Annotated[str, Field(pattern=r"^[a-z0-9*?]([-a-z0-9*?]*[a-z0-9*?])?$", max_length=63)]
    labels: dict[str, str] = {}


class FargateProfile(Base):
    name: Annotated[str, Field(pattern=r"^[0-9A-Za-z][A-Za-z0-9\-_]*$", max_length=100)]
    selectors: Annotated[list[FargateSelector], Field(min_length=1)]


def _default_fargate_profiles() -> list[FargateProfile]:
    fargate = {d.FARGATE_POD_LABEL: d.FARGATE_POD_LABEL_VALUE}
    return [
        FargateProfile(
            name="core",
            selectors=[
                FargateSelector(namespace="kube-system", labels={"k8s-app": "kube-dns"}),
                FargateSelector(namespace="kube-system", labels={"app": "ebs-csi-controller"}),
                FargateSelector(namespace="kube-system", labels={"app": "efs-csi-controller"}),
                FargateSelector(namespace="kube-system", labels=fargate),
                FargateSelector(namespace=d.KARPENTER_NAMESPACE),
            ],
        ),
        FargateProfile(
            name="platform",
            selectors=[
                FargateSelector(namespace="calico-system", labels=fargate),
                FargateSelector(namespace="monitoring", labels=fargate),
            ],
        ),
    ]


class FargateSpec(Base):
    profiles: list[FargateProfile] = Field(default_factory=_default_fargate_profiles)


# --- calico --------------------------------------------------------------------------------------


class IpPoolSpec(Base):
    name: DnsLabel = "default-ipv4-ippool"
    cidr: Annotated[IPv4Network, Field(strict=False)] = IPv4Network(d.IPPOOL_CIDR)
    block_size: Annotated[int, Field(ge=20, le=32)] = d.IPPOOL_BLOCK_SIZE
    encapsulation: Literal["VXLAN", "VXLANCrossSubnet"] = "VXLAN"
    nat_outgoing: bool = True


class CalicoSpec(Base):
    version: Annotated[str, Field(pattern=r"^v3\.\d+\.\d+$")] = d.CALICO_VERSION
    ip_pool: IpPoolSpec = IpPoolSpec()
    control_plane_replicas: Annotated[int, Field(ge=1, le=5)] = d.CALICO_CONTROL_PLANE_REPLICAS
    api_server_port: Port = d.CALICO_APISERVER_PORT
    pool: DnsLabel = d.ADDONS_POOL  # the EC2 pool of tigera-operator and calico-apiserver
    image_registry: str | None = None  # overrides registry.prefix for Calico images only


# --- karpenter -----------------------------------------------------------------------------------


class Requirement(Base):
    key: Annotated[str, Field(min_length=1, max_length=316)]
    operator: Literal["In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt"]
    values: list[str] = []


class Taint(Base):
    key: Annotated[str, Field(min_length=1)]
    value: str | None = None
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"]


class Volume(Base):
    size: Annotated[str, Field(pattern=r"^[1-9][0-9]*Gi$")]
    type: Literal["gp3", "gp2", "io1", "io2"] = "gp3"
    encrypted: bool = True
    iops: int | None = None
    throughput: int | None = None


class MetadataOptions(Base):
    http_tokens: Literal["required", "optional"] = "required"
    http_put_response_hop_limit: Annotated[int, Field(ge=1, le=64)] = 1


class NodeTemplateSpec(Base):
    name: DnsLabel = d.NODE_TEMPLATE_NAME
    ami_family: Literal["Bottlerocket"] = "Bottlerocket"
    ami_alias: Annotated[str, Field(pattern=r"^bottlerocket@(latest|v?\d+\.\d+\.\d+)$")] = d.AMI_ALIAS
    os_volume: Volume = Volume(size=d.OS_VOLUME_SIZE)
    data_volume: Volume = Volume(size=d.DATA_VOLUME_SIZE)
    metadata_options: MetadataOptions = MetadataOptions()
    detailed_monitoring: bool = False
    tags: dict[str, str] = {}


class ProvisionerSpec(Base):
    name: DnsLabel
    weight: Annotated[int, Field(ge=1, le=100)] | None = None
    requirements: list[Requirement] = []
    labels: dict[str, str] = {}
    taints: list[Taint] = []
    ttl_seconds_until_expired: Annotated[int, Field(ge=0)] | None = None
    ttl_seconds_after_empty: Annotated[int, Field(ge=0)] | None = None
    consolidation: bool = False
    limits: dict[str, Annotated[str, Field(strict=False)]] = {}
    max_pods: Annotated[int, Field(ge=1, le=737)] = d.MAX_PODS
    single_node: bool = False


class KarpenterSpec(Base):
    api: Literal["v1alpha5", "v1"] = d.KARPENTER_API  # type: ignore[assignment]
    version: Annotated[str, Field(pattern=r"^v?\d+\.\d+\.\d+$")] | None = None  # default: by API (defaults.py)
    namespace: DnsLabel = d.KARPENTER_NAMESPACE
    runs_on: Literal["fargate", "hostNetwork"] = "fargate"
    pool: DnsLabel = d.ADDONS_POOL
    interruption_queue: bool = True
    node_template: NodeTemplateSpec = NodeTemplateSpec()
    provisioners: Annotated[list[ProvisionerSpec], Field(min_length=1)]


# --- add-ons -------------------------------------------------------------------------------------


class AddonSpec(Base):
    """One Helm release. Empty chart/repo/version/namespace are filled from defaults.CHARTS."""

    enabled: bool = True
    chart: str = ""
    repo: str = ""
    version: str = ""
    namespace: DnsLabel | Literal[""] = ""
    runs_on: RunsOn | None = None  # None: the component's own default placement (render/components.py)
    pool: DnsLabel = d.ADDONS_POOL
    port: Port | None = None  # the served port, where the component's port can move
    values: dict[str, Any] = {}


class ManagedAddonSpec(Base):
    """An EKS managed add-on. version None: the default version EKS picks for the cluster version."""

    version: str | None = None
    configuration: dict[str, Any] = {}


class ManagedAddonsSpec(Base):
    coredns: ManagedAddonSpec = ManagedAddonSpec()
    kube_proxy: ManagedAddonSpec = ManagedAddonSpec()
    ebs_csi: ManagedAddonSpec = ManagedAddonSpec()


class AddonsSpec(Base):
    efs_csi: AddonSpec = AddonSpec()
    ingress_nginx: AddonSpec = AddonSpec()
    replicator: AddonSpec = AddonSpec()
    kubecost: AddonSpec = AddonSpec()
    metrics_server: AddonSpec = AddonSpec()
    prometheus: AddonSpec = AddonSpec()
    grafana: AddonSpec = AddonSpec()
    loki: AddonSpec = AddonSpec()

    def by_key(self, key: str) -> AddonSpec:
        """The add-on written under `key` (its camelCase YAML key, e.g. metricsServer)."""
        name = next(name for name, field in type(self).model_fields.items() if (field.alias or name) == key)
        addon: AddonSpec = getattr(self, name)
        return addon


# --- pilots, namespaces, registry ----------------------------------------------------------------


class PilotSpec(Base):
    name: Annotated[str, Field(pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", max_length=d.MAX_PILOT_NAME)]
    instance_type: str
    namespace: DnsLabel | None = None  # default: pilot-<name>
    # The pilot's own manifests: a directory or a file, relative to the spec file. eks-platform pins them to the
    # pilot's node (pilots/plan.py); None: the pilot brings its workloads some other way.
    manifests: Annotated[str, Field(min_length=1)] | None = None


class NamespaceSpec(Base):
    name: DnsLabel
    labels: dict[str, str] = {}


class RegistrySpec(Base):
    prefix: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9.\-:]*(/[a-z0-9._\-]+)*$")]


class Platform(Base):
    api_version: Literal["eks-platform.io/v1alpha1"] = "eks-platform.io/v1alpha1"
    kind: Literal["Platform"] = "Platform"
    cluster: ClusterSpec
    fargate: FargateSpec = FargateSpec()
    calico: CalicoSpec = CalicoSpec()
    karpenter: KarpenterSpec
    managed_addons: ManagedAddonsSpec = ManagedAddonsSpec()
    addons: AddonsSpec = AddonsSpec()
    pilots: list[PilotSpec] = []
    namespaces: list[NamespaceSpec] = []
    registry: RegistrySpec | None = None
