"""allocatable() against Karpenter's own published figures: the catalog's golden columns, row by row,
and the Bottlerocket worked numbers of facts/karpenter.md §2."""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from decimal import Decimal
from functools import cache
from importlib import resources

import pytest
from tests.reference_edits import catalog

from eks_platform.plan.allocatable import (
    Reservations,
    Resources,
    allocatable,
    format_memory,
    kube_reserved_cpu_m,
    parse_cpu_m,
    parse_memory_mi,
    parse_quantity,
)
from eks_platform.spec.instance_catalog import InstanceType

Row = dict[str, str]


@cache
def rows() -> tuple[Row, ...]:
    text = resources.files("eks_platform.data").joinpath("ec2-instance-types.csv").read_text(encoding="utf-8")
    return tuple(csv.DictReader(io.StringIO(text)))


def golden(row: Row, prefix: str) -> Resources | None:
    """The published allocatable of one row (None: the source had no figure for that type)."""
    if not row[f"{prefix}_cpu_m"]:
        return None
    return Resources(int(row[f"{prefix}_cpu_m"]), int(row[f"{prefix}_memory_mi"]), int(row[f"{prefix}_pods"]))


def instance_type(name: str) -> InstanceType:
    found = catalog().get(name)
    assert found is not None, name
    return found


# --- the golden columns --------------------------------------------------------------------------


def test_every_published_v1_al2023_row_matches() -> None:
    """Karpenter v1.14's instance-types.md (amiFamily AL2023, no kubelet overrides): 1336 rows, all exact."""
    checked, wrong = 0, []
    for row in rows():
        expected = golden(row, "karpenter_v1_al2023")
        if expected is None:
            continue
        checked += 1
        found = allocatable(instance_type(row["instance_type"]), ami_family="AL2023")
        if found != expected:
            wrong.append((row["instance_type"], found, expected))
    assert checked == 1336
    assert wrong == []


# The v0.31 figures (2023) were computed from the EC2 data of that time; AWS has since corrected the
# ENI count of these types' default network card and the memory of r7gd. With those inputs, the same
# formula reproduces every row.
V031_INPUTS = {
    **{
        name: {"eni_max_pods": 345}  # 7 ENIs x 49 IPs + 2; today 8 ENIs: 394
        for name in (
            "c6in.32xlarge",
            "c6in.metal",
            "m6idn.32xlarge",
            "m6idn.metal",
            "m6in.32xlarge",
            "m6in.metal",
            "r6idn.32xlarge",
            "r6idn.metal",
            "r6in.32xlarge",
            "r6in.metal",
        )
    },
    "h1.16xlarge": {"eni_max_pods": 737},  # 15 ENIs x 50 IPs + 2; today 8 x 50: 394
    "r7gd.8xlarge": {"memory_mib": 196608},  # today 262144
    "r7gd.12xlarge": {"memory_mib": 262144},  # today 393216
}


def test_every_published_v031_al2_row_matches_with_the_data_of_2023() -> None:
    """Karpenter v0.31's instance-types.md (amiFamily AL2, ENI-limited pods): 680 rows, the same formula."""
    checked, wrong = 0, []
    for row in rows():
        expected = golden(row, "karpenter_v031_al2")
        if expected is None:
            continue
        checked += 1
        then = replace(instance_type(row["instance_type"]), **V031_INPUTS.get(row["instance_type"], {}))  # type: ignore[arg-type]
        found = allocatable(then, ami_family="AL2", karpenter_api="v1alpha5")
        if found != expected:
            wrong.append((row["instance_type"], found, expected))
    assert checked == 680
    assert wrong == []


def test_only_the_corrected_types_differ_from_v031_with_todays_data() -> None:
    differ = set()
    for row in rows():
        expected = golden(row, "karpenter_v031_al2")
        if expected is not None and allocatable(instance_type(row["instance_type"]), ami_family="AL2") != expected:
            differ.add(row["instance_type"])
    assert differ == set(V031_INPUTS)


