"""The EKS cluster and its Fargate profiles, reconciled against a fake at the EKS interface."""

from __future__ import annotations

import pytest
from tests.apply.fakes import FakeClock, FakeEks

from eks_platform.apply.eks import EksReconciler, ProfileSpec
from eks_platform.apply.ports import ClusterRequest
from eks_platform.errors import ApplyError

REQUEST = ClusterRequest(
    name="irtp",
    version="1.33",
    role_arn="arn:aws:iam::123456789012:role/irtp-cluster",
    subnet_ids=("subnet-a", "subnet-b"),
    security_group_ids=(),
    service_cidr="172.20.0.0/16",
    kms_key_arn="arn:aws:kms:us-east-1:123456789012:key/k",
    log_types=("api", "audit"),
    tags={"eks-platform.io/cluster": "irtp"},
)
CORE = ProfileSpec("core", (("kube-system", (("k8s-app", "kube-dns"),)), ("karpenter", ())))
PLATFORM = ProfileSpec("platform", (("calico-system", (("eks-platform.io/compute", "fargate"),)),))


def reconciler() -> tuple[EksReconciler, FakeEks, list[str]]:
    eks, progress = FakeEks(), []  # type: ignore[var-annotated]
    return EksReconciler(eks, FakeClock(), progress.append, timeout_seconds=300, poll_seconds=15), eks, progress


def test_a_new_cluster_is_created_private_and_waited_for() -> None:
    r, eks, progress = reconciler()
    plan = r.plan_cluster("irtp")
    assert plan.describe() == [
        "eks cluster irtp: create (private endpoint only, secrets encrypted, no default VPC CNI)"
    ]
    state = r.apply_cluster(plan, REQUEST)
    assert state.status == "ACTIVE" and not state.endpoint_public
    assert eks.requests == [REQUEST] and "eks cluster irtp: CREATING" in progress
    assert r.plan_cluster("irtp").action == "none"


def test_a_run_killed_while_the_cluster_was_creating_resumes_by_waiting() -> None:
    r, eks, _ = reconciler()
    eks.steps = 4
    eks.create_cluster(REQUEST)  # the earlier run got this far
    plan = r.plan_cluster("irtp")
    assert plan.action == "wait"
    r.apply_cluster(plan, REQUEST)
    assert eks.calls == ["create_cluster irtp"]  # no second create


def test_a_public_endpoint_and_changed_logs_are_converged_back_to_the_spec() -> None:
    r, eks, _ = reconciler()
    r.apply_cluster(r.plan_cluster("irtp", log_types=["api", "audit"]), REQUEST)
    eks.clusters["irtp"]["public"] = True  # someone turned it on by hand
    plan = r.plan_cluster("irtp", log_types=["api", "audit", "authenticator"])
    assert plan.describe() == [
        "eks cluster irtp: update: turn the public endpoint off (private endpoint only); "
        "update: control-plane logs api, audit -> api, audit, authenticator"
    ]
    state = r.apply_cluster(plan, REQUEST)
    assert not state.endpoint_public and state.log_types == ("api", "audit", "authenticator")
    assert r.plan_cluster("irtp", log_types=["authenticator", "audit", "api"]).action == "none"


def test_a_failed_cluster_blocks_with_the_fix() -> None:
    r, eks, _ = reconciler()
    r.apply_cluster(r.plan_cluster("irtp"), REQUEST)
    eks.clusters["irtp"]["status"] = "FAILED"
    plan = r.plan_cluster("irtp")
    assert plan.action == "blocked" and "run `eksp down`" in plan.message
    with pytest.raises(ApplyError, match="is FAILED"):
        r.apply_cluster(plan, REQUEST)


def test_profiles_are_created_one_at_a_time_then_nothing_to_do() -> None:
    r, _eks, _ = reconciler()
    r.apply_cluster(r.plan_cluster("irtp"), REQUEST)
    plan = r.plan_profiles("irtp", [CORE, PLATFORM])
    assert [p.name for p in plan.create] == ["core", "platform"]
    r.apply_profiles("irtp", plan, role_arn="arn:role/fargate", subnet_ids=["subnet-a"], tags={})
    assert r.plan_profiles("irtp", [CORE, PLATFORM]).empty


def test_a_changed_profile_is_replaced_and_a_removed_one_deleted() -> None:
    r, eks, _ = reconciler()
    r.apply_cluster(r.plan_cluster("irtp"), REQUEST)
    r.apply_profiles("irtp", r.plan_profiles("irtp", [CORE, PLATFORM]), role_arn="r", subnet_ids=[], tags={})
    changed = ProfileSpec("core", (("kube-system", (("k8s-app", "kube-dns"),)),))
    plan = r.plan_profiles("irtp", [changed])
    assert plan.describe("irtp") == [
        "fargate profiles of irtp:",
        "  replace core (kube-system k8s-app=kube-dns; profiles are immutable)",
        "  delete  platform (not in the spec)",
    ]
    eks.calls.clear()
    r.apply_profiles("irtp", plan, role_arn="r", subnet_ids=[], tags={})
    assert eks.calls == [
        "delete_fargate_profile platform",
        "delete_fargate_profile core",
        "create_fargate_profile core",
    ]
    assert r.plan_profiles("irtp", [changed]).empty


def test_down_deletes_profiles_then_the_cluster() -> None:
    r, eks, _ = reconciler()
    r.apply_cluster(r.plan_cluster("irtp"), REQUEST)
    r.apply_profiles("irtp", r.plan_profiles("irtp", [CORE]), role_arn="r", subnet_ids=[], tags={})
    assert r.delete_profiles("irtp") == ["core"]
    assert r.delete_cluster("irtp") is True
    assert r.delete_cluster("irtp") is False and eks.clusters == {}
