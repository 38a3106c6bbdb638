"""`up`, `diff` and `down` of the reference platform against fakes at the engine's interfaces: the plan,
the order, outputs feeding later steps, a second run that does nothing, a kill at every step then a
resume, and a down that leaves nothing tagged."""

from __future__ import annotations

import threading
from functools import cache

import pytest
from tests.apply.fakes import Crash, CrashAfter, FakeAccess, FakeClock, FakeCloudFormation, FakeEc2, FakeEks
from tests.reference_edits import catalog

from eks_platform.apply.eks import EksReconciler
from eks_platform.apply.engine import down, up
from eks_platform.apply.ports import Leftover
from eks_platform.apply.run import Aws, Run
from eks_platform.apply.stacks import StackDeployer
from eks_platform.render import render
from eks_platform.spec.loading import load_reference

MUTATING = ("create", "execute", "delete", "tag", "terminate", "update", "associate")


@cache
def reference() -> tuple:  # type: ignore[type-arg]
    loaded = load_reference(catalog=catalog())
    return loaded.platform, render(loaded.platform, catalog=catalog())


class World:
    """One fake AWS account; `run()` builds a fresh Run (a new process) over it."""

    def __init__(self) -> None:
        self.clock = FakeClock()
        self.cloudformation = FakeCloudFormation(self.clock)
        self.eks = FakeEks()
        self.ec2 = FakeEc2()
        self.access = FakeAccess()
        self.progress: list[str] = []

    def run(self, crash_after: int = 0, workers: int = 1) -> Run:
        platform, bundle = reference()
        countdown, lock = [crash_after], threading.Lock()
        cloudformation = CrashAfter(self.cloudformation, countdown, lock) if crash_after else self.cloudformation
        eks = CrashAfter(self.eks, countdown, lock) if crash_after else self.eks
        ec2 = CrashAfter(self.ec2, countdown, lock) if crash_after else self.ec2
        aws = Aws(
            stacks=StackDeployer(cloudformation, self.clock, self.progress.append, poll_seconds=1),
            eks=EksReconciler(eks, self.clock, self.progress.append, poll_seconds=1),
            ec2=ec2,
            addons=None,
            access=CrashAfter(self.access, countdown, lock) if crash_after else self.access,
            not_emulated={"eks:addons": "moto does not implement EKS managed add-ons"},
        )
        return Run(platform=platform, bundle=bundle, aws=aws, progress=self.progress.append, workers=workers)

    def mutations(self) -> list[str]:
        calls = self.cloudformation.calls + self.eks.calls + self.access.calls
        return [c for c in calls if c.startswith((*MUTATING, "associate"))]


def yes(_plan: object) -> bool:
    return True


def test_the_dry_run_plans_everything_and_changes_nothing() -> None:
    world = World()
    outcome = up(world.run(), dry_run=True, confirm=yes)
    assert outcome.changed and not outcome.applied
    assert outcome.plan[0] == "stack irtp-kms: create (2 resource change(s))"
    assert "eks cluster irtp: create (private endpoint only, secrets encrypted, no default VPC CNI)" in outcome.plan
    assert "  create  core (kube-system k8s-app=kube-dns; kube-system app=ebs-csi-controller; " in "\n".join(
        outcome.plan
    )
    assert any(
        line.startswith("managed add-ons (coredns, kube-proxy, aws-ebs-csi-driver): skipped (moto does not")
        for line in outcome.plan
    )
    assert world.mutations() == [] and world.cloudformation.stacks == {}


def test_up_creates_in_order_and_feeds_outputs_forward() -> None:
    world = World()
    outcome = up(world.run(), dry_run=False, confirm=yes)
    assert outcome.applied
    created = [c.split()[1] for c in world.cloudformation.calls if c.startswith("create_change_set")]
    # one step at a time, in the order of the dependency waves: the queue needs nothing, efs needs access
    assert created == ["irtp-kms", "irtp-iam", "irtp-karpenter-infra", "irtp-access", "irtp-irsa", "irtp-efs"]
    assert world.eks.calls[0] == "create_cluster irtp"
    request = world.eks.requests[0]
    assert request.role_arn == "irtp-iam-ClusterRoleArn" and request.kms_key_arn == "irtp-kms-KeyArn"
    assert sorted(world.eks.profiles["irtp"]) == ["core", "platform"]
    assert world.ec2.tags["subnet-0a1b2c3d4e5f60711"] == {"karpenter.sh/discovery": "irtp"}
    assert world.access.calls == [
        "create_access_entry arn:aws:iam::123456789012:role/jenkins-tooling",
        "associate_access_policy arn:aws:iam::123456789012:role/jenkins-tooling AmazonEKSEditPolicy",
        "create_access_entry arn:aws:iam::123456789012:role/platform-admins",
        "associate_access_policy arn:aws:iam::123456789012:role/platform-admins AmazonEKSClusterAdminPolicy",
    ]


