"""Fakes at the cluster side's ports (apply/kube_ports.py): a Kubernetes API that stores objects and
knows only the kinds installed so far (CRDs come with releases, as on a real cluster), and Helm.

Server-side apply is approximated by a deep merge of the applied fields onto the live object (what a
single field manager sees); a dry run returns the merged object without storing it."""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from eks_platform.apply.kube_ports import ChartRef, ObjectRef, ReleaseState, WatchEvent
from eks_platform.errors import HelmError, KubeError, KubeUnreachable

Obj = dict[str, Any]

CORE_KINDS = {
    ("v1", "Namespace"),
    ("v1", "ConfigMap"),
    ("v1", "Secret"),
    ("v1", "Service"),
    ("v1", "ServiceAccount"),
    ("v1", "ResourceQuota"),
    ("v1", "LimitRange"),
    ("v1", "Pod"),
    ("v1", "Node"),
    ("apps/v1", "Deployment"),
    ("apps/v1", "DaemonSet"),
    ("apps/v1", "StatefulSet"),
    ("batch/v1", "CronJob"),
    ("batch/v1", "Job"),
    ("apiextensions.k8s.io/v1", "CustomResourceDefinition"),
    ("apiregistration.k8s.io/v1", "APIService"),
    ("storage.k8s.io/v1", "StorageClass"),
}
# what installing a release (or applying an object) makes the API server know
KINDS_OF_RELEASE = {
    "karpenter": {("karpenter.sh/v1", "NodePool"), ("karpenter.k8s.aws/v1", "EC2NodeClass")},
    "calico": {("operator.tigera.io/v1", "Installation"), ("operator.tigera.io/v1", "APIServer")},
}
CALICO_API_KINDS = {
    ("projectcalico.org/v3", "NetworkPolicy"),
    ("projectcalico.org/v3", "GlobalNetworkPolicy"),
    ("projectcalico.org/v3", "KubeControllersConfiguration"),
    ("projectcalico.org/v3", "IPPool"),
}


def locked(method: Callable[..., Any]) -> Callable[..., Any]:
    """One call at a time on the fake's state (the engine's steps run in threads)."""

    def call(self: Any, *args: Any, **kwargs: Any) -> Any:
        with self.lock:
            return method(self, *args, **kwargs)

    return call


def merge(live: Any, applied: Any) -> Any:
    if isinstance(live, Mapping) and isinstance(applied, Mapping):
        merged = dict(live)
        for key, value in applied.items():
            merged[key] = merge(live.get(key), value) if key in live else copy.deepcopy(value)
        return merged
    return copy.deepcopy(applied)


