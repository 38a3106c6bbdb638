"""plan_pilot: the platform objects of one pilot, its workloads pinned to its node, the fit, the refusals."""

from __future__ import annotations

import copy

import kubernetes_validate
import pytest
from tests.pilots.helpers import deployment, reference, shop
from tests.reference_edits import catalog
from tests.render.test_schemas import CORE_API_VERSIONS

from eks_platform.checks import check
from eks_platform.checks.objects import KubeObject
from eks_platform.checks.pods import pod_templates
from eks_platform.checks.scheduling import fits_pool, node_pools, pool_allows, tolerates
from eks_platform.pilots import PilotPlan, pilot_from_args, plan_pilot
from eks_platform.plan.allocatable import Resources
from eks_platform.render import render
from eks_platform.schemas.crd_validation import validate_custom_resource
from eks_platform.spec import defaults as d
from eks_platform.spec.loading import LoadedSpec, SourceMap

APIS = ["v1", "v1alpha5"]
PILOT_TAINT = {"key": d.PILOT_LABEL, "value": "shop", "effect": "NoSchedule"}
CORE = CORE_API_VERSIONS | {"batch/v1", "storage.k8s.io/v1"}


def plan(api: str = "v1", instance_type: str = "m6a.4xlarge", workloads: list | None = None) -> PilotPlan:  # type: ignore[type-arg]
    return plan_pilot(
        reference(api),
        pilot_from_args("shop", instance_type),
        workloads=shop() if workloads is None else workloads,
        catalog=catalog(),
    )


# --- objects -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("api", APIS)
def test_platform_objects_are_the_pilots_share_of_eksp_render(api: str) -> None:
    result = plan(api)
    kinds = [(o["kind"], o["metadata"]["name"]) for o in result.platform_objects]
    pool, node_class = ("NodePool", "EC2NodeClass") if api == "v1" else ("Provisioner", "AWSNodeTemplate")
    assert kinds == [
        ("Namespace", "pilot-shop"),
        (node_class, "bottlerocket"),
        (pool, "pilot-shop"),
        ("NetworkPolicy", "allow-dns"),
        ("NetworkPolicy", "allow-from-ingress-nginx"),
        ("NetworkPolicy", "allow-from-prometheus"),
        ("NetworkPolicy", "allow-same-namespace"),
        ("NetworkPolicy", "default-deny"),
        ("LimitRange", "container-defaults"),
        ("ResourceQuota", "pilot-node"),
    ]
    rendered = render(result.platform, catalog=catalog()).manifests
    assert all(obj in rendered for obj in result.platform_objects)


@pytest.mark.parametrize("api", APIS)
def test_every_object_validates(api: str) -> None:
    result = plan(api)
    docs = [*result.platform_objects, *(o.doc for o in result.workloads)]
    custom = 0
    for doc in docs:
        if doc["apiVersion"] in CORE:
            kubernetes_validate.validate(doc, "1.33", strict=True)
        else:
            assert validate_custom_resource(doc) == [], doc["metadata"]["name"]
            custom += 1
    assert custom == 7  # node class, pool, five Calico policies
    assert {o.kind for o in result.workloads} == {
        "ConfigMap",
        "CronJob",
        "Deployment",
        "Secret",
        "Service",
        "StatefulSet",
    }


# --- placement ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("api", APIS)
def test_every_patched_pod_lands_on_the_pilot_pool_and_no_other(api: str) -> None:
    result = plan(api)
    rendered = render(result.platform, catalog=catalog()).manifests
    pools = node_pools([KubeObject(doc=o) for o in rendered], catalog())
    assert len(pools) == 5  # addons, default, alpha, beta, shop
    pilot_pool = next(p for p in pools if p.name == "pilot-shop")
    templates = list(pod_templates(result.workloads))
    assert {t.owner.name for t in templates} == {"frontend", "api", "postgres", "expire-carts"}
    for template in templates:
        spec = template.spec
        assert tolerates(spec["tolerations"], PILOT_TAINT)
        assert pool_allows(pilot_pool, d.PILOT_LABEL, "In", ["shop"])
        assert [p.name for p in pools if fits_pool(template, p)] == ["pilot-shop"], template.owner.name
    assert result.refusals == () and result.notes == ()


def test_patching_merges_the_selector_and_does_not_duplicate_the_toleration() -> None:
    mine = deployment("worker")
    spec = mine["spec"]["template"]["spec"]
    spec["nodeSelector"] = {"kubernetes.io/arch": "amd64"}
    spec["tolerations"] = [
        {"key": "dedicated", "operator": "Exists"},
        {"key": d.PILOT_LABEL, "operator": "Equal", "value": "shop", "effect": "NoSchedule"},
    ]
    bare = deployment("bare")
    result = plan(workloads=[mine, bare])
    patched, plain = (o.doc["spec"]["template"]["spec"] for o in result.workloads)
    assert patched["nodeSelector"] == {"kubernetes.io/arch": "amd64", d.PILOT_LABEL: "shop"}
    assert patched["tolerations"] == spec["tolerations"]
    assert plain["nodeSelector"] == {d.PILOT_LABEL: "shop"}
    assert plain["tolerations"] == [
        {"key": d.PILOT_LABEL, "operator": "Equal", "value": "shop", "effect": "NoSchedule"}
    ]
    assert [o.namespace for o in result.workloads] == ["pilot-shop", "pilot-shop"]
    assert result.refusals == ()


