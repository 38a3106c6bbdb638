"""Each pilot namespace's ResourceQuota is the room the fit check finds for the pilot: render/pilots.py (the
quota) and checks/ (the fit) count the DaemonSets each their own way, and these tests hold the two together."""

from __future__ import annotations

import pytest
from tests.pilots.helpers import reference
from tests.reference_edits import catalog

from eks_platform.pilots import pilot_from_args, plan_pilot
from eks_platform.plan.allocatable import parse_cpu_m, parse_memory_mi
from eks_platform.render import render

APIS = ["v1", "v1alpha5"]


def _quota(manifests: tuple, namespace: str) -> tuple[int, int, int]:  # type: ignore[type-arg]
    quota = next(o for o in manifests if o["kind"] == "ResourceQuota" and o["metadata"]["namespace"] == namespace)
    hard = quota["spec"]["hard"]
    return parse_cpu_m(hard["requests.cpu"]) or 0, parse_memory_mi(hard["requests.memory"]) or 0, int(hard["pods"])


@pytest.mark.parametrize("api", APIS)
@pytest.mark.parametrize(("name", "instance_type"), [("alpha", "m6a.4xlarge"), ("beta", "t3.2xlarge")])
def test_the_quota_is_the_room_the_fit_check_finds(api: str, name: str, instance_type: str) -> None:
    result = plan_pilot(reference(api), pilot_from_args(name, instance_type), workloads=[], catalog=catalog())
    room = result.fit.room
    assert _quota(result.platform_objects, f"pilot-{name}") == (room.cpu_m, room.memory_mi, room.pods)


def test_the_quota_follows_a_daemonset_request_set_in_the_values() -> None:
    platform = reference("v1")
    requests = {"cpu": "0.25", "memory": "100M"}  # a user's override, in other units
    values = {"prometheus-node-exporter": {"resources": {"requests": requests}}}
    prometheus = platform.addons.prometheus.model_copy(update={"values": values})
    platform = platform.model_copy(update={"addons": platform.addons.model_copy(update={"prometheus": prometheus})})
    result = plan_pilot(platform, pilot_from_args("alpha", "m6a.4xlarge"), workloads=[], catalog=catalog())
    assert (result.fit.daemonsets.cpu_m, result.fit.daemonsets.memory_mi) == (
        410,
        200,
    )  # 210m-50m+250m, 168Mi-64Mi+96Mi
    room = result.fit.room
    assert _quota(render(result.platform, catalog=catalog()).manifests, "pilot-alpha") == (
        room.cpu_m,
        room.memory_mi,
        room.pods,
    )


def test_the_reference_quota_and_limit_range() -> None:
    manifests = render(reference("v1"), catalog=catalog()).manifests
    quota = next(o for o in manifests if o["kind"] == "ResourceQuota" and o["metadata"]["namespace"] == "pilot-beta")
    assert quota["spec"] == {"hard": {"requests.cpu": "7700m", "requests.memory": "28577Mi", "pods": "105"}}
    assert quota["metadata"]["annotations"] == {
        "eks-platform.io/sized-for": "one t3.2xlarge (Bottlerocket, maxPods 110): 7910m/28745Mi/110 allocatable, "
        "minus 210m/168Mi/5 for the platform's DaemonSets"
    }
    limits = next(o for o in manifests if o["kind"] == "LimitRange" and o["metadata"]["namespace"] == "pilot-beta")
    assert limits["spec"]["limits"] == [
        {
            "type": "Container",
            "defaultRequest": {"cpu": "73m", "memory": "272Mi"},  # the room / 105 pod slots
            "default": {"cpu": "7700m", "memory": "28577Mi"},  # the whole room
        }
    ]
