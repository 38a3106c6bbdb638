"""The EC2 instance catalog: every instance type with the facts Karpenter's requirements use.

Loaded from the project's own data file (its columns are described in ../shared/data/README.md). The catalog
is a plain value passed to whatever needs it, so tests can hand in a small one.
"""

from __future__ import annotations

import csv
import difflib
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from importlib import resources

_MANUFACTURER_ORDER = {"intel": 0, "amd": 1, "aws": 2}


@dataclass(frozen=True)
class InstanceType:
    name: str
    family: str
    size: str
    category: str
    generation: int
    vcpu: int
    memory_mib: int
    architecture: str
    cpu_manufacturer: str
    eni_max_pods: int
    price_per_hour_us_east_1: float | None
    bare_metal: bool
    gpu_count: int


@dataclass(frozen=True)
class InstanceCatalog:
    types: Mapping[str, InstanceType]

    @cached_property
    def families(self) -> frozenset[str]:
        return frozenset(t.family for t in self.types.values())

    @cached_property
    def sizes(self) -> frozenset[str]:
        return frozenset(t.size for t in self.types.values())

    @cached_property
    def categories(self) -> frozenset[str]:
        return frozenset(t.category for t in self.types.values())

    @cached_property
    def generations(self) -> frozenset[str]:
        return frozenset(str(t.generation) for t in self.types.values())

    def get(self, name: str) -> InstanceType | None:
        return self.types.get(name)

    def suggest_family(self, wrong: str, *, architecture: str | None = None) -> list[str]:
        """Families a user most likely meant: same prefix first (m6 -> m6i, m6a), then close spellings."""
        arch_of = {t.family: t.architecture for t in self.types.values()}
        maker_of = {t.family: t.cpu_manufacturer for t in self.types.values()}
        prefixed = [f for f in self.families if f.startswith(wrong) and f != wrong]
        if architecture:
            prefixed = [f for f in prefixed if arch_of[f] == architecture] or prefixed
        prefixed.sort(key=lambda f: (len(f), _MANUFACTURER_ORDER.get(maker_of[f], 9), f))
        if prefixed:
            return prefixed[:2]
        return difflib.get_close_matches(wrong, sorted(self.families), n=2, cutoff=0.6)

    def suggest(self, wrong: str, candidates: Iterable[str]) -> list[str]:
        return difflib.get_close_matches(wrong, sorted(candidates), n=2, cutoff=0.6)


def _int(text: str) -> int:
    return int(text) if text else 0


def parse_catalog(text: str) -> InstanceCatalog:
    types: dict[str, InstanceType] = {}
    for row in csv.DictReader(io.StringIO(text)):
        price = row["od_price_usd_us_east_1"]
        types[row["instance_type"]] = InstanceType(
            name=row["instance_type"],
            family=row["family"],
            size=row["size"],
            category=row["category"],
            generation=_int(row["generation"]),
            vcpu=_int(row["vcpu"]),
            memory_mib=_int(row["memory_mib"]),
            architecture=row["architecture"],
            cpu_manufacturer=row["cpu_manufacturer"],
            eni_max_pods=_int(row["eni_max_pods"]),
            price_per_hour_us_east_1=float(price) if price else None,
            bare_metal=row["bare_metal"] == "true",
            gpu_count=_int(row["gpu_count"]),
        )
    return InstanceCatalog(types=types)


def load_catalog() -> InstanceCatalog:
    """The catalog shipped with eks-platform (data/ec2-instance-types.csv)."""
    text = resources.files("eks_platform.data").joinpath("ec2-instance-types.csv").read_text(encoding="utf-8")
    return parse_catalog(text)