def test_a_pod_that_its_own_selector_sends_elsewhere_is_refused() -> None:
    arm = deployment("arm")
    arm["spec"]["template"]["spec"]["nodeSelector"] = {"kubernetes.io/arch": "arm64"}
    other = deployment("other")
    other["spec"]["template"]["spec"]["nodeSelector"] = {d.PILOT_LABEL: "alpha"}
    assert plan(workloads=[arm, other]).refusals == (
        "Deployment pilot-shop/other has nodeSelector eks-platform.io/pilot: alpha, another pilot's node; "
        "fix: remove it (eks-platform pins the pilot's pods to pilot shop)",
        "Deployment pilot-shop/arm would run on no node at all, not on pilot shop's node only (its nodeSelector "
        "also asks for kubernetes.io/arch=arm64); fix: drop the nodeSelector, node affinity or labels that send it "
        "elsewhere",
    )


# --- the inputs stay as they were ----------------------------------------------------------------------


def test_the_inputs_are_never_changed() -> None:
    objects = shop()
    before = [copy.deepcopy(o.doc) for o in objects]
    dicts = [deployment("worker")]
    dicts_before = copy.deepcopy(dicts)
    plan(workloads=[*objects, *dicts])
    assert [o.doc for o in objects] == before
    assert dicts == dicts_before
    assert "namespace" not in objects[0].doc["metadata"]


# --- namespaces ---------------------------------------------------------------------------------------


def test_an_object_naming_another_namespace_is_refused() -> None:
    elsewhere = deployment("worker")
    elsewhere["metadata"]["namespace"] = "irtp"
    own = deployment("ok")
    own["metadata"]["namespace"] = "pilot-shop"
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}}
    result = plan(workloads=[elsewhere, own, namespace])
    assert result.refusals == (
        "Deployment irtp/worker names namespace irtp, but pilot shop's objects go into namespace pilot-shop; "
        "fix: remove metadata.namespace or set it to pilot-shop",
        "Namespace shop: a pilot's manifests create no namespace; fix: leave it out (eks-platform creates "
        "namespace pilot-shop with its quota, limit range and network policies)",
    )
    assert result.workloads[0].namespace == "irtp"  # refused, left as written


def test_the_file_and_line_of_a_refused_object_are_named() -> None:
    objects = shop()
    api = next(o for o in objects if o.kind == "Deployment" and o.name == "api")
    moved = KubeObject(
        doc={**api.doc, "metadata": {**api.doc["metadata"], "namespace": "prod"}}, file=api.file, line=api.line
    )
    refusals = plan(workloads=[moved]).refusals
    assert refusals == (
        "Deployment prod/api (shop/api.yaml:1) names namespace prod, but pilot shop's objects go into namespace "
        "pilot-shop; fix: remove metadata.namespace or set it to pilot-shop",
    )


# --- fit ---------------------------------------------------------------------------------------------


def test_the_shop_fits_both_pilot_instance_types_with_room_to_spare() -> None:
    big, small = plan(instance_type="m6a.4xlarge").fit, plan(instance_type="t3.2xlarge").fit
    shop_requests = Resources(2600, 3712, 6)  # 2×250m/256Mi + 2×500m/512Mi + 1/2Gi + 100m/128Mi
    platform_daemonsets = Resources(210, 168, 5)  # kube-proxy, ebs-csi-node, efs-csi-node, node-exporter, calico-node
    assert (big.pilot, big.daemonsets) == (shop_requests, platform_daemonsets)
    assert big.capacity == Resources(16000, 65536, 110)
    assert big.allocatable == Resources(15890, 59055, 110)
    assert big.overhead == Resources(110, 6481, 0)
    assert big.room == Resources(15680, 58887, 105)
    assert big.headroom == Resources(13080, 55175, 99) and big.fits
    assert small.allocatable == Resources(7910, 28745, 110)
    assert small.headroom == Resources(5100, 24865, 99) and small.fits


def test_an_oversized_pilot_is_refused_with_the_numbers() -> None:
    result = plan(instance_type="t3.2xlarge", workloads=[deployment("search", replicas=4, cpu="2", memory="8Gi")])
    assert not result.ok and not result.fit.fits
    assert result.refusals == (
        "pilot shop needs 8 cpu / 32.0Gi / 4 pods; one t3.2xlarge gives 7.7 cpu / 27.9Gi / 105 pods allocatable "
        "after DaemonSets; fix: pick a larger --instance-type (m5a.4xlarge holds it) or lower the requests",
    )


