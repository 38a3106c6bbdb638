"""Allocatable cpu, memory and pods of an instance type, computed the way Karpenter computes it
(aws/karpenter-provider-aws pkg/providers/instancetype/types.go; facts/karpenter.md §2):

allocatable = capacity - kube-reserved - eviction threshold, where the memory capacity already lost
the VM overhead (7.5%) and, on arm64, 64 MiB. Bottlerocket reserves memory for maxPods pods; AL2 and
AL2023 reserve it for the ENI-limited pod count even when maxPods is set.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from eks_platform.spec.instance_catalog import InstanceType

AmiFamily = Literal["Bottlerocket", "AL2", "AL2023"]
VM_MEMORY_OVERHEAD_PERCENT = 0.075
EVICTION_HARD_MEMORY_MI = 100
ARM64_CMA_MI = 64
# kube-reserved cpu: a share of each range of millicores (6% of the first core, 1% of the second,
# 0.5% of cores 3-4, 0.25% above), each share truncated to whole millicores.
_CPU_RESERVED_RANGES = ((0, 1000, 0.06), (1000, 2000, 0.01), (2000, 4000, 0.005), (4000, math.inf, 0.0025))


@dataclass(frozen=True)
class Resources:
    cpu_m: int
    memory_mi: int
    pods: int

    def __sub__(self, other: Resources) -> Resources:
        return Resources(self.cpu_m - other.cpu_m, self.memory_mi - other.memory_mi, self.pods - other.pods)

    def __add__(self, other: Resources) -> Resources:
        return Resources(self.cpu_m + other.cpu_m, self.memory_mi + other.memory_mi, self.pods + other.pods)

    def fits_in(self, other: Resources) -> bool:
        return self.cpu_m <= other.cpu_m and self.memory_mi <= other.memory_mi and self.pods <= other.pods


ZERO = Resources(0, 0, 0)


def kube_reserved_cpu_m(vcpu: int) -> int:
    millicores = vcpu * 1000
    return sum(
        int((min(millicores, end) - start) * share) for start, end, share in _CPU_RESERVED_RANGES if millicores > start
    )


def memory_capacity_mi(instance_type: InstanceType, *, vm_overhead: float = VM_MEMORY_OVERHEAD_PERCENT) -> int:
    memory = instance_type.memory_mib - (ARM64_CMA_MI if instance_type.architecture == "arm64" else 0)
    return memory - math.ceil(memory * vm_overhead)


def pods_capacity(instance_type: InstanceType, *, max_pods: int | None) -> int:
    return max_pods if max_pods is not None else instance_type.eni_max_pods


def allocatable(
    instance_type: InstanceType,
    *,
    ami_family: AmiFamily = "Bottlerocket",
    max_pods: int | None = None,
    vm_overhead: float = VM_MEMORY_OVERHEAD_PERCENT,
) -> Resources:
    pods = pods_capacity(instance_type, max_pods=max_pods)
    reserved_for = pods if ami_family == "Bottlerocket" else instance_type.eni_max_pods
    kube_reserved_memory = 11 * reserved_for + 255
    return Resources(
        cpu_m=instance_type.vcpu * 1000 - kube_reserved_cpu_m(instance_type.vcpu),
        memory_mi=memory_capacity_mi(instance_type, vm_overhead=vm_overhead)
        - kube_reserved_memory
        - EVICTION_HARD_MEMORY_MI,
        pods=pods,
    )


_CPU_SUFFIX = {"m": 1}
_MEMORY_SUFFIX = {
    "Ki": 1 / 1024,
    "Mi": 1,
    "Gi": 1024,
    "Ti": 1024 * 1024,
    "k": 1000 / 1024 / 1024,
    "K": 1000 / 1024 / 1024,
    "M": 1000 * 1000 / 1024 / 1024,
    "G": 1000**3 / 1024 / 1024,
    "T": 1000**4 / 1024 / 1024,
}


def parse_cpu_m(value: object) -> int | None:
    """'500m' -> 500, '2' -> 2000, 0.5 -> 500; None when it is not a quantity."""
    text = str(value).strip()
    try:
        if text.endswith("m"):
            return math.ceil(float(text[:-1]))
        return math.ceil(float(text) * 1000)
    except ValueError:
        return None


def parse_memory_mi(value: object) -> int | None:
    """'512Mi' -> 512, '1Gi' -> 1024, '1G' -> 954, 1048576 -> 1; None when it is not a quantity."""
    text = str(value).strip()
    for suffix in sorted(_MEMORY_SUFFIX, key=len, reverse=True):
        if text.endswith(suffix):
            try:
                return math.ceil(float(text[: -len(suffix)]) * _MEMORY_SUFFIX[suffix])
            except ValueError:
                return None
    try:
        return math.ceil(float(text) / 1024 / 1024)
    except ValueError:
        return None