def test_al2023_pods_are_the_eni_limit_and_cpu_is_never_ami_dependent() -> None:
    for row in rows():
        expected = golden(row, "karpenter_v1_al2023")
        if expected is None:
            continue
        assert expected.pods == int(row["eni_max_pods"]), row["instance_type"]


# --- Bottlerocket and maxPods (facts §2 worked numbers) ------------------------------------------


@pytest.mark.parametrize(
    ("name", "memory_mi", "cpu_m"),
    [("t3.medium", 2223, 1930), ("m5.large", 6012, 1930), ("m5.xlarge", 13590, 3920), ("m7g.xlarge", 13531, 3920)],
)
def test_bottlerocket_with_max_pods_110_reserves_memory_for_110_pods(name: str, memory_mi: int, cpu_m: int) -> None:
    assert allocatable(instance_type(name), ami_family="Bottlerocket", max_pods=110) == Resources(cpu_m, memory_mi, 110)


def test_al2023_reserves_memory_for_the_eni_limit_even_with_max_pods() -> None:
    """m5.large: 6903Mi on AL2023 with maxPods 110, the same as without; 891Mi more than Bottlerocket."""
    m5 = instance_type("m5.large")
    assert allocatable(m5, ami_family="AL2023", max_pods=110) == Resources(1930, 6903, 110)
    assert allocatable(m5, ami_family="AL2023").memory_mi == 6903
    assert allocatable(m5, ami_family="AL2023", max_pods=110).memory_mi - allocatable(m5, max_pods=110).memory_mi == 891


def test_bottlerocket_without_max_pods_is_eni_limited() -> None:
    """t3.2xlarge: 58 pods; memory reserved for 58, so Bottlerocket and AL2023 agree."""
    t3 = instance_type("t3.2xlarge")
    assert (
        allocatable(t3, ami_family="Bottlerocket") == allocatable(t3, ami_family="AL2023") == Resources(7910, 29317, 58)
    )


def test_the_platforms_single_node_types() -> None:
    """The add-ons and pilot nodes as eks-platform renders them: Bottlerocket, maxPods 110."""
    assert allocatable(instance_type("t3.2xlarge"), max_pods=110) == Resources(7910, 28745, 110)
    assert allocatable(instance_type("m6a.4xlarge"), max_pods=110) == Resources(15890, 59055, 110)


@pytest.mark.parametrize(("vcpu", "reserved"), [(1, 60), (2, 70), (4, 80), (8, 90), (96, 310)])
def test_kube_reserved_cpu(vcpu: int, reserved: int) -> None:
    assert kube_reserved_cpu_m(vcpu) == reserved


def test_windows_defaults_to_110_pods_and_reserves_for_them() -> None:
    m5 = instance_type("m5.large")
    assert allocatable(m5, ami_family="Windows2022") == allocatable(m5, ami_family="Bottlerocket", max_pods=110)


# --- kubelet settings -----------------------------------------------------------------------------


def test_kube_and_system_reserved_replace_and_add() -> None:
    m5 = instance_type("m5.large")  # 2 vCPU, 8192 MiB: memory capacity 7577Mi
    reservations = Reservations(
        kube_reserved_cpu="200m", kube_reserved_memory="1Gi", system_reserved_cpu="100m", system_reserved_memory="500Mi"
    )
    assert allocatable(m5, max_pods=110, reservations=reservations) == Resources(
        2000 - 200 - 100, 7577 - 1024 - 500 - 100, 110
    )


def test_eviction_hard_replaces_the_100mi_default_and_takes_percent_of_capacity() -> None:
    m5 = instance_type("m5.large")
    base = allocatable(m5, max_pods=110).memory_mi  # 6012, after the default 100Mi
    assert (
        allocatable(m5, max_pods=110, reservations=Reservations(eviction_hard_memory="500Mi")).memory_mi == base - 400
    )
    assert allocatable(m5, max_pods=110, reservations=Reservations(eviction_hard_memory="10%")).memory_mi == (
        base + 100 - 758  # ceil(7577 x 10%)
    )
    assert allocatable(m5, max_pods=110, reservations=Reservations(eviction_hard_memory="100%")).memory_mi == base + 100


