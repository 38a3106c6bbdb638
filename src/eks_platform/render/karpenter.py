"""Karpenter objects: AWSNodeTemplate + Provisioners (v1alpha5, as the seed writes them) or
EC2NodeClass + NodePools (v1, with the v1alpha5 defaults written out: facts/karpenter.md §4, §5)."""

from __future__ import annotations

from collections.abc import Sequence

from eks_platform.render.bundle import Obj
from eks_platform.spec import defaults as d
from eks_platform.spec.instance_catalog import InstanceCatalog
from eks_platform.spec.model import Platform, ProvisionerSpec, Requirement, Taint
from eks_platform.spec.validation import (
    ARCH,
    CAPACITY_TYPE,
    CATEGORY,
    FAMILY,
    GENERATION,
    INSTANCE_TYPE,
    OS,
    pinned_instance_type,
)

PILOT_EMPTY_TTL_SECONDS = 300
# Marks a pool meant to be one node (the add-ons node, each pilot's): `eksp check` holds it to that.
SINGLE_NODE_ANNOTATION = "eks-platform.io/single-node"


def instance_profile_name(platform: Platform) -> str:
    return f"KarpenterNodeInstanceProfile-{platform.cluster.name}"


def interruption_queue_name(platform: Platform) -> str:
    return f"{platform.cluster.name}-karpenter"


def pilot_provisioner(name: str, instance_type: str) -> ProvisionerSpec:
    """The dedicated pool of one pilot: one instance type, its own label and taint, one node."""
    return ProvisionerSpec(
        name=f"pilot-{name}",
        requirements=[
            Requirement(key=INSTANCE_TYPE, operator="In", values=[instance_type]),
            Requirement(key=CAPACITY_TYPE, operator="In", values=["on-demand"]),
            # the instance type decides the architecture; without this, v1alpha5's default (amd64) would
            # leave an arm64 pilot (m6g, t4g, c7g...) a pool that can launch nothing
            Requirement(key=ARCH, operator="In", values=["amd64", "arm64"]),
        ],
        labels={d.PILOT_LABEL: name},
        taints=[Taint(key=d.PILOT_LABEL, value=name, effect="NoSchedule")],
        ttl_seconds_after_empty=PILOT_EMPTY_TTL_SECONDS,
        single_node=True,
    )


def all_provisioners(platform: Platform) -> list[ProvisionerSpec]:
    return list(platform.karpenter.provisioners) + [pilot_provisioner(p.name, p.instance_type) for p in platform.pilots]


def pool_node_selector(platform: Platform, pool: str) -> dict[str, str]:
    provisioner = next(p for p in all_provisioners(platform) if p.name == pool)
    if provisioner.labels:
        return dict(provisioner.labels)
    key = "karpenter.sh/provisioner-name" if platform.karpenter.api == "v1alpha5" else "karpenter.sh/nodepool"
    return {key: pool}


def pool_tolerations(platform: Platform, pool: str) -> list[Obj]:
    provisioner = next(p for p in all_provisioners(platform) if p.name == pool)
    return [_toleration(t) for t in provisioner.taints]


def _toleration(taint: Taint) -> Obj:
    if taint.value is None:
        return {"key": taint.key, "operator": "Exists", "effect": taint.effect}
    return {"key": taint.key, "operator": "Equal", "value": taint.value, "effect": taint.effect}


def render_karpenter(platform: Platform, catalog: InstanceCatalog) -> list[Obj]:
    provisioners = all_provisioners(platform)
    if platform.karpenter.api == "v1alpha5":
        return [_aws_node_template(platform)] + [_provisioner(platform, p, catalog) for p in provisioners]
    classes = _node_class_names(platform, provisioners)
    return [_ec2_node_class(platform, name, max_pods) for max_pods, name in sorted(classes.items())] + [
        _node_pool(platform, p, catalog, node_class=classes[p.max_pods]) for p in provisioners
    ]


def _labels() -> dict[str, str]:
    return {d.MANAGED_BY_LABEL: d.MANAGED_BY_VALUE}


def _discovery(platform: Platform) -> dict[str, str]:
    return {d.DISCOVERY_TAG_KEY: platform.cluster.name}


def _tags(platform: Platform) -> dict[str, str]:
    return {
        **platform.cluster.tags,
        **platform.karpenter.node_template.tags,
        "eks-platform.io/cluster": platform.cluster.name,
    }


