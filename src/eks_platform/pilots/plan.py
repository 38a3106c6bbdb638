"""One pilot on its own node: the platform objects it needs, its workloads pinned to that node, and whether
they fit. Pure: the caller reads files and applies; the input objects are never changed (deep copies).

The same pilot comes out of `platform.yaml`'s `pilots` and out of `eksp pilot create NAME --instance-type T`:
both go through with_pilot(), then the render, so the objects are the same.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

from pydantic import ValidationError

from eks_platform.checks import platform_objects as checked_platform_objects
from eks_platform.checks.context import CheckContext
from eks_platform.checks.objects import CLUSTER_SCOPED, KubeObject, parse_manifests
from eks_platform.checks.pods import PodTemplate, pod_templates
from eks_platform.checks.rules.fit_common import PoolFit, bigger_type, pool_fits, unset_requests
from eks_platform.checks.scheduling import tolerates
from eks_platform.errors import SpecError, UsageError, format_path
from eks_platform.plan.allocatable import ZERO, Resources, format_memory
from eks_platform.render import render
from eks_platform.render.bundle import Bundle, Obj
from eks_platform.render.karpenter import pilot_provisioner, pool_tolerations
from eks_platform.render.pilots import LIMIT_RANGE_NAME
from eks_platform.spec import defaults as d
from eks_platform.spec.instance_catalog import InstanceCatalog
from eks_platform.spec.model import PilotSpec, Platform
from eks_platform.spec.validation import validate

NODE_CLASS_OF_POOL = {"NodePool": "EC2NodeClass", "Provisioner": "AWSNodeTemplate"}


# --- the pilot itself ------------------------------------------------------------------------------


def pilot_from_args(name: str, instance_type: str, namespace: str | None = None) -> PilotSpec:
    """The pilot `eksp pilot create NAME --instance-type T [--namespace N]` means: the same PilotSpec a
    `pilots:` entry of platform.yaml gives. Raises UsageError naming each bad argument."""
    try:
        return PilotSpec(name=name, instance_type=instance_type, namespace=namespace)
    except ValidationError as error:
        flags = {"name": "NAME", "instance_type": "--instance-type", "namespace": "--namespace"}
        problems = [
            f"{flags.get(str(detail['loc'][0]), str(detail['loc'][0])) if detail['loc'] else 'pilot'} "
            f"{detail['input']!r}: {detail['msg']}"
            for detail in error.errors()
        ]
        raise UsageError(
            "; ".join(problems) + "; fix: a pilot's name and namespace are DNS labels (lowercase letters, digits "
            f"and '-'); a name has at most {d.MAX_PILOT_NAME} characters, since its pool and namespace are pilot-NAME"
        ) from None


def with_pilot(platform: Platform, pilot: PilotSpec, *, catalog: InstanceCatalog) -> Platform:
    """The platform with `pilot` added, or replacing the pilot of the same name; defaults filled and the
    spec's rules run, as for a loaded platform.yaml. Raises SpecError with every issue."""
    pilots = [pilot if existing.name == pilot.name else existing for existing in platform.pilots]
    if all(existing.name != pilot.name for existing in platform.pilots):
        pilots.append(pilot)
    updated = d.complete(platform.model_copy(update={"pilots": pilots}))
    issues = validate(updated, catalog=catalog)
    if issues:
        raise SpecError(issues)
    return updated


def manifests_path(pilot: PilotSpec, *, spec_file: str) -> PurePath | None:
    """Where the pilot's `manifests` are: relative to the spec file (an absolute path stays as written)."""
    if pilot.manifests is None:
        return None
    return PurePath(spec_file).parent / pilot.manifests


def parse_workloads(texts: Mapping[str, str]) -> list[KubeObject]:
    """The objects of the pilot's manifest files (file name -> text, read by the caller), with file and line.
    Raises UsageError (file:line) on a file that is not Kubernetes YAML."""
    return [obj for file, text in texts.items() for obj in parse_manifests(text, file=file)]