@dataclass
class FakeKube:
    kinds: set[tuple[str, str]] = field(default_factory=lambda: set(CORE_KINDS))
    objects: dict[ObjectRef, Obj] = field(default_factory=dict)
    reachable: bool = True
    calico_api_comes_up: bool = True  # the APIService turns Available once the APIServer object exists
    calls: list[str] = field(default_factory=list)
    journal: list[str] | None = None  # shared with FakeHelm: the order of every mutating call
    _version: int = 0
    lock: threading.RLock = field(default_factory=threading.RLock)  # steps call it from several threads

    def _note(self, text: str) -> None:
        self.calls.append(text)
        if self.journal is not None:
            self.journal.append(text)

    def _reach(self) -> None:
        if not self.reachable:
            raise KubeUnreachable(
                "cannot reach the API server at https://IRTP.gr7.us-east-1.eks.amazonaws.com (connection timed "
                "out): a private EKS endpoint answers only from the VPN or a peered VPC"
            )

    def server_version(self) -> str:
        self._reach()
        return "v1.33.2-eks-1"

    @locked
    def served(self, api_version: str, kind: str) -> bool:
        self._reach()
        return (api_version, kind) in self.kinds

    @locked
    def get(self, ref: ObjectRef) -> Obj | None:
        self._reach()
        found = self.objects.get(ref)
        return copy.deepcopy(found) if found is not None else None

    @locked
    def list(self, api_version: str, kind: str, *, namespace: str | None = None, labels: str = "") -> list[Obj]:
        self._reach()
        terms = [part.split("=", 1) for part in labels.split(",") if part]  # "key=value" or "key" (exists)
        found = []
        for ref, obj in sorted(self.objects.items(), key=lambda item: str(item[0])):
            if (ref.api_version, ref.kind) != (api_version, kind):
                continue
            if namespace is not None and ref.namespace != namespace:
                continue
            have = (obj.get("metadata") or {}).get("labels") or {}
            if all((term[0] in have) if len(term) == 1 else have.get(term[0]) == term[1] for term in terms):
                found.append(copy.deepcopy(obj))
        return found

    @locked
    def apply(self, obj: Obj, *, dry_run: bool = False) -> Obj:
        self._reach()
        ref = ObjectRef.of(obj)
        if (ref.api_version, ref.kind) not in self.kinds:
            raise KubeError(f"the API server does not know {ref.api_version} {ref.kind} (its CRD is not installed)")
        live = self.objects.get(ref, {})
        merged = merge(live, obj)
        if dry_run:
            return merged
        if merged != live:
            self._version += 1
            merged.setdefault("metadata", {})["resourceVersion"] = str(self._version)
        self.objects[ref] = merged
        self._note(f"apply {ref}")
        self._installed(ref)
        return copy.deepcopy(merged)

    def _installed(self, ref: ObjectRef) -> None:
        if ref.kind == "APIServer" and self.calico_api_comes_up:
            self.kinds |= CALICO_API_KINDS
            service = ObjectRef("apiregistration.k8s.io/v1", "APIService", "v3.projectcalico.org")
            self.objects[service] = {
                "apiVersion": service.api_version,
                "kind": "APIService",
                "metadata": {"name": service.name},
                "status": {"conditions": [{"type": "Available", "status": "True"}]},
            }

    @locked
    def delete(self, ref: ObjectRef) -> bool:
        self._reach()
        self._note(f"delete {ref}")
        return self.objects.pop(ref, None) is not None

    def watch(
        self, api_version: str, kind: str, *, namespace: str | None = None, labels: str = "", timeout_seconds: float
    ) -> Iterator[tuple[WatchEvent, Obj]]:
        for obj in self.list(api_version, kind, namespace=namespace, labels=labels):
            yield "ADDED", obj


@dataclass
class FakeHelm:
    kube: FakeKube
    releases: dict[tuple[str, str], ReleaseState] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)
    fail: set[str] = field(default_factory=set)  # release names whose install fails
    templates: dict[str, Callable[[ChartRef, Obj], list[Obj]]] = field(default_factory=dict)

    def release(self, name: str, namespace: str) -> ReleaseState | None:
        self.kube._reach()
        return self.releases.get((namespace, name))

    def upgrade_install(self, chart: ChartRef, values: Obj, *, timeout_seconds: int) -> ReleaseState:
        self.kube._reach()
        self.calls.append(f"upgrade_install {chart.name}")
        if self.kube.journal is not None:
            self.kube.journal.append(f"helm {chart.name}")
        previous = self.releases.get((chart.namespace, chart.name))
        if chart.name in self.fail:
            raise HelmError(f"release {chart.name}: UPGRADE FAILED: timed out waiting for the condition")
        state = ReleaseState(
            chart.name,
            chart.namespace,
            f"{chart.chart}-{chart.version}",
            "deployed",
            (previous.revision + 1) if previous else 1,
            copy.deepcopy(values),
        )
        self.releases[(chart.namespace, chart.name)] = state
        self.kube.kinds |= KINDS_OF_RELEASE.get(chart.name, set())
        return state

    def template(self, chart: ChartRef, values: Obj) -> list[Obj]:
        if chart.name in self.templates:
            return self.templates[chart.name](chart, values)
        return [
            {
                "apiVersion": "apiextensions.k8s.io/v1",
                "kind": "CustomResourceDefinition",
                "metadata": {"name": f"{plural}.crd.projectcalico.org"},
                "spec": {"group": "crd.projectcalico.org", "names": {"plural": plural}},
            }
            for plural in ("ippools", "felixconfigurations")
        ]

    def uninstall(self, name: str, namespace: str, *, timeout_seconds: int) -> bool:
        self.calls.append(f"uninstall {name}")
        return self.releases.pop((namespace, name), None) is not None
