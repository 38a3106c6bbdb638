"""`eksp status` over the fakes: nodes per pool with their type and price, pods per node, Fargate pods,
release health, and drift."""

from __future__ import annotations

from tests.apply.kube_fakes import FakeHelm, FakeKube
from tests.apply.test_cluster import World, yes
from tests.apply.test_engine import reference
from tests.reference_edits import catalog

from eks_platform.apply.engine import up
from eks_platform.apply.kube_ports import ObjectRef
from eks_platform.apply.status import cluster_status, describe_status, status_json


def node(name: str, labels: dict[str, str], ready: bool = True) -> dict:  # type: ignore[type-arg]
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": labels},
        "status": {"conditions": [{"type": "Ready", "status": "True" if ready else "False"}]},
    }


def pod(namespace: str, name: str, node_name: str | None, phase: str = "Running") -> dict:  # type: ignore[type-arg]
    spec = {"nodeName": node_name} if node_name else {}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": namespace}, "spec": spec, "status": {"phase": phase}}


def put(kube: FakeKube, *objects: dict) -> None:  # type: ignore[type-arg]
    for obj in objects:
        kube.objects[ObjectRef.of(obj)] = obj


def test_status_reports_nodes_pods_fargate_releases_and_drift() -> None:
    world = World()
    up(world.run(), dry_run=False, confirm=yes)
    put(
        world.kube,
        node("ip-10-20-1-5", {"karpenter.sh/nodepool": "addons", "node.kubernetes.io/instance-type": "t3.2xlarge",
                              "karpenter.sh/capacity-type": "on-demand", "topology.kubernetes.io/zone": "us-east-1a"}),
        node("ip-10-20-2-9", {"karpenter.sh/nodepool": "pilot-alpha", "node.kubernetes.io/instance-type": "m6a.4xlarge",
                              "karpenter.sh/capacity-type": "on-demand"}, ready=False),
        node("fargate-ip-10-20-3-3", {"eks.amazonaws.com/compute-type": "fargate"}),
        pod("monitoring", "prometheus-0", "ip-10-20-1-5"),
        pod("pilot-alpha", "shop-0", "ip-10-20-2-9"),
        pod("kube-system", "coredns-1", "fargate-ip-10-20-3-3"),
        pod("pilot-alpha", "shop-1", None, phase="Pending"),
        pod("default", "done", "ip-10-20-1-5", phase="Succeeded"),
    )
    pool = ObjectRef("karpenter.sh/v1", "NodePool", "default")
    world.kube.objects[pool]["spec"]["template"]["spec"]["expireAfter"] = "Never"
    loki = world.helm.releases[("monitoring", "loki")]
    world.helm.releases[("monitoring", "loki")] = type(loki)(**{**loki.__dict__, "status": "failed"})
    _, bundle = reference()

    status = cluster_status(world.kube, world.helm, bundle, catalog())

    addons, pilot = status.nodes
    assert (addons.pool, addons.instance_type, addons.pods, addons.ready) == ("addons", "t3.2xlarge", ("monitoring/prometheus-0",), True)
    assert (pilot.pool, pilot.ready) == ("pilot-alpha", False)
    assert addons.price_per_hour == catalog().get("t3.2xlarge").price_per_hour_us_east_1  # type: ignore[union-attr]
    assert status.fargate_pods == ("kube-system/coredns-1",)
    assert status.pending_pods == ("pilot-alpha/shop-1",)
    assert [r.name for r in status.releases if not r.healthy] == ["loki"]
    assert [str(c.ref) for c in status.drift] == ["NodePool default"]
    assert not status.healthy
    text = "\n".join(describe_status(status, region="us-east-1"))
    assert "  pool pilot-alpha:\n    ip-10-20-2-9 m6a.4xlarge on-demand  NotReady" in text
    assert "drift from the rendered state: 1 object(s)" in text
    data = status_json(status)
    assert data["pricePerMonth"] == round(status.price_per_hour * 730, 2) and data["pricePerHour"] > 0.3


def test_a_converged_cluster_is_healthy() -> None:
    world = World()
    up(world.run(), dry_run=False, confirm=yes)
    _, bundle = reference()
    status = cluster_status(world.kube, world.helm, bundle, catalog())
    assert status.healthy and status.drift == () and all(r.status == "deployed" for r in status.releases)
    assert "drift from the rendered state: none" in describe_status(status, region="eu-west-1")


def test_before_up_everything_is_missing() -> None:
    kube = FakeKube()
    _, bundle = reference()
    status = cluster_status(kube, FakeHelm(kube), bundle, catalog())
    assert {r.status for r in status.releases} == {"missing"}
    assert {c.action for c in status.drift} == {"create"} and len(status.drift) == len(bundle.manifests)