# --- the plan ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PilotFit:
    """The pilot's one node: cpu (millicores), memory (MiB) and pods."""

    instance_type: str
    capacity: Resources  # the instance's vCPUs, memory and the kubelet's maxPods
    allocatable: Resources  # Karpenter's: capacity minus its overhead (kube-reserved, VM memory, eviction)
    daemonsets: Resources  # what the platform's DaemonSets request on every node
    pilot: Resources  # what the pilot's own workloads request (unset requests count as zero, as in EP501)

    @property
    def overhead(self) -> Resources:
        return self.capacity - self.allocatable

    @property
    def room(self) -> Resources:
        """What the pilot may request: the namespace's ResourceQuota."""
        return self.allocatable - self.daemonsets

    @property
    def requested(self) -> Resources:
        return self.daemonsets + self.pilot

    @property
    def headroom(self) -> Resources:
        return self.allocatable - self.requested

    @property
    def fits(self) -> bool:
        return self.requested.fits_in(self.allocatable)


@dataclass(frozen=True)
class PilotPlan:
    pilot: PilotSpec  # with its defaults filled (namespace)
    platform: Platform  # the platform with this pilot
    # namespace, policies, quota, limit range, the pool and its node class: as `eksp render` renders them
    platform_objects: tuple[Obj, ...]
    workloads: tuple[KubeObject, ...]  # the pilot's objects, patched onto its node and into its namespace
    fit: PilotFit
    refusals: tuple[str, ...]  # each with its fix; the pilot must not be applied while there is one
    notes: tuple[str, ...]  # worth saying, not blocking (containers without requests)

    @property
    def ok(self) -> bool:
        return not self.refusals


def plan_pilot(
    platform: Platform,
    pilot: PilotSpec,
    *,
    workloads: Sequence[KubeObject | Mapping[str, Any]],
    catalog: InstanceCatalog,
) -> PilotPlan:
    """Add the pilot to the platform, render it, pin copies of its workloads to its node, and fit them there
    with the fit check's own code (EP501: Karpenter's allocatable, Kubernetes' pod requests, DaemonSets)."""
    platform = with_pilot(platform, pilot, catalog=catalog)
    pilot = next(p for p in platform.pilots if p.name == pilot.name)
    namespace = pilot.namespace or ""
    bundle = render(platform, catalog=catalog)
    refusals: list[str] = _namespace_taken(platform, bundle, pilot)
    patched = [_copy(obj) for obj in workloads]
    for obj in patched:
        refusals += _into_namespace(obj, pilot)
    pinned_elsewhere = set()
    for template in pod_templates(patched):
        refused = _named_node(template) + _onto_node(template, platform, pilot)
        if refused:
            pinned_elsewhere.add(id(template.owner))
        refusals += refused

    users = {obj.key for obj in patched}
    objects = [o for o in checked_platform_objects(bundle.manifests, bundle.workloads) if o.key not in users]
    ctx = CheckContext(platform=platform, bundle=bundle, catalog=catalog, objects=[*objects, *patched])
    pool = f"pilot-{pilot.name}"
    pool_fit = next((f for f in pool_fits(ctx) if f.pool.name == pool), None)
    if pool_fit is None:  # the pool's requirements leave no launchable type (EP403 says which)
        raise UsageError(
            f"pilot {pilot.name}: its pool {pool} can launch no {pilot.instance_type} with the platform's node "
            "settings; fix: pick another --instance-type (`eksp check` on a spec with this pilot says why)"
        )
    fit = _fit(pool_fit, patched)
    notes: list[str] = []
    for template in pod_templates(patched):
        where = ctx.where(template)
        if id(template.owner) not in pinned_elsewhere and (where.home == "fargate" or where.pools != (pool,)):
            selector = _template_spec(template).get("nodeSelector") or {}
            own = ", ".join(f"{k}={v}" for k, v in selector.items() if k != d.PILOT_LABEL)
            where_text = where.describe if where.home == "fargate" or where.pools else "on no node at all"
            refusals.append(
                f"{_describe(template.owner)} would run {where_text}, not on pilot {pilot.name}'s node only"
                + (f" (its nodeSelector also asks for {own})" if own else "")
                + "; fix: drop the nodeSelector, node affinity or labels that send it elsewhere"
            )
        notes += _unset_requests(template, bundle.manifests, namespace)
    if not fit.fits:
        refusals.append(_does_not_fit(pilot, fit, bigger_type(ctx, pool_fit)))
    return PilotPlan(
        pilot=pilot,
        platform=platform,
        platform_objects=tuple(_platform_objects(bundle.manifests, pilot)),
        workloads=tuple(patched),
        fit=fit,
        refusals=tuple(refusals),
        notes=tuple(notes),
    )