def test_too_many_pods_are_refused_without_a_bigger_type() -> None:
    result = plan(workloads=[deployment("tiny", replicas=106, cpu="10m", memory="16Mi")])
    assert result.refusals == (
        "pilot shop needs 1.06 cpu / 1.7Gi / 106 pods; one m6a.4xlarge gives 15.68 cpu / 57.5Gi / 105 pods "
        "allocatable after DaemonSets; fix: pick a larger --instance-type or lower the requests",
    )


def test_a_container_without_requests_counts_as_zero_and_is_said() -> None:
    result = plan(workloads=[deployment("lazy", replicas=2, cpu=None, memory=None), deployment("half", memory=None)])
    assert result.fit.pilot == Resources(100, 0, 3)
    assert result.ok
    assert result.notes == (
        "Deployment pilot-shop/lazy container lazy (spec.template.spec.containers[0]) requests no cpu or memory: "
        "counted as zero in the fit, as eksp check does (EP503); the namespace's LimitRange gives it cpu 149m, "
        "memory 560Mi at admission; fix: set resources.requests.cpu and .memory",
        "Deployment pilot-shop/half container half (spec.template.spec.containers[0]) requests no memory: "
        "counted as zero in the fit, as eksp check does (EP503); the namespace's LimitRange gives it memory 560Mi "
        "at admission; fix: set resources.requests.cpu and .memory",
    )


def test_a_fargate_profile_that_selects_the_pilot_namespace_is_refused() -> None:
    platform = reference("v1")
    profiles = [*platform.fargate.profiles]
    selectors = [
        *profiles[1].selectors,
        profiles[1].selectors[0].model_copy(update={"namespace": "pilot-*", "labels": {}}),
    ]
    profiles[1] = profiles[1].model_copy(update={"selectors": selectors})
    platform = platform.model_copy(update={"fargate": platform.fargate.model_copy(update={"profiles": profiles})})
    result = plan_pilot(
        platform, pilot_from_args("shop", "m6a.4xlarge"), workloads=[deployment("web")], catalog=catalog()
    )
    assert result.refusals == (
        "Deployment pilot-shop/web would run on Fargate (profile platform), not on pilot shop's node only; "
        "fix: drop the nodeSelector, node affinity or labels that send it elsewhere",
    )


# --- the shop example, checked like any manifests ------------------------------------------------------


@pytest.mark.parametrize("api", APIS)
def test_the_patched_shop_passes_eksp_check(api: str) -> None:
    result = plan(api)
    report = check(
        LoadedSpec(platform=result.platform, source=SourceMap(file="platform.yaml")),
        catalog=catalog(),
        manifests=result.workloads,
    )
    serious = [f for f in report.findings if f.severity.value in ("error", "warning")]
    # v1alpha5 (Karpenter v0.31) does not run on Kubernetes 1.33: the platform's own error, not the pilot's
    assert [(f.rule_id, f.object.id) for f in serious] == ([] if api == "v1" else [("EP410", "Platform/irtp")])
    headroom = [f.message for f in report.findings if f.rule_id == "EP502" and f.object.name == "pilot-shop"]
    assert headroom == [
        "m6a.4xlarge (Bottlerocket, maxPods 110): 15890m/59055Mi/110 allocatable, 2810m/3.8Gi/11 requested, "
        "headroom 13080m, 53.9Gi, 99 pods"
    ]


def test_cluster_wide_objects_and_a_pinned_node_are_refused() -> None:
    pool = {"apiVersion": "karpenter.sh/v1", "kind": "NodePool", "metadata": {"name": "sneaky"}, "spec": {}}
    role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "reader"}}
    pinned = deployment("pinned")
    pinned["spec"]["template"]["spec"]["nodeName"] = "ip-10-0-0-1"
    refusals = plan(workloads=[pool, role, pinned]).refusals
    assert refusals[0].startswith("NodePool sneaky is cluster-wide: a pilot holds only namespaced objects")
    assert refusals[1].startswith("ClusterRole reader is cluster-wide")
    assert refusals[2] == (
        "Deployment pilot-shop/pinned sets spec.nodeName ip-10-0-0-1: it would bypass the scheduler and the "
        "pilot's node; fix: remove nodeName (eks-platform pins the pods to the pilot's node)"
    )


@pytest.mark.parametrize("instance_type", ["m6g.4xlarge", "c7g.4xlarge", "t4g.2xlarge"])
def test_an_arm64_pilot_gets_a_pool_that_can_launch_its_type(instance_type: str) -> None:
    result = plan(instance_type=instance_type)
    assert result.refusals == () and result.fit.instance_type == instance_type


@pytest.mark.parametrize(
    ("namespace", "owner"),
    [("monitoring", "release grafana"), ("calico-system", "the platform's workloads"), ("karpenter", "release karpenter")],
)
def test_a_namespace_the_platform_uses_is_not_a_pilot_s(namespace: str, owner: str) -> None:
    result = plan_pilot(
        reference(), pilot_from_args("shop", "m6a.4xlarge", namespace), workloads=shop(), catalog=catalog()
    )
    assert result.refusals[0] == (
        f"namespace {namespace} belongs to {owner}, not to pilot shop; fix: leave --namespace out (pilot-shop) or "
        "name one nothing else uses"
    )