def _block_devices(platform: Platform) -> list[Obj]:
    template = platform.karpenter.node_template
    devices = []
    for device, volume in (("/dev/xvda", template.os_volume), ("/dev/xvdb", template.data_volume)):
        ebs: Obj = {
            "volumeSize": volume.size,
            "volumeType": volume.type,
            "encrypted": volume.encrypted,
            "deleteOnTermination": True,
        }
        if volume.iops is not None:
            ebs["iops"] = volume.iops
        if volume.throughput is not None:
            ebs["throughput"] = volume.throughput
        devices.append({"deviceName": device, "ebs": ebs})
    return devices


def _metadata_options(platform: Platform) -> Obj:
    options = platform.karpenter.node_template.metadata_options
    return {
        "httpEndpoint": "enabled",
        "httpProtocolIPv6": "disabled",
        "httpPutResponseHopLimit": options.http_put_response_hop_limit,
        "httpTokens": options.http_tokens,
    }


def _single_node_limits(provisioner: ProvisionerSpec, catalog: InstanceCatalog) -> dict[str, str]:
    """Limits that admit exactly one node: Karpenter drops types whose capacity exceeds what is left."""
    limits = {k: str(v) for k, v in provisioner.limits.items()}
    instance_type = pinned_instance_type(provisioner)
    if provisioner.single_node and instance_type:
        known = catalog.get(instance_type)
        if known is not None:
            limits["cpu"] = str(known.vcpu)
    return limits


def _requirement(r: Requirement) -> Obj:
    obj: Obj = {"key": r.key, "operator": r.operator}
    if r.values or r.operator in ("In", "NotIn", "Gt", "Lt"):
        obj["values"] = list(r.values)
    return obj


# --- v1alpha5 ------------------------------------------------------------------------------------


def _aws_node_template(platform: Platform) -> Obj:
    template = platform.karpenter.node_template
    return {
        "apiVersion": "karpenter.k8s.aws/v1alpha1",
        "kind": "AWSNodeTemplate",
        "metadata": {"name": template.name, "labels": _labels()},
        "spec": {
            "amiFamily": template.ami_family,
            "subnetSelector": _discovery(platform),
            "securityGroupSelector": _discovery(platform),
            "instanceProfile": instance_profile_name(platform),
            "blockDeviceMappings": _block_devices(platform),
            "metadataOptions": _metadata_options(platform),
            "detailedMonitoring": template.detailed_monitoring,
            "tags": _tags(platform),
        },
    }


def _pool_metadata(provisioner: ProvisionerSpec) -> Obj:
    metadata: Obj = {"name": provisioner.name, "labels": _labels()}
    if provisioner.single_node:
        metadata["annotations"] = {SINGLE_NODE_ANNOTATION: "true"}
    return metadata


def _provisioner(platform: Platform, provisioner: ProvisionerSpec, catalog: InstanceCatalog) -> Obj:
    spec: Obj = {"requirements": [_requirement(r) for r in provisioner.requirements]}
    if provisioner.labels:
        spec["labels"] = dict(provisioner.labels)
    if provisioner.taints:
        spec["taints"] = [_taint(t) for t in provisioner.taints]
    if provisioner.ttl_seconds_until_expired is not None:
        spec["ttlSecondsUntilExpired"] = provisioner.ttl_seconds_until_expired
    if provisioner.ttl_seconds_after_empty is not None:
        spec["ttlSecondsAfterEmpty"] = provisioner.ttl_seconds_after_empty
    if provisioner.consolidation:
        spec["consolidation"] = {"enabled": True}
    limits = _single_node_limits(provisioner, catalog)
    if limits:
        spec["limits"] = {"resources": limits}
    if provisioner.weight is not None:
        spec["weight"] = provisioner.weight
    spec["kubeletConfiguration"] = {"maxPods": provisioner.max_pods}
    spec["providerRef"] = {"name": platform.karpenter.node_template.name}
    return {
        "apiVersion": "karpenter.sh/v1alpha5",
        "kind": "Provisioner",
        "metadata": _pool_metadata(provisioner),
        "spec": spec,
    }


def _taint(taint: Taint) -> Obj:
    obj: Obj = {"key": taint.key, "effect": taint.effect}
    if taint.value is not None:
        obj["value"] = taint.value
    return obj


# --- v1 ------------------------------------------------------------------------------------------


