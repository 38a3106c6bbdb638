"""Deploying one stack through change sets, against a fake at the CloudFormation interface."""

from __future__ import annotations

import pytest
from tests.apply.fakes import FakeClock, FakeCloudFormation

from eks_platform.apply.stacks import StackDeployer
from eks_platform.errors import ApplyError

QUEUE = {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "irtp-karpenter"}}
RULE = {"Type": "AWS::Events::Rule", "Properties": {"EventPattern": {"source": ["aws.ec2"]}}}
TEMPLATE = {"Resources": {"Queue": QUEUE}, "Outputs": {"QueueArn": {"Value": {"Fn::GetAtt": ["Queue", "Arn"]}}}}


def deployer() -> tuple[StackDeployer, FakeCloudFormation, list[str]]:
    clock = FakeClock()
    cloudformation = FakeCloudFormation(clock)
    progress: list[str] = []
    return (
        StackDeployer(cloudformation, clock, progress.append, timeout_seconds=60, poll_seconds=5),
        cloudformation,
        progress,
    )


def up(d: StackDeployer, template: dict, *, dry_run: bool = False):  # type: ignore[no-untyped-def,type-arg]
    plan = d.plan(stack="irtp-karpenter-infra", template=template, parameters={}, tags={}, dry_run=dry_run)
    return plan, (None if dry_run else d.apply(plan))


def test_a_new_stack_is_created_with_its_events_as_progress() -> None:
    d, _cloudformation, progress = deployer()
    plan, state = up(d, TEMPLATE)
    assert plan.action == "create" and [c.logical_id for c in plan.changes] == ["Queue"]
    assert (
        state is not None
        and state.status == "CREATE_COMPLETE"
        and state.outputs == {"QueueArn": "irtp-karpenter-infra-QueueArn"}
    )
    assert "irtp-karpenter-infra: Queue (AWS::SQS::Queue) CREATE_COMPLETE" in progress


def test_a_dry_run_of_a_new_stack_lists_its_resources_and_leaves_no_trace() -> None:
    d, cloudformation, _ = deployer()
    plan, _ = up(d, TEMPLATE, dry_run=True)
    assert plan.describe() == [
        "stack irtp-karpenter-infra: create (1 resource change(s))",
        "  add     Queue AWS::SQS::Queue",
    ]
    assert cloudformation.calls == [] and cloudformation.stacks == {}


def test_a_second_up_without_changes_does_nothing_and_says_so() -> None:
    d, cloudformation, _ = deployer()
    up(d, TEMPLATE)
    plan, _ = up(d, TEMPLATE)
    assert plan.action == "none" and plan.describe() == ["stack irtp-karpenter-infra: no changes"]
    assert not any(call.startswith("execute") for call in cloudformation.calls[2:])
    assert cloudformation.change_sets == {}  # the empty change set was deleted


def test_an_update_lists_what_changes_and_a_dry_run_deletes_its_change_set() -> None:
    d, cloudformation, _ = deployer()
    up(d, TEMPLATE)
    changed = {
        "Resources": {
            "Queue": {**QUEUE, "Properties": {"QueueName": "irtp-karpenter", "MessageRetentionPeriod": 300}},
            "Rule": RULE,
        }
    }
    plan, _ = up(d, changed, dry_run=True)
    assert [(c.action, c.logical_id) for c in plan.changes] == [("Add", "Rule"), ("Modify", "Queue")]
    assert cloudformation.change_sets == {}
    plan, state = up(d, changed)
    assert plan.action == "update" and state is not None and state.status == "UPDATE_COMPLETE"


def test_a_crash_after_the_change_set_was_made_resumes_by_creating_again() -> None:
    d, cloudformation, _ = deployer()
    d.plan(stack="irtp-karpenter-infra", template=TEMPLATE, parameters={}, tags={}, dry_run=False)  # then: killed
    assert cloudformation.stacks["irtp-karpenter-infra"].status == "REVIEW_IN_PROGRESS"
    plan, state = up(d, TEMPLATE)
    assert plan.action == "create" and state is not None and state.status == "CREATE_COMPLETE"


def test_a_failed_create_names_the_resource_and_the_way_out() -> None:
    d, cloudformation, _ = deployer()
    cloudformation.fail["Queue"] = "Resource handler returned message: Access Denied (sqs:CreateQueue)"
    with pytest.raises(ApplyError, match=r"ended in ROLLBACK_COMPLETE: Queue: Resource handler .*sqs:CreateQueue"):
        up(d, TEMPLATE)
    plan, _ = up(d, TEMPLATE, dry_run=True)
    assert plan.action == "blocked" and "`eksp down` removes it" in plan.describe()[0]
    with pytest.raises(ApplyError, match="cannot be updated"):
        up(d, TEMPLATE)


def test_waits_have_a_timeout() -> None:
    d, cloudformation, _ = deployer()
    up(d, TEMPLATE)
    cloudformation.stacks["irtp-karpenter-infra"].status = "UPDATE_IN_PROGRESS"  # someone else's update, stuck
    with pytest.raises(ApplyError, match="still UPDATE_IN_PROGRESS after 60 s"):
        up(d, TEMPLATE)


def test_delete_waits_and_reports_whether_there_was_anything() -> None:
    d, _cloudformation, _ = deployer()
    up(d, TEMPLATE)
    assert d.delete("irtp-karpenter-infra") is True
    assert d.delete("irtp-karpenter-infra") is False