def test_eviction_soft_counts_only_on_v031_and_not_on_bottlerocket() -> None:
    m5 = instance_type("m5.large")
    soft = Reservations(eviction_soft_memory="1Gi")
    al2 = allocatable(m5, ami_family="AL2").memory_mi
    assert allocatable(m5, ami_family="AL2", reservations=soft, karpenter_api="v1alpha5").memory_mi == al2 + 100 - 1024
    assert allocatable(m5, ami_family="AL2", reservations=soft, karpenter_api="v1").memory_mi == al2
    bottlerocket = allocatable(m5, max_pods=110).memory_mi
    assert allocatable(m5, max_pods=110, reservations=soft, karpenter_api="v1alpha5").memory_mi == bottlerocket


def test_pods_per_core_caps_pods_except_on_bottlerocket() -> None:
    m5 = instance_type("m5.large")
    per_core = Reservations(pods_per_core=10)
    assert allocatable(m5, ami_family="AL2023", max_pods=110, reservations=per_core).pods == 20
    assert allocatable(m5, ami_family="Bottlerocket", max_pods=110, reservations=per_core).pods == 110


def test_reservations_read_from_a_kubelet_block() -> None:
    kubelet = {
        "maxPods": 110,
        "podsPerCore": 4,
        "kubeReserved": {"cpu": "250m", "memory": "1Gi", "ephemeral-storage": "1Gi"},
        "systemReserved": {"memory": "200Mi"},
        "evictionHard": {"memory.available": "5%", "nodefs.available": "10%"},
        "evictionSoft": {"memory.available": "500Mi"},
    }
    assert Reservations.from_kubelet(kubelet) == Reservations(
        kube_reserved_cpu="250m",
        kube_reserved_memory="1Gi",
        system_reserved_memory="200Mi",
        eviction_hard_memory="5%",
        eviction_soft_memory="500Mi",
        pods_per_core=4,
    )
    assert Reservations.from_kubelet({}) == Reservations()


# --- quantities -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "cpu_m"),
    [
        ("500m", 500),
        ("2", 2000),
        (2, 2000),
        (0.5, 500),
        ("0.7", 700),
        ("1.5", 1500),
        ("0.0001", 1),
        ("100m", 100),
        ("0", 0),
        ("1e3", 1_000_000),
        ("250000u", 250),
        (" 1 ", 1000),
        ("", None),
        ("one", None),
        ("-1", None),
        (None, None),
        (True, None),
        ("1 CPU", None),
    ],
)
def test_parse_cpu(text: object, cpu_m: int | None) -> None:
    assert parse_cpu_m(text) == cpu_m


@pytest.mark.parametrize(
    ("text", "memory_mi"),
    [
        ("512Mi", 512),
        ("1Gi", 1024),
        ("1.5Gi", 1536),
        ("24Gi", 24576),
        ("100Ki", 1),
        ("2048Ki", 2),
        ("1G", 954),
        ("128M", 123),
        ("1Ti", 1048576),
        (1048576, 1),
        ("134217728", 128),
        ("129e6", 124),
        ("1E", 953674316407),
        ("0", 0),
        ("1gi", None),
        ("Mi", None),
        ("", None),
    ],
)
def test_parse_memory(text: object, memory_mi: int | None) -> None:
    assert parse_memory_mi(text) == memory_mi


def test_parse_quantity_is_exact() -> None:
    assert parse_quantity("0.1") == Decimal("0.1")
    assert parse_quantity("3Gi") == 3 * 2**30
    assert parse_quantity("1.5e-3") == Decimal("0.0015")


@pytest.mark.parametrize(
    ("mi", "text"), [(512, "512Mi"), (1023, "1023Mi"), (4710, "4.6Gi"), (24576, "24.0Gi"), (-300, "-300Mi")]
)
def test_format_memory(mi: int, text: str) -> None:
    assert format_memory(mi) == text
