"""Allocatable cpu, memory and pods of an instance type, computed the way Karpenter computes it
(aws/karpenter-provider-aws pkg/providers/instancetype/types.go; facts/karpenter.md §2):

allocatable = capacity - kube-reserved - system-reserved - eviction threshold, where the memory
capacity already lost the VM overhead (7.5%) and, on arm64, 64 MiB. kube-reserved memory is
11 MiB per pod + 255 MiB: Bottlerocket and Windows count the node's pod capacity (so maxPods
counts); AL2, AL2023, Ubuntu and Custom count the ENI-limited pod count even when maxPods is set.

Checked against the catalog's golden columns (tests/plan/test_allocatable.py): every published
Karpenter v1.14 AL2023 row and every Karpenter v0.31 AL2 row (given the ENI and memory data of 2023).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Literal, get_args

from eks_platform.spec.instance_catalog import InstanceType

AmiFamily = Literal["Bottlerocket", "AL2", "AL2023", "Ubuntu", "Custom", "Windows2019", "Windows2022"]
AMI_FAMILIES: tuple[str, ...] = get_args(AmiFamily)
KarpenterApi = Literal["v1", "v1alpha5"]

VM_MEMORY_OVERHEAD_PERCENT = 0.075
EVICTION_HARD_MEMORY_MI = 100
ARM64_CMA_MI = 64
WINDOWS_DEFAULT_PODS = 110  # Windows has no ENI-limited pod density
# kube-reserved cpu: a share of each range of millicores (6% of the first core, 1% of the second,
# 0.5% of cores 3-4, 0.25% above), each share truncated to whole millicores.
_CPU_RESERVED_RANGES = ((0, 1000, 0.06), (1000, 2000, 0.01), (2000, 4000, 0.005), (4000, math.inf, 0.0025))
# Families whose kube-reserved memory follows the ENI-limited pod count (UsesENILimitedMemoryOverhead).
_ENI_LIMITED_MEMORY = frozenset({"AL2", "AL2023", "Ubuntu", "Custom"})
_WINDOWS = frozenset({"Windows2019", "Windows2022"})


@dataclass(frozen=True)
class Resources:
    cpu_m: int
    memory_mi: int
    pods: int

    def __sub__(self, other: Resources) -> Resources:
        return Resources(self.cpu_m - other.cpu_m, self.memory_mi - other.memory_mi, self.pods - other.pods)

    def __add__(self, other: Resources) -> Resources:
        return Resources(self.cpu_m + other.cpu_m, self.memory_mi + other.memory_mi, self.pods + other.pods)

    def __mul__(self, times: int) -> Resources:
        return Resources(self.cpu_m * times, self.memory_mi * times, self.pods * times)

    def max(self, other: Resources) -> Resources:
        """Per resource, the larger of the two."""
        return Resources(max(self.cpu_m, other.cpu_m), max(self.memory_mi, other.memory_mi), max(self.pods, other.pods))

    def fits_in(self, other: Resources) -> bool:
        return self.cpu_m <= other.cpu_m and self.memory_mi <= other.memory_mi and self.pods <= other.pods


ZERO = Resources(0, 0, 0)


@dataclass(frozen=True)
class Reservations:
    """What a node class's kubelet settings reserve beyond Karpenter's defaults, as written
    (v1 EC2NodeClass spec.kubelet, v1alpha5 Provisioner spec.kubeletConfiguration). None: not set."""

    kube_reserved_cpu: str | None = None
    kube_reserved_memory: str | None = None
    system_reserved_cpu: str | None = None
    system_reserved_memory: str | None = None
    eviction_hard_memory: str | None = None  # memory.available: a quantity or a % of memory capacity
    eviction_soft_memory: str | None = None  # counts only on v1alpha5, and not on Bottlerocket
    pods_per_core: int | None = None  # ignored on Bottlerocket

    @classmethod
    def from_kubelet(cls, kubelet: Mapping[str, Any]) -> Reservations:
        def text(*path: str) -> str | None:
            value: Any = kubelet
            for key in path:
                value = value.get(key) if isinstance(value, Mapping) else None
            return None if value is None else str(value)

        per_core = kubelet.get("podsPerCore")
        return cls(
            kube_reserved_cpu=text("kubeReserved", "cpu"),
            kube_reserved_memory=text("kubeReserved", "memory"),
            system_reserved_cpu=text("systemReserved", "cpu"),
            system_reserved_memory=text("systemReserved", "memory"),
            eviction_hard_memory=text("evictionHard", "memory.available"),
            eviction_soft_memory=text("evictionSoft", "memory.available"),
            pods_per_core=per_core if isinstance(per_core, int) and not isinstance(per_core, bool) else None,
        )


DEFAULTS = Reservations()


def kube_reserved_cpu_m(vcpu: int) -> int:
    millicores = vcpu * 1000
    return sum(
        int((min(millicores, end) - start) * share) for start, end, share in _CPU_RESERVED_RANGES if millicores > start
    )


def memory_capacity_mi(instance_type: InstanceType, *, vm_overhead: float = VM_MEMORY_OVERHEAD_PERCENT) -> int:
    memory = instance_type.memory_mib - (ARM64_CMA_MI if instance_type.architecture == "arm64" else 0)
    return memory - math.ceil(memory * vm_overhead)


def pods_capacity(
    instance_type: InstanceType,
    *,
    ami_family: AmiFamily = "Bottlerocket",
    max_pods: int | None = None,
    pods_per_core: int | None = None,
) -> int:
    """kubelet maxPods if set, else the ENI-limited count (110 on Windows); then podsPerCore, where the
    family allows it (not Bottlerocket)."""
    if max_pods is not None:
        pods = max_pods
    elif ami_family in _WINDOWS:
        pods = WINDOWS_DEFAULT_PODS
    else:
        pods = instance_type.eni_max_pods
    if pods_per_core and ami_family != "Bottlerocket":
        pods = min(pods_per_core * instance_type.vcpu, pods)
    return pods


def allocatable(
    instance_type: InstanceType,
    *,
    ami_family: AmiFamily = "Bottlerocket",
    max_pods: int | None = None,
    reservations: Reservations = DEFAULTS,
    karpenter_api: KarpenterApi = "v1",
    vm_overhead: float = VM_MEMORY_OVERHEAD_PERCENT,
) -> Resources:
    pods = pods_capacity(
        instance_type, ami_family=ami_family, max_pods=max_pods, pods_per_core=reservations.pods_per_core
    )
    memory = memory_capacity_mi(instance_type, vm_overhead=vm_overhead)
    reserved_for = instance_type.eni_max_pods if ami_family in _ENI_LIMITED_MEMORY else pods
    kube_cpu = _cpu(reservations.kube_reserved_cpu, kube_reserved_cpu_m(instance_type.vcpu))
    kube_memory = _memory(reservations.kube_reserved_memory, 11 * reserved_for + 255)
    system_cpu = _cpu(reservations.system_reserved_cpu, 0)
    system_memory = _memory(reservations.system_reserved_memory, 0)
    return Resources(
        cpu_m=instance_type.vcpu * 1000 - kube_cpu - system_cpu,
        memory_mi=memory - kube_memory - system_memory - _eviction_mi(memory, reservations, ami_family, karpenter_api),
        pods=pods,
    )


def _cpu(written: str | None, default: int) -> int:
    parsed = parse_cpu_m(written) if written is not None else None
    return default if parsed is None else parsed


def _memory(written: str | None, default: int) -> int:
    parsed = parse_memory_mi(written) if written is not None else None
    return default if parsed is None else parsed


def _eviction_mi(capacity_mi: int, reservations: Reservations, ami_family: AmiFamily, api: KarpenterApi) -> int:
    """evictionHard memory.available (default 100Mi); v0.31 takes the larger of hard and soft where the
    family has soft eviction (not Bottlerocket)."""
    hard = _signal_mi(reservations.eviction_hard_memory, capacity_mi)
    threshold = EVICTION_HARD_MEMORY_MI if hard is None else hard
    if api == "v1alpha5" and ami_family != "Bottlerocket":
        soft = _signal_mi(reservations.eviction_soft_memory, capacity_mi)
        if soft is not None:
            threshold = max(threshold, soft)
    return threshold


def _signal_mi(signal: str | None, capacity_mi: int) -> int | None:
    if signal is None:
        return None
    text = signal.strip()
    if text.endswith("%"):
        try:
            percent = float(text[:-1])
        except ValueError:
            return None
        return 0 if percent == 100 else math.ceil(capacity_mi * percent / 100)  # 100% disables the threshold
    return parse_memory_mi(text)


# --- quantities ----------------------------------------------------------------------------------

_QUANTITY = re.compile(r"^(\+?(?:\d+\.?\d*|\.\d+))(?:([eE][+-]?\d+)|(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E))?$")
_SUFFIX = {
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "k": Decimal(10**3),
    "M": Decimal(10**6),
    "G": Decimal(10**9),
    "T": Decimal(10**12),
    "P": Decimal(10**15),
    "E": Decimal(10**18),
    "Ki": Decimal(2**10),
    "Mi": Decimal(2**20),
    "Gi": Decimal(2**30),
    "Ti": Decimal(2**40),
    "Pi": Decimal(2**50),
    "Ei": Decimal(2**60),
}


def parse_quantity(value: object) -> Decimal | None:
    """A Kubernetes quantity in base units ('1Gi' -> 1073741824, '500m' -> 0.5, '1e3' -> 1000);
    None when it is not one (or is negative)."""
    if isinstance(value, bool) or value is None:
        return None
    match = _QUANTITY.match(str(value).strip())
    if match is None:
        return None
    number, exponent, suffix = match.groups()
    try:
        quantity = Decimal(number)
        if exponent:
            quantity = quantity.scaleb(int(exponent[1:]))
    except (InvalidOperation, ValueError):
        return None
    return quantity * _SUFFIX[suffix] if suffix else quantity


def parse_cpu_m(value: object) -> int | None:
    """'500m' -> 500, '2' -> 2000, 0.5 -> 500, '0.0001' -> 1 (rounded up, as Kubernetes does); None when
    it is not a quantity."""
    quantity = parse_quantity(value)
    return None if quantity is None else math.ceil(quantity * 1000)


def parse_memory_mi(value: object) -> int | None:
    """'512Mi' -> 512, '1Gi' -> 1024, '1G' -> 954, 1048576 -> 1 (rounded up to whole MiB); None when it
    is not a quantity."""
    quantity = parse_quantity(value)
    return None if quantity is None else math.ceil(quantity / _SUFFIX["Mi"])


def format_memory(mi: int) -> str:
    """6012 -> '5.9Gi', 512 -> '512Mi', -300 -> '-300Mi': a short figure for a message."""
    if abs(mi) < 1024:
        return f"{mi}Mi"
    return f"{mi / 1024:.1f}Gi"