def _namespace_taken(platform: Platform, bundle: Bundle, pilot: PilotSpec) -> list[str]:
    """A pilot's namespace is its own: deleting the pilot deletes it, with everything in it."""
    namespace = pilot.namespace or ""
    owners = {str(w.get("metadata", {}).get("namespace")): "the platform's workloads" for w in bundle.workloads}
    owners |= {release.namespace: f"release {release.name}" for release in bundle.releases}
    owners |= {p.namespace or "": f"pilot {p.name}" for p in platform.pilots if p.name != pilot.name}
    owners |= {n.name: "an application namespace of the spec" for n in platform.namespaces}
    if namespace in owners:
        return [
            f"namespace {namespace} belongs to {owners[namespace]}, not to pilot {pilot.name}; fix: leave --namespace "
            f"out (pilot-{pilot.name}) or name one nothing else uses"
        ]
    return []


# --- platform objects --------------------------------------------------------------------------------


def _platform_objects(manifests: Iterable[Obj], pilot: PilotSpec) -> list[Obj]:
    """In apply order: the pilot's namespace and what lives in it, its pool, and the node class the pool uses."""
    pool_name = f"pilot-{pilot.name}"
    manifests = list(manifests)
    pool = next(o for o in manifests if o["kind"] in NODE_CLASS_OF_POOL and o["metadata"]["name"] == pool_name)
    ref = (
        pool["spec"]["template"]["spec"]["nodeClassRef"] if pool["kind"] == "NodePool" else pool["spec"]["providerRef"]
    )
    node_class = (NODE_CLASS_OF_POOL[pool["kind"]], ref["name"])
    selected = []
    for obj in manifests:
        meta = obj.get("metadata", {})
        if (
            (obj["kind"] == "Namespace" and meta.get("name") == pilot.namespace)
            or meta.get("namespace") == pilot.namespace
            or obj is pool
            or (obj["kind"], meta.get("name")) == node_class
        ):
            selected.append(copy.deepcopy(obj))
    return selected


# --- patching ----------------------------------------------------------------------------------------


def _copy(obj: KubeObject | Mapping[str, Any]) -> KubeObject:
    if isinstance(obj, KubeObject):
        return KubeObject(doc=copy.deepcopy(obj.doc), file=obj.file, line=obj.line, origin=obj.origin, text=obj.text)
    return KubeObject(doc=copy.deepcopy(dict(obj)))


def _describe(obj: KubeObject) -> str:
    where = f" ({obj.file}:{obj.line})" if obj.file and obj.line is not None else f" ({obj.file})" if obj.file else ""
    name = f"{obj.namespace}/{obj.name}" if obj.namespace else obj.name
    return f"{obj.kind} {name}{where}"


def _into_namespace(obj: KubeObject, pilot: PilotSpec) -> list[str]:
    """A namespaced object without a namespace goes into the pilot's; one naming another is refused."""
    namespace = pilot.namespace or ""
    if obj.kind == "Namespace":
        return [
            f"{_describe(obj)}: a pilot's manifests create no namespace; fix: leave it out (eks-platform creates "
            f"namespace {namespace} with its quota, limit range and network policies)"
        ]
    if obj.kind in CLUSTER_SCOPED:
        return [
            f"{_describe(obj)} is cluster-wide: a pilot holds only namespaced objects, so that deleting it "
            f"leaves nothing behind and it cannot change the cluster (a NodePool, a ClusterRole); fix: leave it "
            "out, and have the platform team apply cluster-wide objects through platform.yaml or kubectl"
        ]
    metadata = obj.doc.get("metadata")
    if not isinstance(metadata, dict):
        metadata = obj.doc["metadata"] = {}
    written = metadata.get("namespace")
    if not written:
        metadata["namespace"] = namespace
        return []
    if written != namespace:
        return [
            f"{_describe(obj)} names namespace {written}, but pilot {pilot.name}'s objects go into namespace "
            f"{namespace}; fix: remove metadata.namespace or set it to {namespace}"
        ]
    return []


def _named_node(template: PodTemplate) -> list[str]:
    node = _template_spec(template).get("nodeName")
    if not node:
        return []
    return [
        f"{_describe(template.owner)} sets spec.nodeName {node}: it would bypass the scheduler and the pilot's "
        "node; fix: remove nodeName (eks-platform pins the pods to the pilot's node)"
    ]


