"""The cluster side of `eksp up`: steps of the same task tree as the AWS side, in the order the
architecture needs (each names the steps it waits for):

    kubernetes api (reachable?) -> aws-node absent -> namespaces -> karpenter (helm, on Fargate)
    -> karpenter pools -> calico CRDs + tigera-operator -> calico install (Installation, APIServer;
    wait for the v3.projectcalico.org APIService) -> the add-on releases -> every other object -> prune

Objects go through server-side apply with field manager eks-platform, in the bundle's apply order; a plan
compares a server-side dry run with the live object, so `diff` shows field-level changes. Releases go
through the Helm port. Prune deletes only objects carrying the platform's managed-by label that the
bundle no longer has, and never a namespace that is not a pilot's (it may hold others' work).
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from eks_platform.apply.kube_ports import (
    LAST_APPLIED,
    MANAGED_BY_LABEL,
    MANAGED_BY_VALUE,
    NODE_POOL_LABELS,
    POOL_KINDS,
    ChartRef,
    Helm,
    Kube,
    Obj,
    ObjectRef,
    ReleaseState,
)
from eks_platform.apply.run import Run, Step
from eks_platform.errors import ApplyError, KubeError, KubeUnreachable
from eks_platform.render.bundle import HelmRelease, apply_rank
from eks_platform.spec import defaults as d

CALICO_APISERVICE = ObjectRef("apiregistration.k8s.io/v1", "APIService", "v3.projectcalico.org")
AWS_NODE = ObjectRef("apps/v1", "DaemonSet", "aws-node", "kube-system")

# which objects each step applies (the rest go to "objects")
_KARPENTER_GROUPS = ("karpenter.sh/", "karpenter.k8s.aws/")
_CALICO_INSTALL_GROUP = "operator.tigera.io/"

# fields the server owns: never a difference between a dry run and the live object
_SERVER_METADATA = ("managedFields", "resourceVersion", "uid", "creationTimestamp", "generation", "selfLink")


# --- comparing objects -----------------------------------------------------------------------------


def comparable(obj: Mapping[str, Any]) -> Obj:
    """The object without what the server sets by itself (status, bookkeeping metadata)."""
    clean = copy.deepcopy(dict(obj))
    clean.pop("status", None)
    meta = clean.get("metadata") or {}
    for key in _SERVER_METADATA:
        meta.pop(key, None)
    annotations = meta.get("annotations") or {}
    annotations.pop(LAST_APPLIED, None)
    if not annotations:
        meta.pop("annotations", None)
    return clean


def changed_paths(before: Any, after: Any, prefix: str = "") -> list[str]:
    """Dotted paths where `after` differs from `before` (+ added, - removed, ~ changed)."""
    if isinstance(before, Mapping) and isinstance(after, Mapping):
        paths: list[str] = []
        for key in sorted(set(before) | set(after), key=str):
            path = f"{prefix}.{key}" if prefix else str(key)
            if key not in before:
                paths.append(f"+ {path}")
            elif key not in after:
                paths.append(f"- {path}")
            else:
                paths += changed_paths(before[key], after[key], path)
        return paths
    return [] if before == after else [f"~ {prefix or '(whole)'}"]


def _describe_paths(paths: Sequence[str], limit: int = 6) -> str:
    shown = ", ".join(paths[:limit])
    return shown + (f" and {len(paths) - limit} more" if len(paths) > limit else "")


# --- objects ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ObjectChange:
    ref: ObjectRef
    action: str  # create, update, unchanged
    paths: tuple[str, ...] = ()

    def describe(self) -> str:
        detail = f" ({_describe_paths(self.paths)})" if self.paths else ""
        return f"  {self.action:<9} {self.ref}{detail}"


def plan_objects(kube: Kube, objects: Iterable[Obj]) -> list[ObjectChange]:
    """Each object against the live one: a server-side dry run tells what apply would make of it."""
    changes: list[ObjectChange] = []
    for obj in objects:
        ref = ObjectRef.of(obj)
        live = kube.get(ref)
        if live is None:
            changes.append(ObjectChange(ref, "create"))
            continue
        try:
            would_be = kube.apply(obj, dry_run=True)
        except KubeUnreachable:
            raise
        except KubeError as error:
            raise ApplyError(f"{ref}: the API server refuses it in a dry run: {error}") from error
        paths = changed_paths(comparable(live), comparable(would_be))
        changes.append(ObjectChange(ref, "update" if paths else "unchanged", tuple(paths)))
    return changes


def with_managed_label(obj: Obj) -> Obj:
    labelled = copy.deepcopy(obj)
    labels = labelled.setdefault("metadata", {}).setdefault("labels", {})
    labels.setdefault(MANAGED_BY_LABEL, MANAGED_BY_VALUE)
    return labelled


@dataclass
class ObjectsStep(Step):
    """Server-side apply of a group of the bundle's objects, in apply order."""

    title: str
    objects: tuple[Obj, ...]
    wait_for_calico_api: bool = False
    _changes: list[ObjectChange] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.title

    @property
    def changes(self) -> bool:
        return any(change.action != "unchanged" for change in self._changes)

    def plan(self, run: Run, *, dry_run: bool) -> list[str]:
        self._changes = []
        ports = _ports(run)
        if ports is None:
            self._changes = [ObjectChange(ObjectRef.of(obj), "create") for obj in self.objects]
            return [f"{self.title}: {len(self.objects)} object(s), {_not_yet(run)}"]
        self._changes = plan_objects(ports[0], self.objects)
        todo = [change for change in self._changes if change.action != "unchanged"]
        if not todo:
            return [f"{self.title}: {len(self.objects)} object(s), no changes"]
        return [f"{self.title}:"] + [change.describe() for change in todo]

    def apply(self, run: Run) -> None:
        kube = _required_ports(run, self.title)[0]
        todo = {change.ref for change in self._changes if change.action != "unchanged"}
        for obj in self.objects:
            if ObjectRef.of(obj) in todo:
                kube.apply(obj)
        if todo:
            run.progress(f"{self.title}: applied {len(todo)} object(s)")
        if self.wait_for_calico_api:
            _wait_available(run, kube, CALICO_APISERVICE, "the Calico API server (projectcalico.org/v3)")


