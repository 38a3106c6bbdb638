"""`eksp pilot create / list / delete` at the Kubernetes port, with a fake cluster that behaves like
Karpenter and the kubelet: a pool with pending pods gets a node after a while, the pods land on it and turn
Ready; a deleted pool's node goes a while later."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from tests.apply.fakes import FakeClock
from tests.apply.kube_fakes import CALICO_API_KINDS, FakeKube
from tests.pilots.helpers import deployment, reference, shop
from tests.reference_edits import catalog

from eks_platform.apply.kube_ports import MANAGED_BY_LABEL, ObjectRef
from eks_platform.apply.pilots import Waits, create_pilot, delete_pilot, list_pilots
from eks_platform.checks.pods import pod_templates
from eks_platform.checks.rules.fit_common import pod_requests
from eks_platform.errors import ApplyError, UsageError
from eks_platform.pilots import pilot_from_args, plan_pilot
from eks_platform.spec import defaults as d

WORKLOAD_KINDS = {
    ("apps/v1", "Deployment"),
    ("apps/v1", "StatefulSet"),
    ("batch/v1", "CronJob"),
    ("v1", "Service"),
    ("v1", "ConfigMap"),
    ("v1", "Secret"),
    ("karpenter.sh/v1", "NodePool"),
    ("karpenter.k8s.aws/v1", "EC2NodeClass"),
}


@dataclass
class Cluster:
    """Karpenter and the kubelet, one step per poll."""

    kube: FakeKube = field(default_factory=FakeKube)
    launches: bool = True
    polls: int = 0

    def __post_init__(self) -> None:
        self.kube.kinds |= WORKLOAD_KINDS | CALICO_API_KINDS
        node_class = {"apiVersion": "karpenter.k8s.aws/v1", "kind": "EC2NodeClass", "metadata": {"name": "bottlerocket"}}
        self.kube.objects[ObjectRef.of(node_class)] = node_class  # the platform's, from `eksp up`

    def tick(self) -> None:
        self.polls += 1
        objects = self.kube.objects
        pools = {ref.name for ref in objects if ref.kind == "NodePool"}
        for ref in [r for r in objects if r.kind == "Node"]:
            pilot = objects[ref]["metadata"]["labels"][d.PILOT_LABEL]
            if f"pilot-{pilot}" not in pools:  # Karpenter drains and terminates it
                del objects[ref]
        for ref in [r for r in objects if r.kind == "Namespace" and r.name.startswith("pilot-")]:
            if objects[ref].get("deleting"):
                for inside in [r for r in objects if r.namespace == ref.name]:
                    del objects[inside]
                del objects[ref]
        for pool in sorted(pools):
            name = pool.removeprefix("pilot-")
            node = ObjectRef("v1", "Node", f"ip-10-20-9-{len(name)}")
            workloads = [r for r in objects if r.kind in ("Deployment", "StatefulSet") and r.namespace == pool]
            if self.launches and workloads and node not in objects:
                instance = objects[ObjectRef("karpenter.sh/v1", "NodePool", pool)]["spec"]["template"]["spec"][
                    "requirements"
                ][0]["values"][0]
                objects[node] = {
                    "apiVersion": "v1",
                    "kind": "Node",
                    "metadata": {"name": node.name, "labels": {d.PILOT_LABEL: name, "node.kubernetes.io/instance-type": instance}},
                    "status": {"conditions": [{"type": "Ready", "status": "True"}], "allocatable": {"cpu": "15890m", "memory": "59055Mi", "pods": "110"}},
                }
                continue
            if node in objects:
                for ref in workloads:
                    spec = objects[ref]["spec"]
                    replicas = spec.get("replicas", 1)
                    objects[ref]["status"] = {"readyReplicas": replicas, "updatedReplicas": replicas}
                    for i in range(spec.get("replicas", 1)):
                        pod = ObjectRef("v1", "Pod", f"{ref.name}-{i}", ref.namespace)
                        objects[pod] = {
                            "apiVersion": "v1",
                            "kind": "Pod",
                            "metadata": {"name": pod.name, "namespace": ref.namespace},
                            "spec": {**spec["template"]["spec"], "nodeName": node.name},
                            "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]},
                        }


class TickingClock(FakeClock):
    def __init__(self, cluster: Cluster) -> None:
        super().__init__()
        self.cluster = cluster

    def sleep(self, seconds: float) -> None:
        super().sleep(seconds)
        self.cluster.tick()


def waits(cluster: Cluster, progress: list[str]) -> Waits:
    return Waits(clock=TickingClock(cluster), progress=progress.append, poll_seconds=10, node_timeout_seconds=120)


def namespace_deletion(cluster: Cluster) -> None:
    """Deleting a namespace takes a tick: it is Terminating first, as on a real API server."""
    delete = cluster.kube.delete

    def terminating(ref: ObjectRef) -> bool:
        if ref.kind == "Namespace" and ref in cluster.kube.objects:
            cluster.kube.calls.append(f"delete {ref}")
            cluster.kube.objects[ref]["deleting"] = True
            return True
        return delete(ref)

    cluster.kube.delete = terminating  # type: ignore[method-assign]


def shop_plan(instance_type: str = "m6a.4xlarge") -> Any:
    return plan_pilot(reference(), pilot_from_args("shop", instance_type), workloads=shop(), catalog=catalog())


def test_create_applies_in_order_waits_for_the_node_and_the_pods_and_says_where_they_landed() -> None:
    cluster, progress = Cluster(), []
    outcome = create_pilot(cluster.kube, shop_plan(), dry_run=False, waits=waits(cluster, progress))
    applied = [entry.removeprefix("apply ") for entry in cluster.kube.calls if entry.startswith("apply ")]
    assert applied[0] == "Namespace pilot-shop"
    assert applied.index("NodePool pilot-shop") < applied.index("Deployment pilot-shop/frontend")
    assert applied.index("ResourceQuota pilot-shop/pilot-node") < applied.index("Deployment pilot-shop/frontend")
    assert outcome.node == "ip-10-20-9-4" and outcome.changed and not outcome.dry_run
    assert {pod.name for pod in outcome.pods} == {"frontend-0", "frontend-1", "api-0", "api-1", "postgres-0"}
    assert all(pod.node == "ip-10-20-9-4" and pod.ready for pod in outcome.pods)
    assert "node ip-10-20-9-4 is Ready" in progress and "waiting for the pilot's node" in progress
    # an ad-hoc pilot is not the platform's: `eksp up`'s prune (managed-by eks-platform) leaves it alone
    pool = cluster.kube.objects[ObjectRef("karpenter.sh/v1", "NodePool", "pilot-shop")]
    assert pool["metadata"]["labels"][MANAGED_BY_LABEL] == "eksp-pilot"
    frontend = cluster.kube.objects[ObjectRef("apps/v1", "Deployment", "frontend", "pilot-shop")]
    assert frontend["spec"]["template"]["spec"]["nodeSelector"] == {d.PILOT_LABEL: "shop"}
    # a second create changes nothing
    again = create_pilot(cluster.kube, shop_plan(), dry_run=False, waits=waits(cluster, []))
    assert not again.changed and {c.action for c in again.objects} == {"unchanged"}


def test_a_dry_run_applies_nothing_with_or_without_a_cluster() -> None:
    cluster = Cluster()
    outcome = create_pilot(cluster.kube, shop_plan(), dry_run=True, waits=waits(cluster, []))
    assert outcome.dry_run and outcome.changed
    assert not any(entry.startswith("apply") for entry in cluster.kube.calls)  # the fake notes real applies only
    assert ("Deployment", "pilot-shop", "frontend", "create") in {
        (c.ref.kind, c.ref.namespace, c.ref.name, c.action) for c in outcome.objects
    }
    offline = create_pilot(None, shop_plan(), dry_run=True, waits=waits(cluster, []), why_offline="no credentials")
    assert offline.compared == "no credentials" and len(offline.objects) == len(outcome.objects)
    with pytest.raises(ApplyError, match="no cluster to apply to"):
        create_pilot(None, shop_plan(), dry_run=False, waits=waits(cluster, []), why_offline="x")


def test_a_pilot_that_does_not_fit_is_refused_before_anything_is_applied() -> None:
    cluster = Cluster()
    huge = [deployment("batch", replicas=3, cpu="3", memory="8Gi")]
    plan = plan_pilot(reference(), pilot_from_args("big", "t3.2xlarge"), workloads=huge, catalog=catalog())
    with pytest.raises(UsageError, match=r"pilot big is not created; nothing was applied:\n  - pilot big needs 9"):
        create_pilot(cluster.kube, plan, dry_run=False, waits=waits(cluster, []))
    assert cluster.kube.calls == []


def test_a_cluster_without_calico_s_api_or_the_node_class_gets_nothing_applied() -> None:
    cluster = Cluster()
    cluster.kube.kinds -= {("projectcalico.org/v3", "NetworkPolicy")}
    del cluster.kube.objects[ObjectRef("karpenter.k8s.aws/v1", "EC2NodeClass", "bottlerocket")]
    with pytest.raises(ApplyError) as raised:
        create_pilot(cluster.kube, shop_plan(), dry_run=False, waits=waits(cluster, []))
    assert str(raised.value) == (
        "pilot shop is not created; nothing was applied: the API server does not serve projectcalico.org/v3 "
        "NetworkPolicy (the Calico API server: is it installed and Available?); the platform's EC2NodeClass "
        "bottlerocket does not exist (the pilot's pool uses it); fix: run `eksp up` for this platform first (it "
        "installs Karpenter, Calico and the node classes)"
    )
    assert cluster.kube.calls == []


def test_a_node_that_never_comes_stops_with_the_fix() -> None:
    cluster = Cluster(launches=False)
    with pytest.raises(ApplyError, match=r"no Ready node after 120 s; fix: check `kubectl describe nodepool pilot-shop`"):
        create_pilot(cluster.kube, shop_plan(), dry_run=False, waits=waits(cluster, []))


def test_list_shows_type_node_state_pods_requests_and_price() -> None:
    cluster = Cluster()
    create_pilot(cluster.kube, shop_plan(), dry_run=False, waits=waits(cluster, []))
    (info,) = list_pilots(cluster.kube, catalog())
    assert (info.name, info.namespace, info.instance_type, info.node, info.state) == (
        "shop", "pilot-shop", "m6a.4xlarge", "ip-10-20-9-4", "Ready"
    )
    assert (info.pods_ready, info.pods) == (5, 5)
    plan = shop_plan()
    cronjob = next(t for t in pod_templates(plan.workloads) if t.owner.kind == "CronJob")
    assert info.requested == plan.fit.pilot - pod_requests(cronjob)  # what runs: the CronJob has no pod now
    assert info.price_per_hour == catalog().get("m6a.4xlarge").price_per_hour_us_east_1  # type: ignore[union-attr]
    assert info.as_json()["pricePerMonth"] == round(info.price_per_hour * 730, 2)  # type: ignore[operator]
    assert "m6a.4xlarge" in info.describe() and "/month" in info.describe()


def test_delete_removes_the_workloads_then_the_pool_and_waits_for_the_node() -> None:
    cluster, progress = Cluster(), []
    create_pilot(cluster.kube, shop_plan(), dry_run=False, waits=waits(cluster, []))
    namespace_deletion(cluster)
    dry = delete_pilot(cluster.kube, "shop", declared_in_spec=[], dry_run=True, waits=waits(cluster, progress))
    assert dry.removed == ("Namespace pilot-shop", "NodePool pilot-shop") and ObjectRef("v1", "Node", "ip-10-20-9-4") in cluster.kube.objects
    outcome = delete_pilot(cluster.kube, "shop", declared_in_spec=[], dry_run=False, waits=waits(cluster, progress))
    deletes = [entry for entry in cluster.kube.calls if entry.startswith("delete ")]
    assert deletes == ["delete Namespace pilot-shop", "delete NodePool pilot-shop"]
    assert outcome.changed and not [ref for ref in cluster.kube.objects if ref.kind in ("Node", "Pod", "Deployment")]
    assert "pilot shop: its node is gone (Karpenter terminated the instance)" in progress
    again = delete_pilot(cluster.kube, "shop", declared_in_spec=[], dry_run=False, waits=waits(cluster, []))
    assert not again.changed and again.removed == ()


def test_a_pilot_declared_in_the_spec_is_deleted_through_the_spec() -> None:
    with pytest.raises(UsageError, match=r"declared in platform\.yaml"):
        delete_pilot(Cluster().kube, "alpha", declared_in_spec=["alpha", "beta"], dry_run=False, waits=waits(Cluster(), []))


def test_up_applies_the_workloads_of_a_pilot_declared_with_manifests_and_waits_for_them() -> None:
    from tests.apply.test_cluster import World, yes

    from eks_platform.apply.engine import up
    from eks_platform.pilots import with_pilot
    from eks_platform.render import render
    from eks_platform.spec.model import PilotSpec

    world = World()
    cluster = Cluster(kube=world.kube)
    world.clock = TickingClock(cluster)
    world.cloudformation.clock = world.clock
    shop_spec = PilotSpec(name="shop", instance_type="m6a.4xlarge", manifests="examples/pilots/shop")
    platform = with_pilot(reference(), shop_spec, catalog=catalog())
    spec = (platform, render(platform, catalog=catalog()))

    def run() -> Any:
        built = world.run(spec=spec)
        built.cluster_side.clock = world.clock
        built.pilot_workloads, built.catalog = {"shop": shop()}, catalog()
        return built

    outcome = up(run(), dry_run=False, confirm=yes)
    assert outcome.applied and "pilot shop: 9 workload object(s), planned in full once the API server answers" in outcome.plan
    frontend = world.kube.objects[ObjectRef("apps/v1", "Deployment", "frontend", "pilot-shop")]
    assert frontend["metadata"]["labels"][MANAGED_BY_LABEL] == "eks-platform"  # declared: the platform's own
    assert "pilot shop: 5 pod(s) Ready on ip-10-20-9-4" in world.progress
    again = up(run(), dry_run=False, confirm=yes)
    assert not again.changed and "pilot shop: 9 workload object(s), no changes" in again.plan
    # a workload taken out of the pilot's manifests is pruned; the others stay
    fewer = [w for w in shop() if not (w.kind == "Deployment" and w.name == "frontend")]
    after = world.run(spec=spec)
    after.cluster_side.clock = world.clock  # type: ignore[union-attr]
    after.pilot_workloads, after.catalog = {"shop": fewer}, catalog()
    pruned = up(after, dry_run=False, confirm=yes)
    assert "  delete    Deployment pilot-shop/frontend (no longer in the spec)" in pruned.plan
    assert ObjectRef("apps/v1", "Deployment", "frontend", "pilot-shop") not in world.kube.objects
    assert ObjectRef("apps/v1", "Deployment", "api", "pilot-shop") in world.kube.objects


def test_a_pilot_with_only_a_cronjob_does_not_wait_for_a_node_that_will_not_come() -> None:
    cluster, progress = Cluster(), []
    cronjob = next(w for w in shop() if w.kind == "CronJob")
    plan = plan_pilot(reference(), pilot_from_args("nightly", "t3.2xlarge"), workloads=[cronjob], catalog=catalog())
    outcome = create_pilot(cluster.kube, plan, dry_run=False, waits=waits(cluster, progress))
    assert outcome.node is None and outcome.pods == ()
    assert "nothing runs until a Job or CronJob starts: Karpenter launches the node then" in progress


def test_the_pods_wait_covers_every_replica_of_the_latest_spec() -> None:
    cluster = Cluster()
    cluster.kube.objects.clear()
    plan = shop_plan()
    tick = cluster.tick
    polls = []

    def roll_out_late() -> None:  # ready pods appear first; the Deployments report rolled out two polls later
        tick()
        polls.append(1)
        for ref, obj in cluster.kube.objects.items():
            if ref.kind in ("Deployment", "StatefulSet") and len(polls) < 4:
                obj["status"] = {"readyReplicas": 0}

    cluster.tick = roll_out_late  # type: ignore[method-assign]
    node_class = {"apiVersion": "karpenter.k8s.aws/v1", "kind": "EC2NodeClass", "metadata": {"name": "bottlerocket"}}
    cluster.kube.objects[ObjectRef.of(node_class)] = node_class
    progress: list[str] = []
    create_pilot(cluster.kube, plan, dry_run=False, waits=waits(cluster, progress))
    assert len(polls) >= 4 and progress[-1] == "5 pod(s) Ready"
