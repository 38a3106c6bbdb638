"""`eksp pilot create / list / delete`: one pilot deployment on one dedicated node, against a live cluster.

create: refuse before anything is applied when the pilot does not fit its node (pilots/plan.py); else apply
the pilot's namespace, policies, quota, limit range and pool, then its workloads (patched copies), wait for
its node and its pods, and say where everything landed. delete: the workloads (with the namespace), then
the pool, then wait until Karpenter has terminated the node, so no instance leaks.

A pilot made here (not declared in platform.yaml) is labelled managed-by eksp-pilot, so `eksp up`'s prune,
which deletes only what is labelled managed-by eks-platform, leaves it alone. A pilot declared in
platform.yaml is `eksp up`'s: create may apply it (the same objects), delete refuses and says so.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from eks_platform.apply.cluster import ObjectChange, plan_objects
from eks_platform.apply.kube_ports import (
    MANAGED_BY_LABEL,
    MANAGED_BY_VALUE,
    POOL_KINDS,
    Kube,
    Obj,
    ObjectRef,
    condition_true,
)
from eks_platform.apply.ports import Clock
from eks_platform.apply.run import Run, Step
from eks_platform.apply.status import HOURS_PER_MONTH
from eks_platform.checks.objects import KubeObject
from eks_platform.checks.pods import pod_templates
from eks_platform.checks.rules.fit_common import pod_requests
from eks_platform.errors import ApplyError, UsageError
from eks_platform.pilots import PilotPlan, plan_pilot
from eks_platform.pilots.plan import NODE_CLASS_OF_POOL
from eks_platform.plan.allocatable import ZERO, Resources, format_memory, parse_cpu_m, parse_memory_mi
from eks_platform.render.bundle import apply_rank
from eks_platform.spec import defaults as d
from eks_platform.spec.instance_catalog import InstanceCatalog

AD_HOC_MANAGER = "eksp-pilot"
_INSTANCE_TYPE_KEYS = ("node.kubernetes.io/instance-type", "beta.kubernetes.io/instance-type")

Progress = Callable[[str], None]


@dataclass(frozen=True)
class PodPlace:
    name: str
    node: str | None
    ready: bool


@dataclass(frozen=True)
class PilotOutcome:
    pilot: str
    namespace: str
    instance_type: str
    dry_run: bool
    changed: bool
    objects: tuple[ObjectChange, ...] = ()
    node: str | None = None
    pods: tuple[PodPlace, ...] = ()
    removed: tuple[str, ...] = ()
    compared: str = ""  # "" when compared with the live cluster, else why not

    def as_json(self) -> dict[str, Any]:
        return {
            "pilot": self.pilot,
            "changed": self.changed,
            "dryRun": self.dry_run,
            "instanceType": self.instance_type,
            "namespace": self.namespace,
            "objects": [
                {"kind": c.ref.kind, "namespace": c.ref.namespace, "name": c.ref.name, "action": c.action}
                for c in self.objects
            ],
            "node": self.node,
            "pods": [{"name": p.name, "node": p.node, "ready": p.ready} for p in self.pods],
            "removed": list(self.removed),
        }


@dataclass
class Waits:
    clock: Clock
    progress: Progress
    poll_seconds: float = 10.0
    node_timeout_seconds: float = 600.0  # Karpenter launches a node in about a minute; Bottlerocket boots fast
    pods_timeout_seconds: float = 900.0
    delete_timeout_seconds: float = 900.0


NODE_CLASS_KINDS = tuple(NODE_CLASS_OF_POOL.values())


def pilot_objects(plan: PilotPlan) -> list[Obj]:
    """Everything `eksp pilot create` applies, in order, each labelled with the pilot; the platform's objects
    first. The node class is the platform's (shared by every pool with its kubelet settings): `eksp up`
    applies it, a pilot only uses it."""
    platform = [
        _labelled(obj, plan.pilot.name, AD_HOC_MANAGER)
        for obj in plan.platform_objects
        if obj.get("kind") not in NODE_CLASS_KINDS
    ]
    return platform + workload_objects(plan, manager=AD_HOC_MANAGER)


def workload_objects(plan: PilotPlan, *, manager: str) -> list[Obj]:
    """The pilot's own (patched) objects, labelled, in apply order."""
    return sorted((_labelled(w.doc, plan.pilot.name, manager) for w in plan.workloads), key=apply_rank)


def _labelled(obj: Obj, pilot: str, manager: str) -> Obj:
    labelled = copy.deepcopy(obj)
    labels = labelled.setdefault("metadata", {}).setdefault("labels", {})
    labels[MANAGED_BY_LABEL] = manager
    labels[d.PILOT_LABEL] = pilot
    return labelled