# --- the API server, the VPC CNI ----------------------------------------------------------------------


@dataclass
class ApiStep(Step):
    """The API server answers from here: a private endpoint does only from the VPN or a peered VPC."""

    _version: str = ""
    _problem: str = ""

    @property
    def name(self) -> str:
        return "kubernetes api"

    @property
    def changes(self) -> bool:
        return not self._version  # nothing answered yet: up has to wait for it

    def plan(self, run: Run, *, dry_run: bool) -> list[str]:
        self._version, self._problem = "", ""
        if run.cluster_side is None:
            raise ApplyError("kubernetes api: planned without a cluster side")
        ports = run.cluster_side.ports(run.cluster)
        if ports is None:
            return ["kubernetes api: wait until it answers (the cluster is not ACTIVE yet)"]
        try:
            self._version = ports[0].server_version()
        except KubeUnreachable as error:
            self._problem = str(error)
            return [f"kubernetes api: not reachable now: {error}"]
        run.api_ready = True
        return [f"kubernetes api: reachable (Kubernetes {self._version})"]

    def apply(self, run: Run) -> None:
        if run.cluster_side is None or self._version:
            return
        side = run.cluster_side
        ports = side.ports(run.cluster)
        if ports is None:
            raise ApplyError("the EKS cluster is not ACTIVE: the cluster side cannot start")
        deadline = side.clock.now() + side.api_timeout_seconds
        last = self._problem
        while side.clock.now() < deadline:
            try:
                self._version = ports[0].server_version()
                run.api_ready = True
                run.progress(f"kubernetes api: reachable (Kubernetes {self._version})")
                return
            except KubeUnreachable as error:
                last = str(error)
                run.progress("kubernetes api: waiting for the endpoint to answer")
                side.clock.sleep(side.poll_seconds)
        raise KubeUnreachable(
            f"the API server did not answer within {side.api_timeout_seconds:.0f} s: {last}; the AWS side is "
            "done, run `eksp up` again from a machine on the VPN or in a peered VPC"
        )


