"""`up`, `diff` and `down` of the reference platform against fakes at the engine's interfaces: the plan,
the order, outputs feeding later steps, a second run that does nothing, a kill at every step then a
resume, and a down that leaves nothing tagged."""

from __future__ import annotations

from functools import cache

import pytest
from tests.apply.fakes import Crash, CrashAfter, FakeAccess, FakeClock, FakeCloudFormation, FakeEc2, FakeEks
from tests.reference_edits import catalog

from eks_platform.apply.eks import EksReconciler
from eks_platform.apply.engine import Aws, Run, down, up
from eks_platform.apply.ports import Leftover
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

    def run(self, crash_after: int = 0) -> Run:
        platform, bundle = reference()
        countdown = [crash_after]
        cloudformation = CrashAfter(self.cloudformation, countdown) if crash_after else self.cloudformation
        eks = CrashAfter(self.eks, countdown) if crash_after else self.eks
        ec2 = CrashAfter(self.ec2, countdown) if crash_after else self.ec2
        aws = Aws(
            stacks=StackDeployer(cloudformation, self.clock, self.progress.append, poll_seconds=1),
            eks=EksReconciler(eks, self.clock, self.progress.append, poll_seconds=1),
            ec2=ec2,
            addons=None,
            access=CrashAfter(self.access, countdown) if crash_after else self.access,
            not_emulated={"eks:addons": "moto does not implement EKS managed add-ons"},
        )
        return Run(platform=platform, bundle=bundle, aws=aws, progress=self.progress.append)

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
    assert created == ["irtp-kms", "irtp-iam", "irtp-access", "irtp-irsa", "irtp-karpenter-infra", "irtp-efs"]
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


@pytest.mark.parametrize("kill_at", range(1, count_mutations_of_a_clean_up() + 1))
def test_up_killed_at_any_step_converges_when_run_again(kill_at: int) -> None:
    world = World()
    with pytest.raises(Crash):
        up(world.run(crash_after=kill_at), dry_run=False, confirm=yes)
    up(world.run(), dry_run=False, confirm=yes)
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