def refuse_unless_fits(plan: PilotPlan) -> None:
    if plan.refusals:
        reasons = "\n".join(f"  - {reason}" for reason in plan.refusals)
        raise UsageError(f"pilot {plan.pilot.name} is not created; nothing was applied:\n{reasons}")


def create_pilot(
    kube: Kube | None, plan: PilotPlan, *, dry_run: bool, waits: Waits, why_offline: str = ""
) -> PilotOutcome:
    """Plan, then (unless dry_run) apply and wait. `kube` None: a dry run not compared with a live cluster."""
    refuse_unless_fits(plan)
    objects = pilot_objects(plan)
    name, namespace = plan.pilot.name, plan.pilot.namespace or f"pilot-{plan.pilot.name}"
    outcome = partial(PilotOutcome, pilot=name, namespace=namespace, instance_type=plan.pilot.instance_type)
    if kube is None:
        if not dry_run:
            raise ApplyError(f"pilot {name}: no cluster to apply to ({why_offline})")
        changes = tuple(ObjectChange(ObjectRef.of(obj), "create") for obj in objects)
        return outcome(dry_run=True, changed=True, objects=changes, compared=why_offline)
    _refuse_what_the_cluster_lacks(kube, plan, objects)
    changes = tuple(plan_objects(kube, objects))
    changed = any(change.action != "unchanged" for change in changes)
    if dry_run:
        return outcome(dry_run=True, changed=changed, objects=changes)
    todo = {change.ref for change in changes if change.action != "unchanged"}
    for obj in objects:
        if ObjectRef.of(obj) in todo:
            kube.apply(obj)
            waits.progress(f"applied {ObjectRef.of(obj)}")
    node, pods = _wait_for_pilot(kube, plan, waits)
    return outcome(dry_run=False, changed=changed, objects=changes, node=node, pods=pods)


def _refuse_what_the_cluster_lacks(kube: Kube, plan: PilotPlan, objects: Sequence[Obj]) -> None:
    """Before anything is applied: every kind must be served (Calico's policies need its API server) and the
    platform's node class must exist, or nothing is applied at all."""
    problems = [
        f"the API server does not serve {api_version} {kind}"
        + (
            " (the Calico API server: is it installed and Available?)"
            if api_version.startswith("projectcalico")
            else ""
        )
        for api_version, kind in sorted({(str(o["apiVersion"]), str(o["kind"])) for o in objects})
        if not kube.served(api_version, kind)
    ]
    for obj in plan.platform_objects:
        if obj.get("kind") in NODE_CLASS_KINDS and kube.get(ObjectRef.of(obj)) is None:
            problems.append(f"the platform's {ObjectRef.of(obj)} does not exist (the pilot's pool uses it)")
    if problems:
        raise ApplyError(
            f"pilot {plan.pilot.name} is not created; nothing was applied: {'; '.join(problems)}; fix: run "
            "`eksp up` for this platform first (it installs Karpenter, Calico and the node classes)"
        )


def _pods_expected(plan: PilotPlan) -> int:
    """How many pods should be running once it is up (CronJobs and Jobs may have none yet)."""
    return sum(t.replicas for t in pod_templates(plan.workloads) if t.owner.kind not in ("CronJob", "Job"))


def _wait_for_pilot(kube: Kube, plan: PilotPlan, waits: Waits) -> tuple[str | None, tuple[PodPlace, ...]]:
    """Its node, then its pods, rolled out. Nothing to run now (only CronJobs, or no replicas): Karpenter
    launches no node for it, so there is nothing to wait for."""
    expected = _pods_expected(plan)
    if expected == 0:
        waits.progress("nothing runs until a Job or CronJob starts: Karpenter launches the node then")
        return None, ()
    node = _wait_for_node(kube, plan.pilot.name, waits)
    namespace = plan.pilot.namespace or f"pilot-{plan.pilot.name}"
    return node, _wait_for_pods(kube, namespace, waits, expected=expected)


def _not_rolled_out(kube: Kube, namespace: str) -> list[str]:
    """Deployments and StatefulSets whose latest spec is not Ready on every replica yet."""
    pending = []
    for api_version, kind in (("apps/v1", "Deployment"), ("apps/v1", "StatefulSet")):
        for obj in kube.list(api_version, kind, namespace=namespace):
            wanted = (obj.get("spec") or {}).get("replicas", 1)
            status = obj.get("status") or {}
            generation = (obj.get("metadata") or {}).get("generation", 0)
            if (
                status.get("observedGeneration", 0) < generation
                or status.get("readyReplicas", 0) < wanted
                or status.get("updatedReplicas", wanted) < wanted
            ):
                pending.append(f"{kind} {obj['metadata']['name']}")
    return pending