@dataclass
class AwsNodeStep(Step):
    """EKS may still install the VPC CNI's DaemonSet; Calico replaces it, and both would fight over pods."""

    _present: bool = False

    @property
    def name(self) -> str:
        return "aws-node"

    @property
    def changes(self) -> bool:
        return self._present

    def plan(self, run: Run, *, dry_run: bool) -> list[str]:
        ports = _ports(run)
        if ports is None:
            return [f"aws-node: make sure the VPC CNI's DaemonSet is absent, {_not_yet(run)}"]
        self._present = ports[0].get(AWS_NODE) is not None
        if self._present:
            return ["aws-node: delete DaemonSet kube-system/aws-node (Calico replaces the VPC CNI)"]
        return ["aws-node: absent, no changes"]

    def apply(self, run: Run) -> None:
        if self._present and _required_ports(run, self.name)[0].delete(AWS_NODE):
            run.progress("aws-node: deleted DaemonSet kube-system/aws-node")


# --- helm releases -----------------------------------------------------------------------------------


def chart_ref(release: HelmRelease) -> ChartRef:
    return ChartRef(release.name, release.namespace, release.chart, release.repo, release.version)


_UNESCAPED_DOT = re.compile(r"(?<!\\)\.")


def filled_values(release: HelmRelease, run: Run) -> Obj:
    """The release's values with what the AWS side produced (role ARNs, the cluster endpoint) filled in."""
    values = copy.deepcopy(release.values)
    for path, source in release.aws_inputs.items():
        if source == "cluster.Endpoint":
            value = run.cluster.endpoint if run.cluster else None
            if not value:
                raise ApplyError(f"release {release.name} needs the cluster endpoint, which EKS has not reported")
        else:
            value = run.output(source.split(".", 1)[1], needed_by=f"release {release.name} ({path})")
        keys = [key.replace("\\.", ".") for key in _UNESCAPED_DOT.split(path)]
        node = values
        for key in keys[:-1]:
            node = node.setdefault(key, {})
        node[keys[-1]] = value
    left = re.findall(r"\$\{[a-zA-Z-]+\.[A-Za-z]+\}", json.dumps(values))
    if left:
        raise ApplyError(
            f"release {release.name}: values still hold {', '.join(sorted(set(left)))}, which nothing fills"
        )
    return values


@dataclass
class ReleaseStep(Step):
    release: HelmRelease
    _todo: str = ""  # install, upgrade, repair; "" when nothing to do
    _objects: list[ObjectChange] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"release {self.release.name}"

    @property
    def changes(self) -> bool:
        return bool(self._todo) or any(change.action != "unchanged" for change in self._objects)

    def plan(self, run: Run, *, dry_run: bool) -> list[str]:
        self._todo, self._objects = "", []
        release = self.release
        label = f"release {release.namespace}/{release.name} ({release.chart} {release.version})"
        ports = _ports(run)
        if ports is None:
            self._todo = "install"
            return [f"{label}: install, {_not_yet(run)}"]
        kube, helm = ports
        try:
            values = filled_values(release, run)
        except ApplyError:
            if not dry_run:
                raise
            self._todo = "install"
            return [f"{label}: install or upgrade (values known after the AWS steps apply)"]
        if release.method == "server-side":
            self._objects = plan_objects(
                kube, [with_managed_label(o) for o in helm.template(chart_ref(release), values)]
            )
            todo = [change for change in self._objects if change.action != "unchanged"]
            if not todo:
                return [f"{label}: {len(self._objects)} object(s) applied server-side, no changes"]
            return [f"{label}: server-side apply of the chart's objects"] + [c.describe() for c in todo]
        state = helm.release(release.name, release.namespace)
        self._todo, lines = _release_plan(state, release, values)
        return [f"{label}: {lines[0]}", *lines[1:]]

    def apply(self, run: Run) -> None:
        kube, helm = _required_ports(run, self.name)
        values = filled_values(self.release, run)
        if self.release.method == "server-side":
            todo = {change.ref for change in self._objects if change.action != "unchanged"}
            for obj in helm.template(chart_ref(self.release), values):
                labelled = with_managed_label(obj)
                if ObjectRef.of(labelled) in todo:
                    kube.apply(labelled)
            return
        if not self._todo:
            return
        run.progress(f"release {self.release.name}: helm upgrade --install ({self._todo}), waiting until ready")
        assert run.cluster_side is not None
        state = helm.upgrade_install(
            chart_ref(self.release), values, timeout_seconds=int(run.cluster_side.ready_timeout_seconds)
        )
        run.progress(f"release {self.release.name}: {state.status}, revision {state.revision}")


