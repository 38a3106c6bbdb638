"""The cluster side of `eksp up` against fakes at its ports (FakeKube, FakeHelm) after the AWS side on
the AWS fakes: the order the architecture needs, server-side apply with a dry-run plan, prune by label
only, a second up that does nothing, a kill at every cluster mutation then a resume, and the clear
failures (API unreachable, Calico API server never Available)."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from tests.apply.fakes import Crash, CrashAfter
from tests.apply.kube_fakes import FakeHelm, FakeKube
from tests.apply.test_engine import World as AwsWorld
from tests.apply.test_engine import reference

from eks_platform.apply.cluster import AWS_NODE, changed_paths, comparable, filled_values
from eks_platform.apply.eks import EksReconciler
from eks_platform.apply.engine import down, up
from eks_platform.apply.kube_ports import MANAGED_BY_LABEL, ObjectRef
from eks_platform.apply.run import Aws, ClusterSide, Run
from eks_platform.apply.stacks import StackDeployer
from eks_platform.errors import ApplyError, KubeUnreachable


class World(AwsWorld):
    """The fake AWS account of test_engine, and a fake cluster behind it."""

    def __init__(self) -> None:
        super().__init__()
        self.journal: list[str] = []
        self.kube = FakeKube(journal=self.journal)
        self.helm = FakeHelm(self.kube)
        self.connected = 0

    def run(self, crash_after: int = 0, workers: int = 1, *, spec: tuple[Any, Any] | None = None) -> Run:
        platform, bundle = spec or reference()
        countdown, lock = [crash_after], threading.Lock()

        def maybe(port: Any) -> Any:
            return CrashAfter(port, countdown, lock) if crash_after else port

        def connect(_cluster: Any) -> tuple[Any, Any]:
            self.connected += 1
            return maybe(self.kube), maybe(self.helm)

        aws = Aws(
            stacks=StackDeployer(self.cloudformation, self.clock, self.progress.append, poll_seconds=1),
            eks=EksReconciler(self.eks, self.clock, self.progress.append, poll_seconds=1),
            ec2=self.ec2,
            addons=None,
            access=self.access,
            not_emulated={"eks:addons": "not in this test"},
        )
        side = ClusterSide(connect=connect, clock=self.clock, poll_seconds=5, api_timeout_seconds=60)
        return Run(
            platform=platform,
            bundle=bundle,
            aws=aws,
            progress=self.progress.append,
            workers=workers,
            cluster_side=side,
        )


def yes(_plan: object) -> bool:
    return True


def first(journal: list[str], prefix: str) -> int:
    return next(i for i, entry in enumerate(journal) if entry.startswith(prefix))


def last(journal: list[str], prefix: str) -> int:
    return max(i for i, entry in enumerate(journal) if entry.startswith(prefix))


def test_a_dry_run_on_a_new_platform_lists_the_cluster_steps_and_touches_nothing() -> None:
    world = World()
    outcome = up(world.run(), dry_run=True, confirm=yes)
    text = "\n".join(outcome.plan)
    assert "kubernetes api: wait until it answers (the cluster is not ACTIVE yet)" in text
    assert "namespaces: 9 object(s), planned in full once the API server answers" in text
    assert "release karpenter/karpenter (karpenter 1.14.1): install, planned in full once the API server answers" in text
    assert world.journal == [] and world.connected == 0


def test_up_applies_the_cluster_in_the_order_the_architecture_needs() -> None:
    world = World()
    outcome = up(world.run(), dry_run=False, confirm=yes)
    assert outcome.applied
    j = world.journal
    assert j[0].startswith("apply Namespace")  # namespaces first, labelled, before any release lands in them
    assert last(j, "apply Namespace") < first(j, "helm karpenter")
    assert first(j, "helm karpenter") < first(j, "apply NodePool") and first(j, "helm karpenter") < first(
        j, "apply EC2NodeClass"
    )
    assert last(j, "apply CustomResourceDefinition") < first(j, "helm calico")
    assert first(j, "helm calico") < first(j, "apply Installation") < first(j, "apply APIServer")
    # the add-ons wait for Calico (their pods need the overlay) and for the Karpenter pools (their node)
    for addon in ("ingress-nginx", "kube-prometheus-stack", "loki", "grafana", "kubecost", "metrics-server"):
        assert first(j, f"helm {addon}") > first(j, "apply APIServer")
        assert first(j, f"helm {addon}") > last(j, "apply NodePool")
    # projectcalico.org/v3 objects need the Calico API server, which is Available only after APIServer
    assert first(j, "apply NetworkPolicy") > first(j, "apply APIServer")
    assert "the Calico API server (projectcalico.org/v3): available" in world.progress
    # every object carries the label prune goes by, and the release values carry what AWS produced
    assert all(obj["metadata"]["labels"][MANAGED_BY_LABEL] == "eks-platform" for obj in world.kube.objects.values()
               if obj["kind"] != "APIService")
    karpenter = world.helm.releases[("karpenter", "karpenter")].values
    assert karpenter["serviceAccount"]["annotations"]["eks.amazonaws.com/role-arn"] == "irtp-irsa-KarpenterControllerRoleArn"
    assert karpenter["settings"]["clusterEndpoint"] == "https://IRTP.gr7.us-east-1.eks.amazonaws.com"


def test_a_second_up_does_nothing_and_says_so() -> None:
    world = World()
    up(world.run(), dry_run=False, confirm=yes)
    before = list(world.journal)
    outcome = up(world.run(), dry_run=False, confirm=yes)
    assert not outcome.changed and not outcome.applied
    assert world.journal == before  # no apply, no helm upgrade, no delete
    assert "namespaces: 9 object(s), no changes" in outcome.plan
    assert "release monitoring/loki (loki 18.11.0): deployed, revision 1, no changes" in outcome.plan
    assert "prune: nothing left over" in outcome.plan


def test_a_changed_object_and_changed_values_are_shown_field_by_field_then_applied() -> None:
    world = World()
    up(world.run(), dry_run=False, confirm=yes)
    pool = ObjectRef("karpenter.sh/v1", "NodePool", "default")
    world.kube.objects[pool]["spec"]["template"]["spec"]["expireAfter"] = "Never"  # drift made by hand
    state = world.helm.releases[("monitoring", "loki")]
    world.helm.releases[("monitoring", "loki")] = type(state)(**{**state.__dict__, "values": {"old": 1}})
    outcome = up(world.run(), dry_run=True, confirm=yes)
    text = "\n".join(outcome.plan)
    assert "  update    NodePool default (~ spec.template.spec.expireAfter)" in text
    assert "release monitoring/loki (loki 18.11.0): upgrade: values change" in text and "    - old" in text
    up(world.run(), dry_run=False, confirm=yes)
    assert world.kube.objects[pool]["spec"]["template"]["spec"]["expireAfter"] == "168h"
    assert world.helm.releases[("monitoring", "loki")].revision == 2


def test_prune_deletes_only_what_the_platform_applied_and_keeps_non_pilot_namespaces() -> None:
    world = World()
    up(world.run(), dry_run=False, confirm=yes)
    label = {MANAGED_BY_LABEL: "eks-platform"}
    old_pool = {"apiVersion": "karpenter.sh/v1", "kind": "NodePool", "metadata": {"name": "pilot-gone", "labels": label}}
    theirs = {"apiVersion": "karpenter.sh/v1", "kind": "NodePool", "metadata": {"name": "team-pool"}}
    old_app_ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "old-app", "labels": label}}
    old_pilot_ns = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": "pilot-gone", "labels": {**label, "eks-platform.io/role": "pilot"}},
    }
    for obj in (old_pool, theirs, old_app_ns, old_pilot_ns):
        world.kube.objects[ObjectRef.of(obj)] = obj
    outcome = up(world.run(), dry_run=False, confirm=yes)
    text = "\n".join(outcome.plan)
    assert "  delete    NodePool pilot-gone (no longer in the spec)" in text
    assert "  delete    Namespace pilot-gone (no longer in the spec)" in text
    assert "  keep      Namespace old-app" in text
    assert ObjectRef.of(old_pool) not in world.kube.objects and ObjectRef.of(old_pilot_ns) not in world.kube.objects
    assert ObjectRef.of(theirs) in world.kube.objects and ObjectRef.of(old_app_ns) in world.kube.objects


def test_the_vpc_cni_daemonset_is_removed() -> None:
    world = World()
    world.kube.objects[AWS_NODE] = {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "aws-node", "namespace": "kube-system"}}
    up(world.run(), dry_run=False, confirm=yes)
    assert AWS_NODE not in world.kube.objects and "delete DaemonSet kube-system/aws-node" in world.journal


def test_an_unreachable_api_server_fails_with_the_fix_after_the_aws_side_is_done() -> None:
    world = World()
    world.kube.reachable = False
    with pytest.raises(KubeUnreachable, match="run `eksp up` again from a machine on the VPN or in a peered VPC"):
        up(world.run(), dry_run=False, confirm=yes)
    assert len(world.cloudformation.stacks) == 6 and world.journal == []
    assert world.clock.slept >= 60  # it waited the whole timeout, with progress
    assert "kubernetes api: waiting for the endpoint to answer" in world.progress


def test_a_calico_api_server_that_never_comes_up_stops_with_the_fix() -> None:
    world = World()
    world.kube.calico_api_comes_up = False
    with pytest.raises(ApplyError, match=r"calico-apiserver pods .* host network on the addons node"):
        up(world.run(), dry_run=False, confirm=yes)
    assert not any(entry.startswith("apply NetworkPolicy") for entry in world.journal)


def count_cluster_mutations() -> int:
    world = World()
    up(world.run(), dry_run=False, confirm=yes)
    return len(world.journal)


@pytest.mark.parametrize("workers", [1, 4])
@pytest.mark.parametrize("kill_at", range(1, count_cluster_mutations() + 1))
def test_up_killed_during_the_cluster_side_converges_when_run_again(kill_at: int, workers: int) -> None:
    world = World()
    up(world.run(), dry_run=False, confirm=yes)  # the AWS side and the cluster, once
    world.kube.objects.clear()
    world.helm.releases.clear()
    world.kube.kinds = set(world.kube.kinds) - {("karpenter.sh/v1", "NodePool")}  # a fresh cluster again
    with pytest.raises(Crash):
        up(world.run(crash_after=kill_at, workers=workers), dry_run=False, confirm=yes)
    up(world.run(workers=workers), dry_run=False, confirm=yes)
    assert not up(world.run(), dry_run=False, confirm=yes).changed
    _, bundle = reference()
    assert {ObjectRef.of(o) for o in bundle.manifests} <= set(world.kube.objects)
    assert {name for _, name in world.helm.releases} == {r.name for r in bundle.releases if r.method == "helm"}


def test_values_from_the_aws_side_go_to_their_escaped_paths() -> None:
    world = World()
    run = world.run()
    _, bundle = reference()
    efs = next(r for r in bundle.releases if r.name == "aws-efs-csi-driver")
    run.outputs["irsa"] = {"EfsCsiControllerRoleArn": "arn:aws:iam::1:role/efs"}
    values = filled_values(efs, run)
    assert values["controller"]["serviceAccount"]["annotations"]["eks.amazonaws.com/role-arn"] == "arn:aws:iam::1:role/efs"
    # the bundle itself is untouched: it keeps its placeholder
    annotations = efs.values["controller"]["serviceAccount"]["annotations"]
    assert annotations["eks.amazonaws.com/role-arn"] == "${irsa.EfsCsiControllerRoleArn}"


def test_comparing_ignores_what_the_server_sets() -> None:
    live = {"kind": "X", "metadata": {"name": "a", "resourceVersion": "7", "uid": "u", "managedFields": []}, "status": {"a": 1}, "spec": {"x": 1}}
    assert changed_paths(comparable(live), comparable({"kind": "X", "metadata": {"name": "a"}, "spec": {"x": 1}})) == []
    assert changed_paths({"spec": {"x": 1, "y": 2}}, {"spec": {"x": 2, "z": 3}}) == ["~ spec.x", "- spec.y", "+ spec.z"]


def test_down_deletes_every_karpenter_pool_and_waits_for_its_nodes_before_the_cluster_goes() -> None:
    world = World()
    up(world.run(), dry_run=False, confirm=yes)
    team_pool = {"apiVersion": "karpenter.sh/v1", "kind": "NodePool", "metadata": {"name": "team-pool"}}
    world.kube.objects[ObjectRef.of(team_pool)] = team_pool  # not the platform's: it must go too
    for pool in ("default", "team-pool"):
        node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": f"ip-10-20-0-{len(pool)}", "labels": {"karpenter.sh/nodepool": pool}}}
        world.kube.objects[ObjectRef.of(node)] = node
    polls = []
    delete = world.kube.delete

    def karpenter_drains(ref: ObjectRef) -> bool:
        gone = delete(ref)
        if ref.kind == "NodePool":  # Karpenter drains and terminates the pool's node a little later
            polls.append(ref.name)
        return gone

    list_objects = world.kube.list

    def nodes_left(api_version: str, kind: str, **kwargs: Any) -> list[Any]:
        found = list_objects(api_version, kind, **kwargs)
        if kind == "Node" and polls:
            polls.pop()
            for obj in found[:1]:
                world.kube.objects.pop(ObjectRef.of(obj))
        return found

    world.kube.delete = karpenter_drains  # type: ignore[method-assign]
    world.kube.list = nodes_left  # type: ignore[method-assign]
    outcome = down(world.run(), confirm=yes)
    assert outcome.plan[0] == "delete Karpenter's node pools and wait until their nodes are gone"
    removed = list(outcome.removed)
    assert "NodePool team-pool" in removed and "NodePool default" in removed
    assert removed.index("NodePool default") < removed.index("fargate profile core")
    assert not [ref for ref in world.kube.objects if ref.kind in ("Node", "NodePool")]
    assert any(line.startswith("karpenter pools: waiting for") for line in world.progress)
