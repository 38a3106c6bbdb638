"""Cross-field rules of the spec. Each rule is a small function; all of them run, all issues are kept.

Paths are written with the YAML (camelCase) key names, so they point at what the user wrote.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from ipaddress import IPv4Network
from itertools import combinations

from eks_platform.errors import Loc, SpecIssue, format_path
from eks_platform.spec import defaults as d
from eks_platform.spec.instance_catalog import InstanceCatalog
from eks_platform.spec.model import Platform, ProvisionerSpec, Requirement

Rule = Callable[[Platform, InstanceCatalog], Iterator[SpecIssue]]

INSTANCE_TYPE = "node.kubernetes.io/instance-type"
FAMILY = "karpenter.k8s.aws/instance-family"
SIZE = "karpenter.k8s.aws/instance-size"
CATEGORY = "karpenter.k8s.aws/instance-category"
GENERATION = "karpenter.k8s.aws/instance-generation"
CAPACITY_TYPE = "karpenter.sh/capacity-type"
ARCH = "kubernetes.io/arch"
OS = "kubernetes.io/os"
ZONE = "topology.kubernetes.io/zone"
RESERVED_NAMESPACES = frozenset({"kube-system", "kube-public", "kube-node-lease", "default"})
MAX_FARGATE_SELECTORS = 5
MAX_FARGATE_PROFILES = 10


def validate(platform: Platform, *, catalog: InstanceCatalog) -> list[SpecIssue]:
    return [issue for rule in RULES for issue in rule(platform, catalog)]


def warnings(platform: Platform) -> list[SpecIssue]:
    """Things that render but will not run as written; `eksp check` turns them into findings."""
    found: list[SpecIssue] = []
    api = platform.karpenter.api
    newest = d.KARPENTER_MAX_KUBERNETES[api]
    if _minor(platform.cluster.kubernetes_version) > _minor(newest):
        found.append(
            SpecIssue(
                loc=("karpenter", "api"),
                message=(
                    f"Karpenter {platform.karpenter.version} ({api}) supports Kubernetes up to {newest}, "
                    f"but cluster.kubernetesVersion is {platform.cluster.kubernetes_version}"
                ),
                fix="use karpenter.api: v1 (eksp render --karpenter-api v1 shows the same platform)",
            )
        )
    return found


def _minor(version: str) -> int:
    parts = version.split(".")
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0


# --- cluster and network -------------------------------------------------------------------------


def vpc_is_existing_or_new(platform: Platform, _: InstanceCatalog) -> Iterator[SpecIssue]:
    vpc = platform.cluster.vpc
    loc: Loc = ("cluster", "vpc")
    if vpc.create:
        if vpc.id or vpc.private_subnet_ids:
            yield SpecIssue(
                loc=loc,
                message="asks for a new VPC (create: true) and also names an existing one",
                fix="remove id and privateSubnetIds, or remove create",
            )
        return
    if vpc.id is None:
        yield SpecIssue(loc=(*loc, "id"), message="no VPC given", fix="set id (an existing VPC) or create: true")
    if len(vpc.private_subnet_ids) < 2:
        yield SpecIssue(
            loc=(*loc, "privateSubnetIds"),
            message="EKS needs private subnets in at least two availability zones; "
            f"{len(vpc.private_subnet_ids)} given",
            fix="list two or more private subnet ids",
        )
    for index, count in _duplicates(vpc.private_subnet_ids):
        yield SpecIssue(loc=(*loc, "privateSubnetIds", index), message=f"{count} is listed twice", fix="remove one")


def cidrs_do_not_overlap(platform: Platform, _: InstanceCatalog) -> Iterator[SpecIssue]:
    cluster = platform.cluster
    named: list[tuple[Loc, IPv4Network]] = [
        (("calico", "ipPool", "cidr"), platform.calico.ip_pool.cidr),
        (("cluster", "serviceCidr"), cluster.service_cidr),
        (("cluster", "vpc", "cidr"), cluster.vpc.cidr),
    ]
    named += [
        (("cluster", "endpointAccess", "vpnCidrs", i), c) for i, c in enumerate(cluster.endpoint_access.vpn_cidrs)
    ]
    named += [
        (("cluster", "endpointAccess", "peeredVpcs", i, "cidr"), p.cidr)
        for i, p in enumerate(cluster.endpoint_access.peered_vpcs)
    ]
    for (loc_a, a), (loc_b, b) in combinations(named, 2):
        if a.overlaps(b):
            yield SpecIssue(
                loc=loc_a,
                message=f"{a} overlaps {b} ({format_path(loc_b)})",
                fix="choose ranges that do not overlap: traffic to the overlap would be routed to the wrong network",
            )


def names_are_unique(platform: Platform, _: InstanceCatalog) -> Iterator[SpecIssue]:
    groups: list[tuple[Loc, list[str]]] = [
        (("karpenter", "provisioners"), [p.name for p in platform.karpenter.provisioners]),
        (("pilots",), [p.name for p in platform.pilots]),
        (("fargate", "profiles"), [p.name for p in platform.fargate.profiles]),
        (("namespaces",), [n.name for n in platform.namespaces]),
        (("cluster", "endpointAccess", "peeredVpcs"), [p.name for p in platform.cluster.endpoint_access.peered_vpcs]),
    ]
    for loc, names in groups:
        for index, name in _duplicates(names):
            yield SpecIssue(
                loc=(*loc, index, "name"), message=f"name '{name}' is used twice", fix="give each a unique name"
            )
    generated = {f"pilot-{p.name}" for p in platform.pilots}
    for index, provisioner in enumerate(platform.karpenter.provisioners):
        if provisioner.name in generated:
            yield SpecIssue(
                loc=("karpenter", "provisioners", index, "name"),
                message=f"'{provisioner.name}' is the name of a pilot's own provisioner",
                fix="rename it; eks-platform creates pilot-<name> for every pilot",
            )


def namespaces_are_usable(platform: Platform, _: InstanceCatalog) -> Iterator[SpecIssue]:
    app_namespaces = {n.name for n in platform.namespaces}
    written = {p.name for p in platform.pilots if p.namespace != f"pilot-{p.name}"}
    for index, namespace in enumerate(platform.namespaces):
        if namespace.name in RESERVED_NAMESPACES:
            yield SpecIssue(
                loc=("namespaces", index, "name"),
                message=f"'{namespace.name}' is a system namespace; "
                "a default-deny policy there would cut off the cluster",
                fix="list only application namespaces",
            )
    for index, pilot in enumerate(platform.pilots):
        if pilot.namespace in app_namespaces or pilot.namespace in RESERVED_NAMESPACES:
            user = "an application namespace" if pilot.namespace in app_namespaces else "a system namespace"
            default = "" if pilot.name in written else f" (the default pilot-{pilot.name})"
            yield SpecIssue(
                loc=("pilots", index, "namespace"),
                message=f"namespace '{pilot.namespace}'{default} is already {user}",
                fix="give every pilot a namespace of its own",
            )
    for index, count in _duplicates([p.namespace or "" for p in platform.pilots]):
        yield SpecIssue(
            loc=("pilots", index, "namespace"),
            message=f"namespace '{count}' is used twice",
            fix="give every pilot a namespace of its own",
        )


def fargate_profiles_within_eks_limits(platform: Platform, _: InstanceCatalog) -> Iterator[SpecIssue]:
    profiles = platform.fargate.profiles
    if len(profiles) > MAX_FARGATE_PROFILES:
        yield SpecIssue(
            loc=("fargate", "profiles"),
            message=f"{len(profiles)} Fargate profiles; EKS allows {MAX_FARGATE_PROFILES} per cluster",
            fix="merge profiles: each can hold up to 5 selectors",
        )
    for index, profile in enumerate(profiles):
        if len(profile.selectors) > MAX_FARGATE_SELECTORS:
            yield SpecIssue(
                loc=("fargate", "profiles", index, "selectors"),
                message=f"{len(profile.selectors)} selectors; EKS allows {MAX_FARGATE_SELECTORS} per profile",
                fix="split them into a second profile",
            )
        for s_index, selector in enumerate(profile.selectors):
            if len(selector.labels) > MAX_FARGATE_SELECTORS:
                yield SpecIssue(
                    loc=("fargate", "profiles", index, "selectors", s_index, "labels"),
                    message=f"{len(selector.labels)} labels; EKS allows 5 per selector",
                    fix="select on fewer labels",
                )


# --- karpenter -----------------------------------------------------------------------------------


def karpenter_version_matches_api(platform: Platform, _: InstanceCatalog) -> Iterator[SpecIssue]:
    karpenter = platform.karpenter
    version = (karpenter.version or "").lstrip("v")
    major_zero = version.startswith("0.")
    if karpenter.api == "v1alpha5" and not (major_zero and _minor(version) <= 32):
        yield SpecIssue(
            loc=("karpenter", "version"),
            message=f"Karpenter {karpenter.version} does not serve the v1alpha5 API (Provisioner); v0.32 was the last",
            fix=f"set version to {d.KARPENTER_VERSION_BY_API['v1alpha5']} or api to v1",
        )
    if karpenter.api == "v1" and major_zero:
        yield SpecIssue(
            loc=("karpenter", "version"),
            message=f"Karpenter {karpenter.version} does not serve the v1 API (NodePool)",
            fix=f"set version to {d.KARPENTER_VERSION_BY_API['v1']} or leave it unset",
        )


def requirements_name_real_instances(platform: Platform, catalog: InstanceCatalog) -> Iterator[SpecIssue]:
    for index, provisioner in enumerate(platform.karpenter.provisioners):
        arch = _single_value(provisioner.requirements, ARCH) or "amd64"
        for r_index, requirement in enumerate(provisioner.requirements):
            loc: Loc = ("karpenter", "provisioners", index, "requirements", r_index)
            yield from _requirement_issues(
                requirement, loc=loc, catalog=catalog, region=platform.cluster.region, arch=arch
            )


def _requirement_issues(
    requirement: Requirement, *, loc: Loc, catalog: InstanceCatalog, region: str, arch: str
) -> Iterator[SpecIssue]:
    op, values = requirement.operator, requirement.values
    if op in ("In", "NotIn") and not values:
        yield SpecIssue(loc=(*loc, "values"), message=f"operator {op} needs at least one value", fix="list the values")
    if op in ("Exists", "DoesNotExist") and values:
        yield SpecIssue(loc=(*loc, "values"), message=f"operator {op} takes no values", fix="remove values")
    if op in ("Gt", "Lt"):
        if len(values) != 1 or not values[0].lstrip("-").isdigit():
            yield SpecIssue(
                loc=(*loc, "values"),
                message=f"operator {op} takes exactly one integer value",
                fix="write one whole number, e.g. ['2']",
            )
        return
    for v_index, count in _duplicates(values):
        yield SpecIssue(
            loc=(*loc, "values", v_index), message=f"'{count}' is listed twice", fix=f"remove the second '{count}'"
        )
    for v_index, value in enumerate(values):
        problem = unknown_requirement_value(requirement.key, value, catalog=catalog, region=region, arch=arch)
        if problem:
            yield SpecIssue(loc=(*loc, "values", v_index), message=problem[0], fix=problem[1])


def unknown_requirement_value(
    key: str, value: str, *, catalog: InstanceCatalog, region: str, arch: str
) -> tuple[str, str] | None:
    def suggestion(options: list[str]) -> str:
        return f"did you mean {' or '.join(options)}?" if options else ""

    if key == FAMILY and value not in catalog.families:
        return f"'{value}' is not an EC2 instance family", suggestion(catalog.suggest_family(value, architecture=arch))
    if key == INSTANCE_TYPE and catalog.get(value) is None:
        return f"'{value}' is not an EC2 instance type", suggestion(catalog.suggest(value, catalog.types))
    if key == SIZE and value not in catalog.sizes:
        return f"'{value}' is not an EC2 instance size", suggestion(catalog.suggest(value, catalog.sizes))
    if key == CATEGORY and value not in catalog.categories:
        return f"'{value}' is not an EC2 instance category", suggestion(catalog.suggest(value, catalog.categories))
    if key == GENERATION and value not in catalog.generations:
        return f"'{value}' is not an EC2 instance generation", "use a number such as 5 or 6"
    if key == CAPACITY_TYPE and value not in ("on-demand", "spot"):
        return f"'{value}' is not a capacity type", "use on-demand or spot"
    if key == ARCH and value not in ("amd64", "arm64"):
        return f"'{value}' is not an architecture Karpenter knows", "use amd64 or arm64"
    if key == OS and value != "linux":
        return f"'{value}' is not an OS Bottlerocket nodes run", "use linux"
    if key == ZONE and not (value.startswith(region) and len(value) == len(region) + 1):
        return f"'{value}' is not an availability zone of {region}", f"use a zone like {region}a"
    return None


def single_node_pools_pin_one_type(platform: Platform, catalog: InstanceCatalog) -> Iterator[SpecIssue]:
    for index, provisioner in enumerate(platform.karpenter.provisioners):
        if not provisioner.single_node:
            continue
        types = _pinned_instance_types(provisioner)
        if len(types) != 1:
            yield SpecIssue(
                loc=("karpenter", "provisioners", index, "requirements"),
                message="a single-node provisioner must allow exactly one instance type",
                fix=f"add a requirement {{key: {INSTANCE_TYPE}, operator: In, values: [t3.2xlarge]}}",
            )


def empty_ttl_or_consolidation(platform: Platform, _: InstanceCatalog) -> Iterator[SpecIssue]:
    for index, provisioner in enumerate(platform.karpenter.provisioners):
        if provisioner.consolidation and provisioner.ttl_seconds_after_empty is not None:
            yield SpecIssue(
                loc=("karpenter", "provisioners", index, "ttlSecondsAfterEmpty"),
                message="set together with consolidation: true, which already removes empty nodes "
                "(Karpenter rejects a Provisioner with both)",
                fix="remove ttlSecondsAfterEmpty, or consolidation",
            )


def pools_exist(platform: Platform, _: InstanceCatalog) -> Iterator[SpecIssue]:
    names = {p.name for p in platform.karpenter.provisioners}
    references: list[tuple[Loc, str]] = [(("karpenter", "pool"), platform.karpenter.pool)]
    for field_name, field in type(platform.addons).model_fields.items():
        addon = getattr(platform.addons, field_name)
        if addon.enabled:
            references.append((("addons", field.alias or field_name, "pool"), addon.pool))
    for loc, pool in references:
        if pool not in names:
            yield SpecIssue(
                loc=loc,
                message=f"no provisioner named '{pool}'",
                fix=f"use one of {', '.join(sorted(names))}, or add that provisioner",
            )


def pilots_use_real_instance_types(platform: Platform, catalog: InstanceCatalog) -> Iterator[SpecIssue]:
    for index, pilot in enumerate(platform.pilots):
        if catalog.get(pilot.instance_type) is None:
            options = catalog.suggest(pilot.instance_type, catalog.types) or list(d.PILOT_INSTANCE_TYPES)
            yield SpecIssue(
                loc=("pilots", index, "instanceType"),
                message=f"'{pilot.instance_type}' is not an EC2 instance type",
                fix=f"did you mean {' or '.join(options)}?",
            )


RULES: tuple[Rule, ...] = (
    vpc_is_existing_or_new,
    cidrs_do_not_overlap,
    names_are_unique,
    namespaces_are_usable,
    fargate_profiles_within_eks_limits,
    karpenter_version_matches_api,
    requirements_name_real_instances,
    single_node_pools_pin_one_type,
    empty_ttl_or_consolidation,
    pools_exist,
    pilots_use_real_instance_types,
)


# --- helpers -------------------------------------------------------------------------------------


def _duplicates(values: Iterable[str]) -> Iterator[tuple[int, str]]:
    """(index, value) of every repeat after the first occurrence."""
    seen: Counter[str] = Counter()
    for index, value in enumerate(values):
        seen[value] += 1
        if seen[value] == 2:
            yield index, value


def _single_value(requirements: Iterable[Requirement], key: str) -> str | None:
    for requirement in requirements:
        if requirement.key == key and requirement.operator == "In" and len(requirement.values) == 1:
            return requirement.values[0]
    return None


def _pinned_instance_types(provisioner: ProvisionerSpec) -> list[str]:
    for requirement in provisioner.requirements:
        if requirement.key == INSTANCE_TYPE and requirement.operator == "In":
            return list(requirement.values)
    return []


def pinned_instance_type(provisioner: ProvisionerSpec) -> str | None:
    types = _pinned_instance_types(provisioner)
    return types[0] if len(types) == 1 else None