def _release_plan(state: ReleaseState | None, release: HelmRelease, values: Obj) -> tuple[str, list[str]]:
    if state is None:
        return "install", ["install"]
    lines: list[str] = []
    wanted_chart = f"{release.chart}-{release.version}"
    todo = ""
    if state.status != "deployed":
        todo = "repair"
        lines.append(f"repair (status {state.status})")
    if state.chart != wanted_chart:
        todo = todo or "upgrade"
        lines.append(f"upgrade {state.chart} -> {wanted_chart}")
    paths = changed_paths(_json_normal(state.values), _json_normal(values))
    if paths:
        todo = todo or "upgrade"
        lines.append("upgrade: values change")
        lines += [f"    {path}" for path in paths]
    if not todo:
        return "", [f"deployed, revision {state.revision}, no changes"]
    return todo, lines


def _json_normal(values: Mapping[str, Any]) -> Any:
    return json.loads(json.dumps(values, sort_keys=True))


# --- prune -------------------------------------------------------------------------------------------


@dataclass
class PruneStep(Step):
    """Objects the platform applied earlier (its label) that the bundle no longer has."""

    kinds: tuple[tuple[str, str], ...]  # (apiVersion, kind) the platform applies
    wanted: frozenset[ObjectRef]
    _delete: list[ObjectRef] = field(default_factory=list)
    _kept: list[ObjectRef] = field(default_factory=list)

    @property
    def name(self) -> str:
        return "prune"

    @property
    def changes(self) -> bool:
        return bool(self._delete)

    def plan(self, run: Run, *, dry_run: bool) -> list[str]:
        self._delete, self._kept = [], []
        ports = _ports(run)
        if ports is None:
            return [f"prune: objects of earlier runs no longer in the spec, {_not_yet(run)}"]
        kinds, wanted = set(self.kinds), set(self.wanted)
        for pilot in run.platform.pilots:  # the workloads of the spec's pilots are the platform's too
            namespace = pilot.namespace or f"pilot-{pilot.name}"
            for workload in run.pilot_workloads.get(pilot.name, ()):
                kinds.add((workload.api_version, workload.kind))
                written = workload.metadata.get("namespace")  # unset: the pilot's (KubeObject would say default)
                wanted.add(ObjectRef(workload.api_version, workload.kind, workload.name, written or namespace))
        for obj in self._candidates(ports[0], sorted(kinds), frozenset(wanted)):
            ref = ObjectRef.of(obj)
            labels = (obj.get("metadata") or {}).get("labels") or {}
            if ref.kind == "Namespace" and labels.get(d.ROLE_LABEL) != "pilot":
                self._kept.append(ref)
            else:
                self._delete.append(ref)
        lines = [f"  delete    {ref} (no longer in the spec)" for ref in self._delete]
        lines += [
            f"  keep      {ref} (no longer in the spec; delete it yourself once it is empty)" for ref in self._kept
        ]
        return (["prune:", *lines]) if lines else ["prune: nothing left over"]

    @staticmethod
    def _candidates(kube: Kube, kinds: Iterable[tuple[str, str]], wanted: frozenset[ObjectRef]) -> Iterator[Obj]:
        selector = f"{MANAGED_BY_LABEL}={MANAGED_BY_VALUE}"
        for api_version, kind in kinds:
            for obj in kube.list(api_version, kind, labels=selector):
                if ObjectRef.of(obj) not in wanted:
                    yield obj

    def apply(self, run: Run) -> None:
        kube = _required_ports(run, self.name)[0]
        for ref in sorted(self._delete, key=lambda r: -_rank_of(r)):
            if kube.delete(ref):
                run.progress(f"prune: deleted {ref}")