def _pilot_nodes(kube: Kube, name: str) -> list[Obj]:
    return kube.list("v1", "Node", labels=f"{d.PILOT_LABEL}={name}")


def _wait_for_node(kube: Kube, name: str, waits: Waits) -> str:
    deadline = waits.clock.now() + waits.node_timeout_seconds
    while True:
        nodes = _pilot_nodes(kube, name)
        ready = [node for node in nodes if condition_true(node)]
        if ready:
            node_name = str(ready[0]["metadata"]["name"])
            waits.progress(f"node {node_name} is Ready")
            return node_name
        if waits.clock.now() >= deadline:
            raise ApplyError(
                f"pilot {name}: no Ready node after {waits.node_timeout_seconds:.0f} s; fix: check "
                f"`kubectl describe nodepool pilot-{name}` and the Karpenter controller's logs (instance type "
                "capacity in the subnets' zones, the node role, the discovery tags), then run create again, "
                f"or `eksp pilot delete {name}` to remove what was applied"
            )
        waits.progress("waiting for the pilot's node" + (f" ({len(nodes)} launching)" if nodes else ""))
        waits.clock.sleep(waits.poll_seconds)


def _wait_for_pods(kube: Kube, namespace: str, waits: Waits, *, expected: int) -> tuple[PodPlace, ...]:
    deadline = waits.clock.now() + waits.pods_timeout_seconds
    while True:
        pods = [p for p in kube.list("v1", "Pod", namespace=namespace) if _phase(p) not in ("Succeeded", "Failed")]
        places = tuple(
            PodPlace(str(p["metadata"]["name"]), (p.get("spec") or {}).get("nodeName"), condition_true(p)) for p in pods
        )
        rolling = _not_rolled_out(kube, namespace)
        if len(places) >= expected and all(place.ready for place in places) and not rolling:
            waits.progress(f"{len(places)} pod(s) Ready")
            return places
        if waits.clock.now() >= deadline:
            waiting = (
                ", ".join([p.name for p in places if not p.ready] + rolling) or f"{expected - len(places)} not created"
            )
            raise ApplyError(
                f"pods in {namespace} not Ready after {waits.pods_timeout_seconds:.0f} s: {waiting}; fix: "
                f"`kubectl -n {namespace} describe pods` (the quota and limit range apply), then run create "
                "again, or `eksp pilot delete` to remove what was applied"
            )
        ready = sum(1 for p in places if p.ready)
        waits.progress(f"waiting for the pods: {ready}/{max(expected, len(places))} Ready")
        waits.clock.sleep(waits.poll_seconds)


def _phase(pod: Obj) -> str:
    return str((pod.get("status") or {}).get("phase", ""))


# --- list --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PilotInfo:
    name: str
    namespace: str
    instance_type: str
    node: str | None
    state: str  # Ready, NotReady, no node
    pods_ready: int
    pods: int
    requested: Resources
    allocatable: Resources | None
    price_per_hour: float | None

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "namespace": self.namespace,
            "instanceType": self.instance_type,
            "node": self.node,
            "state": self.state,
            "pods": {"ready": self.pods_ready, "total": self.pods},
            "requested": {"cpu": f"{self.requested.cpu_m}m", "memory": f"{self.requested.memory_mi}Mi"},
            "allocatable": None
            if self.allocatable is None
            else {"cpu": f"{self.allocatable.cpu_m}m", "memory": f"{self.allocatable.memory_mi}Mi"},
            "pricePerHour": self.price_per_hour,
            "pricePerMonth": None if self.price_per_hour is None else round(self.price_per_hour * HOURS_PER_MONTH, 2),
        }

    @staticmethod
    def header() -> str:
        return f"{'PILOT':<16} {'TYPE':<13} {'NODE':<28} {'STATE':<9} PODS, REQUESTS OF ALLOCATABLE, COST"

    def describe(self) -> str:
        requested = f"{self.requested.cpu_m}m/{format_memory(self.requested.memory_mi)}"
        room = f" of {self.allocatable.cpu_m}m/{format_memory(self.allocatable.memory_mi)}" if self.allocatable else ""
        price = (
            f"${self.price_per_hour:.4f}/h, ${self.price_per_hour * HOURS_PER_MONTH:.0f}/month"
            if self.price_per_hour is not None
            else "price n/a"
        )
        return (
            f"{self.name:<16} {self.instance_type:<13} {self.node or '-':<28} {self.state:<9} "
            f"{self.pods_ready}/{self.pods} pods  requests {requested}{room}  {price}"
        )


