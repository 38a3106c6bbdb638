"""The narrow interface between the apply engine and the cluster: Kubernetes (get, list, apply, delete,
watch) and Helm (status, upgrade --install, template, uninstall). The engine and the pilots speak only
these; `kube.py` implements Kube with lightkube, `helm.py` implements Helm with the user's `helm`
binary, and the tests use fakes (tests/apply/kube_fakes.py).

Objects are plain dicts as the API server returns them. Errors are the project's own (errors.py):
KubeUnreachable when the API server cannot be reached, KubeError for any other refusal.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from eks_platform.spec import defaults as d

Obj = dict[str, Any]

FIELD_MANAGER = "eks-platform"
# every object eks-platform applies carries this label; prune deletes only objects that carry it
MANAGED_BY_LABEL = d.MANAGED_BY_LABEL
MANAGED_BY_VALUE = d.MANAGED_BY_VALUE
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"  # kubectl's copy of what it applied
# Karpenter's pools and the labels it puts on their nodes, in both APIs
POOL_KINDS = (("karpenter.sh/v1", "NodePool"), ("karpenter.sh/v1alpha5", "Provisioner"))
NODE_POOL_LABELS = ("karpenter.sh/nodepool", "karpenter.sh/provisioner-name")

WatchEvent = Literal["ADDED", "MODIFIED", "DELETED"]


def condition_true(obj: Mapping[str, Any] | None, condition: str = "Ready") -> bool:
    """Whether the object's status reports `condition` True (a Node's or Pod's Ready, an APIService's Available)."""
    conditions = ((obj or {}).get("status") or {}).get("conditions") or []
    return any(c.get("type") == condition and c.get("status") == "True" for c in conditions)


@dataclass(frozen=True)
class ObjectRef:
    """Which object: enough to get or delete it."""

    api_version: str
    kind: str
    name: str
    namespace: str | None = None

    @staticmethod
    def of(obj: Mapping[str, Any]) -> ObjectRef:
        meta = obj.get("metadata") or {}
        return ObjectRef(str(obj["apiVersion"]), str(obj["kind"]), str(meta["name"]), meta.get("namespace"))

    def __str__(self) -> str:
        where = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind} {where}{self.name}"


class Kube(Protocol):
    def server_version(self) -> str:
        """ "v1.33.2" etc.; raises KubeUnreachable with the reason when the API server cannot be reached."""
        ...

    def get(self, ref: ObjectRef) -> Obj | None:
        """The object, or None when it (or its kind) does not exist."""
        ...

    def served(self, api_version: str, kind: str) -> bool:
        """Whether the API server serves this kind now (its CRD installed, its aggregated API Available)."""
        ...

    def list(self, api_version: str, kind: str, *, namespace: str | None = None, labels: str = "") -> list[Obj]:
        """Objects of a kind, in one namespace or all; `labels` is a label selector ("a=b,c"). An unknown
        kind (its CRD not installed) lists as empty."""
        ...

    def apply(self, obj: Obj, *, dry_run: bool = False) -> Obj:
        """Server-side apply with field manager eks-platform, taking ownership of conflicting fields
        (force). With dry_run the server computes the result and stores nothing."""
        ...

    def delete(self, ref: ObjectRef) -> bool:
        """Delete (background propagation); False when it was already gone."""
        ...

    def watch(
        self, api_version: str, kind: str, *, namespace: str | None = None, labels: str = "", timeout_seconds: float
    ) -> Iterator[tuple[WatchEvent, Obj]]:
        """Changes to objects of a kind until the timeout; starts with an ADDED event per existing object."""
        ...


@dataclass(frozen=True)
class ReleaseState:
    name: str
    namespace: str
    chart: str  # "<chart>-<version>", as `helm list` prints it
    status: str  # deployed, failed, pending-install, pending-upgrade, pending-rollback, uninstalling, ...
    revision: int
    values: Obj = field(default_factory=dict)  # the user-supplied values (`helm get values`)


@dataclass(frozen=True)
class ChartRef:
    name: str  # the release name
    namespace: str
    chart: str  # the chart name in its repository
    repo: str  # https://... or oci://...
    version: str


class Helm(Protocol):
    def release(self, name: str, namespace: str) -> ReleaseState | None:
        """The release's state, or None when it is not installed."""
        ...

    def upgrade_install(self, chart: ChartRef, values: Obj, *, timeout_seconds: int) -> ReleaseState:
        """`helm upgrade --install --atomic --wait --create-namespace` with exactly these values."""
        ...

    def template(self, chart: ChartRef, values: Obj) -> list[Obj]:
        """The chart's objects, rendered as `helm template` does (for server-side-applied charts and diffs)."""
        ...

    def uninstall(self, name: str, namespace: str, *, timeout_seconds: int) -> bool:
        """False when it was not installed."""
        ...