def _rank_of(ref: ObjectRef) -> int:
    return apply_rank({"kind": ref.kind, "metadata": {"name": ref.name}})[0]


# --- the steps, in order ---------------------------------------------------------------------------


def cluster_steps(bundle_manifests: Sequence[Obj], releases: Sequence[HelmRelease], aws_steps: set[str]) -> list[Step]:
    """The cluster side's steps with what each waits for. `aws_steps` are the names of the AWS steps of
    this run (a stack may be absent: karpenter-infra without an interruption queue, efs without EFS)."""
    manifests = [with_managed_label(obj) for obj in bundle_manifests]
    namespaces = tuple(o for o in manifests if o["kind"] == "Namespace")
    pools = tuple(o for o in manifests if str(o["apiVersion"]).startswith(_KARPENTER_GROUPS))
    calico = tuple(o for o in manifests if str(o["apiVersion"]).startswith(_CALICO_INSTALL_GROUP))
    rest = tuple(o for o in manifests if o not in namespaces and o not in pools and o not in calico)

    def present(*names: str) -> frozenset[str]:
        return frozenset(name for name in names if name in aws_steps)

    api = ApiStep()
    api.after = present("eks cluster", "stack access", "access entries")
    aws_node = AwsNodeStep()
    aws_node.after = frozenset({api.name}) | present("managed add-ons")
    namespace_step = ObjectsStep("namespaces", namespaces)
    namespace_step.after = frozenset({api.name})
    steps: list[Step] = [api, aws_node, namespace_step]
    release_steps = {release.name: ReleaseStep(release) for release in releases}
    karpenter = release_steps.get("karpenter")
    pools_step = ObjectsStep("karpenter pools", pools)
    calico_step = ObjectsStep("calico install", calico, wait_for_calico_api=True)
    for release in releases:
        step = release_steps[release.name]
        needs = {api.name, aws_node.name, namespace_step.name} | present("stack irsa", "fargate profiles")
        if release.stage == "core":
            needs |= present("stack karpenter-infra")
        elif release.stage == "network":
            needs |= {
                release_steps[r.name].name for r in releases if r.stage == "network" and r.method == "server-side"
            }
            needs.discard(step.name)
        else:
            needs |= {calico_step.name, pools_step.name} | present("stack efs")
        step.after = frozenset(needs)
        steps.append(step)
    pools_step.after = frozenset({karpenter.name} if karpenter else {namespace_step.name})
    network = [release_steps[r.name].name for r in releases if r.stage == "network"]
    calico_step.after = frozenset(network or {namespace_step.name})
    steps += [pools_step, calico_step]
    objects_step = ObjectsStep("objects", rest)
    objects_step.after = frozenset({calico_step.name, namespace_step.name, pools_step.name})
    steps.append(objects_step)
    wanted = frozenset(ObjectRef.of(obj) for obj in manifests)
    kinds = sorted({(str(o["apiVersion"]), str(o["kind"])) for o in manifests} | _ALWAYS_PRUNED)
    prune = PruneStep(tuple(kinds), wanted)
    prune.after = frozenset(step.name for step in steps)
    steps.append(prune)
    return steps