def list_pilots(kube: Kube, catalog: InstanceCatalog) -> list[PilotInfo]:
    pilots = []
    for namespace in kube.list("v1", "Namespace", labels=f"{d.ROLE_LABEL}=pilot"):
        labels = namespace["metadata"].get("labels") or {}
        name, ns = str(labels.get(d.PILOT_LABEL, "")), str(namespace["metadata"]["name"])
        if not name:
            continue
        nodes = _pilot_nodes(kube, name)
        node = nodes[0] if nodes else None
        instance_type = _node_instance_type(node) or _pool_instance_type(kube, name)
        pods = [p for p in kube.list("v1", "Pod", namespace=ns) if _phase(p) not in ("Succeeded", "Failed")]
        requested = ZERO
        for template in pod_templates([KubeObject(pod, origin="live") for pod in pods]):
            requested += pod_requests(template)
        known = catalog.get(instance_type)
        pilots.append(
            PilotInfo(
                name=name,
                namespace=ns,
                instance_type=instance_type,
                node=str(node["metadata"]["name"]) if node else None,
                state=("Ready" if condition_true(node) else "NotReady") if node else "no node",
                pods_ready=sum(1 for p in pods if condition_true(p)),
                pods=len(pods),
                requested=requested,
                allocatable=_allocatable(node) if node else None,
                price_per_hour=known.price_per_hour_us_east_1 if known else None,
            )
        )
    return sorted(pilots, key=lambda p: p.name)


def _node_instance_type(node: Obj | None) -> str:
    labels = ((node or {}).get("metadata") or {}).get("labels") or {}
    return next((str(labels[key]) for key in _INSTANCE_TYPE_KEYS if key in labels), "")


def _pool_instance_type(kube: Kube, name: str) -> str:
    for api_version, kind in POOL_KINDS:
        pool = kube.get(ObjectRef(api_version, kind, f"pilot-{name}"))
        if pool is None:
            continue
        spec = pool.get("spec") or {}
        requirements = ((spec.get("template") or {}).get("spec") or {}).get("requirements") or spec.get("requirements")
        for requirement in requirements or []:
            if requirement.get("key") in _INSTANCE_TYPE_KEYS and requirement.get("values"):
                return str(requirement["values"][0])
    return "?"


def _allocatable(node: Obj) -> Resources | None:
    found = (node.get("status") or {}).get("allocatable") or {}
    cpu, memory = parse_cpu_m(found.get("cpu")), parse_memory_mi(found.get("memory"))
    if cpu is None or memory is None:
        return None
    return Resources(cpu, memory, int(found.get("pods") or 0))


# --- delete ------------------------------------------------------------------------------------------


def refuse_declared(name: str, declared_in_spec: Sequence[str]) -> None:
    """A pilot the spec declares is `eksp up`'s to delete (no cluster needed to say so)."""
    if name in declared_in_spec:
        raise UsageError(
            f"pilot {name} is declared in platform.yaml (pilots); fix: remove it there and run `eksp up`, which "
            "deletes it the same way"
        )


def delete_pilot(
    kube: Kube, name: str, *, declared_in_spec: Sequence[str], dry_run: bool, waits: Waits
) -> PilotOutcome:
    refuse_declared(name, declared_in_spec)
    namespaces = [  # only the pilot's own: made by `eksp pilot create`, a pilot's, of this name
        ns
        for ns in kube.list("v1", "Namespace", labels=f"{d.PILOT_LABEL}={name}")
        if (ns["metadata"].get("labels") or {}).get(d.ROLE_LABEL) == "pilot"
        and (ns["metadata"].get("labels") or {}).get(MANAGED_BY_LABEL) == AD_HOC_MANAGER
    ]
    pools = [
        ObjectRef(api_version, kind, f"pilot-{name}")
        for api_version, kind in POOL_KINDS
        if kube.get(ObjectRef(api_version, kind, f"pilot-{name}")) is not None
    ]
    namespace = str(namespaces[0]["metadata"]["name"]) if namespaces else f"pilot-{name}"
    targets = [ObjectRef("v1", "Namespace", str(ns["metadata"]["name"])) for ns in namespaces] + pools
    instance_type = _pool_instance_type(kube, name)
    outcome = partial(PilotOutcome, pilot=name, namespace=namespace, instance_type=instance_type)
    removed = tuple(str(ref) for ref in targets)
    if dry_run or not targets:
        return outcome(dry_run=dry_run, changed=bool(targets), removed=removed)
    for ref in targets:  # the namespace first: its workloads go with it, then the pool frees the node
        if kube.delete(ref):
            waits.progress(f"deleted {ref}")
    _wait_until_gone(kube, name, namespace, waits)
    return outcome(dry_run=False, changed=True, removed=removed)