def _node_class_names(platform: Platform, provisioners: Sequence[ProvisionerSpec]) -> dict[int, str]:
    """kubelet settings live on the EC2NodeClass in v1: one class per distinct maxPods."""
    base = platform.karpenter.node_template.name
    values = sorted({p.max_pods for p in provisioners})
    if len(values) == 1:
        return {values[0]: base}
    return {value: f"{base}-maxpods-{value}" for value in values}


def _ec2_node_class(platform: Platform, name: str, max_pods: int) -> Obj:
    template = platform.karpenter.node_template
    return {
        "apiVersion": "karpenter.k8s.aws/v1",
        "kind": "EC2NodeClass",
        "metadata": {"name": name, "labels": _labels()},
        "spec": {
            "amiSelectorTerms": [{"alias": template.ami_alias}],
            "subnetSelectorTerms": [{"tags": _discovery(platform)}],
            "securityGroupSelectorTerms": [{"tags": _discovery(platform)}],
            "instanceProfile": instance_profile_name(platform),
            "kubelet": {"maxPods": max_pods},
            "blockDeviceMappings": _block_devices(platform),
            "metadataOptions": _metadata_options(platform),
            "detailedMonitoring": template.detailed_monitoring,
            "tags": _tags(platform),
        },
    }


def v1alpha5_defaults(keys: set[str]) -> list[Obj]:
    """The requirements Karpenter v0.31's webhook adds to a Provisioner whose requirements and labels
    (`keys`) leave them out (facts/karpenter.md §4). v1 adds none, so the v1 render writes them out."""
    defaults: list[Obj] = [
        {"key": key, "operator": "In", "values": [value]}
        for key, value in ((OS, "linux"), (ARCH, "amd64"), (CAPACITY_TYPE, "on-demand"))
        if key not in keys
    ]
    if not keys & {INSTANCE_TYPE, FAMILY, CATEGORY, GENERATION}:
        defaults.append({"key": CATEGORY, "operator": "In", "values": ["c", "m", "r"]})
        defaults.append({"key": GENERATION, "operator": "Gt", "values": ["2"]})
    return defaults


def _v1_requirements(provisioner: ProvisionerSpec) -> list[Obj]:
    """The user's requirements plus the defaults the v1alpha5 webhook added (v1 adds none)."""
    keys = {r.key for r in provisioner.requirements} | set(provisioner.labels)
    return [_requirement(r) for r in provisioner.requirements] + v1alpha5_defaults(keys)


def go_duration(seconds: int) -> str:
    """604800 -> '168h'; 90 -> '1m30s' (the format NodePool durations take)."""
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    text = (f"{hours}h" if hours else "") + (f"{minutes}m" if minutes else "") + (f"{secs}s" if secs else "")
    return text or "0s"


def _disruption(provisioner: ProvisionerSpec) -> Obj:
    if provisioner.consolidation:
        policy, after = "WhenEmptyOrUnderutilized", "0s"
    elif provisioner.ttl_seconds_after_empty is not None:
        policy, after = "WhenEmpty", go_duration(provisioner.ttl_seconds_after_empty)
    else:
        policy, after = "WhenEmpty", "Never"
    # v1alpha5 had no disruption budgets; 100% keeps that (v1's default would be 10%).
    return {"consolidationPolicy": policy, "consolidateAfter": after, "budgets": [{"nodes": "100%"}]}


def _node_pool(platform: Platform, provisioner: ProvisionerSpec, catalog: InstanceCatalog, *, node_class: str) -> Obj:
    template_spec: Obj = {
        "requirements": _v1_requirements(provisioner),
        "nodeClassRef": {"group": "karpenter.k8s.aws", "kind": "EC2NodeClass", "name": node_class},
        "expireAfter": go_duration(provisioner.ttl_seconds_until_expired)
        if provisioner.ttl_seconds_until_expired is not None
        else "Never",
    }
    if provisioner.taints:
        template_spec["taints"] = [_taint(t) for t in provisioner.taints]
    template: Obj = {"spec": template_spec}
    if provisioner.labels:
        template = {"metadata": {"labels": dict(provisioner.labels)}, **template}
    spec: Obj = {"template": template, "disruption": _disruption(provisioner)}
    limits = _single_node_limits(provisioner, catalog)
    if provisioner.single_node:
        limits["nodes"] = "1"
    if limits:
        spec["limits"] = limits
    if provisioner.weight is not None:
        spec["weight"] = provisioner.weight
    return {
        "apiVersion": "karpenter.sh/v1",
        "kind": "NodePool",
        "metadata": _pool_metadata(provisioner),
        "spec": spec,
    }