# kinds the platform has applied in some version, checked by prune even when the bundle has none now
_ALWAYS_PRUNED = {
    ("v1", "Namespace"),
    ("v1", "ResourceQuota"),
    ("v1", "LimitRange"),
    ("karpenter.sh/v1", "NodePool"),
    ("karpenter.k8s.aws/v1", "EC2NodeClass"),
}


# --- helpers -------------------------------------------------------------------------------------------


def _ports(run: Run) -> tuple[Kube, Helm] | None:
    """The ports when the API server answers; None to plan without looking (it does not exist yet)."""
    if run.cluster_side is None or not run.api_ready:
        return None
    return run.cluster_side.ports(run.cluster)


def _required_ports(run: Run, step: str) -> tuple[Kube, Helm]:
    ports = _ports(run)
    if ports is None:
        raise ApplyError(f"{step}: the Kubernetes API is not reachable ({run.no_cluster_side})")
    return ports


def _not_yet(run: Run) -> str:
    if run.cluster_side is None:
        return f"skipped ({run.no_cluster_side})"
    return "planned in full once the API server answers"


def _wait_available(run: Run, kube: Kube, ref: ObjectRef, what: str) -> None:
    assert run.cluster_side is not None
    side = run.cluster_side
    deadline = side.clock.now() + side.ready_timeout_seconds
    while True:
        obj = kube.get(ref)
        conditions = ((obj or {}).get("status") or {}).get("conditions") or []
        available = next((c for c in conditions if c.get("type") == "Available"), None)
        if available and available.get("status") == "True":
            run.progress(f"{what}: available")
            return
        if side.clock.now() >= deadline:
            reason = f"{available.get('reason')}: {available.get('message')}" if available else "not registered yet"
            raise ApplyError(
                f"{what} ({ref}) is not Available after {side.ready_timeout_seconds:.0f} s ({reason}); "
                f"fix: check `kubectl get tigerastatus` and the calico-apiserver pods (they must run with a VPC IP: "
                f"host network on the {d.ADDONS_POOL} node), then run `eksp up` again"
            )
        run.progress(f"{what}: waiting until Available")
        side.clock.sleep(side.poll_seconds)


# --- down: Karpenter's nodes go before the cluster --------------------------------------------------


def karpenter_nodes(kube: Kube) -> list[str]:
    return sorted(
        {str(node["metadata"]["name"]) for label in NODE_POOL_LABELS for node in kube.list("v1", "Node", labels=label)}
    )


def delete_node_pools(run: Run) -> list[str]:
    """Delete every Karpenter pool (the platform's and anyone's: a pool left behind keeps its nodes) and wait
    until Karpenter has drained and terminated their nodes. Returns what was removed. When the API server
    cannot be reached, says so: the EC2 sweep by tag that follows still terminates the instances."""
    side = run.cluster_side
    if side is None or run.cluster is None:
        return []
    ports = side.ports(run.cluster)
    if ports is None:
        return []
    kube = ports[0]
    try:
        kube.server_version()
    except KubeUnreachable as error:
        run.progress(f"karpenter pools: not deleted through Kubernetes ({error}); the EC2 sweep by tag follows")
        return []
    removed = []
    for api_version, kind in POOL_KINDS:
        for pool in kube.list(api_version, kind):
            ref = ObjectRef.of(pool)
            if kube.delete(ref):
                removed.append(str(ref))
                run.progress(f"karpenter pools: deleted {ref}")
    deadline = side.clock.now() + side.ready_timeout_seconds
    while nodes := karpenter_nodes(kube):
        if side.clock.now() >= deadline:
            run.progress(f"karpenter pools: {len(nodes)} node(s) still there after the wait; the EC2 sweep follows")
            break
        run.progress(f"karpenter pools: waiting for {len(nodes)} node(s) to go: {', '.join(nodes)}")
        side.clock.sleep(side.poll_seconds)
    return removed