def _wait_until_gone(kube: Kube, name: str, namespace: str, waits: Waits) -> None:
    deadline = waits.clock.now() + waits.delete_timeout_seconds
    while True:
        nodes = [str(node["metadata"]["name"]) for node in _pilot_nodes(kube, name)]
        namespace_left = kube.get(ObjectRef("v1", "Namespace", namespace)) is not None
        if not nodes and not namespace_left:
            waits.progress(f"pilot {name}: its node is gone (Karpenter terminated the instance)")
            return
        if waits.clock.now() >= deadline:
            left = ", ".join([*(f"node {n}" for n in nodes), *([f"namespace {namespace}"] if namespace_left else [])])
            raise ApplyError(
                f"pilot {name}: still there after {waits.delete_timeout_seconds:.0f} s: {left}; fix: check the "
                "Karpenter controller's logs and the node's finalizers, then run delete again (`eksp down` also "
                "terminates every instance tagged for the cluster)"
            )
        waits.progress(f"waiting for {', '.join(nodes) or 'the namespace'} to go")
        waits.clock.sleep(waits.poll_seconds)


# --- the spec's pilots, as steps of `eksp up` -----------------------------------------------------------


@dataclass
class PilotStep(Step):
    """The workloads of a pilot declared in platform.yaml with `manifests` (its namespace, pool, policies and
    quota are the platform's objects, applied by the steps before): patched, applied, then waited for."""

    pilot: str
    _plan: PilotPlan | None = None
    _changes: list[ObjectChange] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"pilot {self.pilot}"

    @property
    def changes(self) -> bool:
        return any(change.action != "unchanged" for change in self._changes)

    def _workloads(self, run: Run) -> list[Obj]:
        if self._plan is None:
            raise ApplyError(f"{self.name}: apply before plan")
        return workload_objects(self._plan, manager=MANAGED_BY_VALUE)

    def plan(self, run: Run, *, dry_run: bool) -> list[str]:
        if run.catalog is None:
            raise ApplyError(f"{self.name}: planned without the instance catalog")
        spec = next(p for p in run.platform.pilots if p.name == self.pilot)
        self._plan = plan_pilot(run.platform, spec, workloads=run.pilot_workloads[self.pilot], catalog=run.catalog)
        if self._plan.refusals:
            self._changes = []
            return [f"{self.name}: refused", *(f"  {reason}" for reason in self._plan.refusals)]
        workloads = self._workloads(run)
        side = run.cluster_side
        ports = side.ports(run.cluster) if side is not None and run.api_ready else None
        if ports is None:
            self._changes = [ObjectChange(ObjectRef.of(obj), "create") for obj in workloads]
            return [f"{self.name}: {len(workloads)} workload object(s), planned in full once the API server answers"]
        self._changes = plan_objects(ports[0], workloads)
        todo = [change for change in self._changes if change.action != "unchanged"]
        if not todo:
            return [f"{self.name}: {len(workloads)} workload object(s), no changes"]
        return [f"{self.name} (one {spec.instance_type}):", *(change.describe() for change in todo)]

    def apply(self, run: Run) -> None:
        if self._plan is None:
            raise ApplyError(f"{self.name}: apply before plan")
        refuse_unless_fits(self._plan)
        side = run.cluster_side
        ports = side.ports(run.cluster) if side is not None and run.api_ready else None
        if side is None or ports is None:
            raise ApplyError(f"{self.name}: the Kubernetes API is not reachable")
        todo = {change.ref for change in self._changes if change.action != "unchanged"}
        if not todo:
            return
        kube = ports[0]
        for obj in self._workloads(run):
            if ObjectRef.of(obj) in todo:
                kube.apply(obj)
        waits = Waits(
            clock=side.clock, progress=lambda text: run.progress(f"{self.name}: {text}"), poll_seconds=side.poll_seconds
        )
        node, pods = _wait_for_pilot(kube, self._plan, waits)
        if node:
            run.progress(f"{self.name}: {len(pods)} pod(s) Ready on {node}")