def test_independent_steps_run_at_the_same_time_and_the_plan_says_which() -> None:
    world = World()
    # kms, iam and the interruption queue need nothing: each waits at the barrier for the other two,
    # which breaks (and fails the run) if they were created one after the other
    barrier = threading.Barrier(3, timeout=10)
    create_change_set = world.cloudformation.create_change_set

    def meet_then_create(*args: object, **kwargs: object) -> object:
        if kwargs.get("stack") in ("irtp-kms", "irtp-iam", "irtp-karpenter-infra"):
            barrier.wait()
        return create_change_set(*args, **kwargs)

    world.cloudformation.create_change_set = meet_then_create  # type: ignore[method-assign]
    outcome = up(world.run(workers=4), dry_run=False, confirm=yes)
    assert outcome.applied and len(world.cloudformation.stacks) == 6
    assert outcome.plan[-1] == (
        "order: stack kms + stack iam + stack karpenter-infra + discovery tags -> eks cluster -> "
        "stack access + stack irsa + fargate profiles + access entries -> stack efs + managed add-ons "
        "(steps joined by + run at the same time)"
    )
    # whatever order the threads ran in, the plan lists the steps in the same order
    assert outcome.plan[:-1] == up(World().run(workers=1), dry_run=True, confirm=yes).plan


def test_a_second_up_does_nothing_and_says_so() -> None:
    world = World()
    up(world.run(), dry_run=False, confirm=yes)
    cloudformation_calls, eks_calls = len(world.cloudformation.calls), len(world.eks.calls)
    outcome = up(world.run(), dry_run=False, confirm=yes)
    assert not outcome.changed and not outcome.applied
    assert "stack irtp-access: no changes" in outcome.plan and "fargate profiles of irtp: no changes" in outcome.plan
    assert "access entries: no changes" in outcome.plan
    assert world.eks.calls[eks_calls:] == []
    # diffing an existing stack makes a change set and, when it is empty, deletes it: nothing is executed
    assert not any(c.startswith("execute") for c in world.cloudformation.calls[cloudformation_calls:])
    assert world.cloudformation.change_sets == {}


def test_declining_the_plan_changes_nothing() -> None:
    world = World()
    outcome = up(world.run(), dry_run=False, confirm=lambda _plan: False)
    assert not outcome.applied and world.mutations() == []


def count_mutations_of_a_clean_up() -> int:
    world = World()
    up(world.run(), dry_run=False, confirm=yes)
    return len(world.mutations()) + 1  # + the discovery tagging (an EC2 call)


@pytest.mark.parametrize("workers", [1, 4])
@pytest.mark.parametrize("kill_at", range(1, count_mutations_of_a_clean_up() + 1))
def test_up_killed_at_any_step_converges_when_run_again(kill_at: int, workers: int) -> None:
    world = World()
    with pytest.raises(Crash):
        up(world.run(crash_after=kill_at, workers=workers), dry_run=False, confirm=yes)
    up(world.run(workers=workers), dry_run=False, confirm=yes)
    assert sorted(world.cloudformation.stacks) == [
        "irtp-access",
        "irtp-efs",
        "irtp-iam",
        "irtp-irsa",
        "irtp-karpenter-infra",
        "irtp-kms",
    ]
    assert all(s.status in ("CREATE_COMPLETE", "UPDATE_COMPLETE") for s in world.cloudformation.stacks.values())
    assert world.eks.calls.count("create_cluster irtp") == 1
    assert len(world.access.entries) == 2 and all(len(found) == 1 for found in world.access.entries.values())
    assert sorted(world.eks.profiles["irtp"]) == ["core", "platform"]
    assert not up(world.run(), dry_run=False, confirm=yes).changed


def test_down_removes_everything_in_reverse_and_verifies() -> None:
    world = World()
    up(world.run(), dry_run=False, confirm=yes)
    world.ec2.instances = [Leftover("instance", "i-0123"), Leftover("launch-template", "lt-0456")]
    outcome = down(world.run(), confirm=yes)
    assert outcome.removed[:4] == (
        "fargate profile core",
        "fargate profile platform",
        "instance i-0123",
        "launch-template lt-0456",
    )
    assert "eks cluster irtp" in outcome.removed
    order = list(outcome.removed)
    assert order.index("stack irtp-efs") < order.index("stack irtp-access") < order.index("eks cluster irtp")
    assert order.index("eks cluster irtp") < order.index("stack irtp-iam") < order.index("stack irtp-kms")
    assert world.cloudformation.stacks == {} and world.eks.clusters == {} and world.ec2.instances == []
    assert world.ec2.tags["subnet-0a1b2c3d4e5f60711"] == {}
    again = down(world.run(), confirm=yes)
    assert again.removed == ()