def _onto_node(template: PodTemplate, platform: Platform, pilot: PilotSpec) -> list[str]:
    """nodeSelector {PILOT_LABEL: name} merged into the template's own, and a toleration of the pilot's taint
    unless one already tolerates it."""
    spec = _template_spec(template)
    selector = spec.get("nodeSelector")
    selector = dict(selector) if isinstance(selector, Mapping) else {}
    other = selector.get(d.PILOT_LABEL)
    if other is not None and other != pilot.name:
        return [
            f"{_describe(template.owner)} has nodeSelector {d.PILOT_LABEL}: {other}, another pilot's node; "
            f"fix: remove it (eks-platform pins the pilot's pods to pilot {pilot.name})"
        ]
    spec["nodeSelector"] = {**selector, d.PILOT_LABEL: pilot.name}
    tolerations = spec.get("tolerations")
    tolerations = list(tolerations) if isinstance(tolerations, list) else []
    taints = [
        {"key": t.key, "value": t.value, "effect": t.effect}
        for t in pilot_provisioner(pilot.name, pilot.instance_type).taints
    ]
    for taint, toleration in zip(taints, pool_tolerations(platform, f"pilot-{pilot.name}"), strict=True):
        if not tolerates([t for t in tolerations if isinstance(t, Mapping)], taint):
            tolerations.append(toleration)
    spec["tolerations"] = tolerations
    return []


def _template_spec(template: PodTemplate) -> dict[str, Any]:
    """The template's spec, as a dict inside the (copied) object, created if missing."""
    node: dict[str, Any] = template.owner.doc
    for key in template.path:
        child = node.get(str(key))
        if not isinstance(child, dict):
            child = node[str(key)] = {}
        node = child
    spec = node.get("spec")
    if not isinstance(spec, dict):
        spec = node["spec"] = {}
    return spec


# --- fit -----------------------------------------------------------------------------------------------


def _fit(pool_fit: PoolFit, patched: Sequence[KubeObject]) -> PilotFit:
    mine = {id(obj) for obj in patched}
    daemonsets, pilot = ZERO, ZERO
    for share in pool_fit.shares:
        if id(share.template.owner) in mine:
            pilot += share.total
        else:
            daemonsets += share.total
    node = pool_fit.node
    allocatable = pool_fit.allocatable
    return PilotFit(
        instance_type=node.instance_type.name,
        capacity=Resources(node.instance_type.vcpu * 1000, node.instance_type.memory_mib, allocatable.pods),
        allocatable=allocatable,
        daemonsets=daemonsets,
        pilot=pilot,
    )


def figures(resources: Resources) -> str:
    """'15.68 cpu / 57.5Gi / 105 pods'."""
    return f"{resources.cpu_m / 1000:g} cpu / {format_memory(resources.memory_mi)} / {resources.pods} pods"


def _does_not_fit(pilot: PilotSpec, fit: PilotFit, bigger: Any) -> str:
    larger = f"a larger --instance-type ({bigger.name} holds it)" if bigger is not None else "a larger --instance-type"
    return (
        f"pilot {pilot.name} needs {figures(fit.pilot)}; one {fit.instance_type} gives {figures(fit.room)} "
        f"allocatable after DaemonSets; fix: pick {larger} or lower the requests"
    )


def _unset_requests(template: PodTemplate, manifests: Sequence[Obj], namespace: str) -> list[str]:
    """The fit counts a missing request as zero (EP503); at admission the LimitRange gives its default."""
    limit_range = next(
        (
            o
            for o in manifests
            if o["kind"] == "LimitRange"
            and o["metadata"]["namespace"] == namespace
            and o["metadata"]["name"] == LIMIT_RANGE_NAME
        ),
        None,
    )
    defaults = limit_range["spec"]["limits"][0]["defaultRequest"] if limit_range is not None else {}
    notes = []
    for path, name, missing in unset_requests(template):
        given = ", ".join(f"{r} {defaults[r]}" for r in ("cpu", "memory") if r in defaults and r in missing)
        admission = f"; the namespace's LimitRange gives it {given} at admission" if given else ""
        notes.append(
            f"{_describe(template.owner)} container {name} ({format_path(path)}) requests no {' or '.join(missing)}: "
            f"counted as zero in the fit, as eksp check does (EP503){admission}; "
            f"fix: set resources.requests.cpu and .memory"
        )
    return notes
