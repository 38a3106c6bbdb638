"""Every pod template of every workload kind, so a rule sees one pod at a time."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from eks_platform.checks.objects import KubeObject, get
from eks_platform.errors import Loc

# Where each workload kind keeps its pod template (Pod: the object itself).
TEMPLATE_PATHS: dict[str, Loc] = {
    "Pod": (),
    "Deployment": ("spec", "template"),
    "StatefulSet": ("spec", "template"),
    "DaemonSet": ("spec", "template"),
    "ReplicaSet": ("spec", "template"),
    "ReplicationController": ("spec", "template"),
    "Job": ("spec", "template"),
    "CronJob": ("spec", "jobTemplate", "spec", "template"),
}
CONTAINER_LISTS = ("initContainers", "containers")


@dataclass(frozen=True, eq=False)
class PodTemplate:
    owner: KubeObject
    path: Loc  # where the template is in the owner

    @property
    def namespace(self) -> str:
        return self.owner.namespace

    @property
    def labels(self) -> Mapping[str, str]:
        labels = get(self.owner.doc, *self.path, "metadata", "labels")
        return labels if isinstance(labels, Mapping) else {}

    @property
    def annotations(self) -> Mapping[str, str]:
        annotations = get(self.owner.doc, *self.path, "metadata", "annotations")
        return annotations if isinstance(annotations, Mapping) else {}

    @property
    def spec(self) -> Mapping[str, Any]:
        spec = get(self.owner.doc, *self.path, "spec")
        return spec if isinstance(spec, Mapping) else {}

    def spec_path(self, *more: str | int) -> Loc:
        return (*self.path, "spec", *more)

    @property
    def is_daemonset(self) -> bool:
        return self.owner.kind == "DaemonSet"

    @property
    def replicas(self) -> int:
        """Pods it runs at once (a DaemonSet: one per node; a Job: its parallelism)."""
        kind = self.owner.kind
        if kind in ("Deployment", "StatefulSet", "ReplicaSet", "ReplicationController"):
            value = get(self.owner.doc, "spec", "replicas")
            return value if isinstance(value, int) else 1
        if kind in ("Job", "CronJob"):
            value = get(self.owner.doc, *self.path[:-1], "parallelism")
            return value if isinstance(value, int) else 1
        return 1

    @property
    def host_network(self) -> bool:
        return self.spec.get("hostNetwork") is True

    def containers(self, *, init: bool = True) -> Iterator[tuple[Loc, Mapping[str, Any]]]:
        """(path, container) of every container (and init container)."""
        for list_name in CONTAINER_LISTS if init else ("containers",):
            items = self.spec.get(list_name)
            if not isinstance(items, list):
                continue
            for index, container in enumerate(items):
                if isinstance(container, Mapping):
                    yield self.spec_path(list_name, index), container

    def ports(self) -> Iterator[tuple[Loc, Mapping[str, Any]]]:
        for path, container in self.containers(init=False):
            ports = container.get("ports")
            if isinstance(ports, list):
                for index, port in enumerate(ports):
                    if isinstance(port, Mapping):
                        yield (*path, "ports", index), port

    def host_ports(self) -> Iterator[tuple[Loc, int, str]]:
        """(path, port, protocol) of every port this pod takes on its node."""
        for path, port in self.ports():
            protocol = str(port.get("protocol", "TCP"))
            host_port = port.get("hostPort")
            if isinstance(host_port, int) and host_port > 0:
                yield (*path, "hostPort"), host_port, protocol
            elif self.host_network and isinstance(port.get("containerPort"), int):
                yield (*path, "containerPort"), port["containerPort"], protocol


def pod_templates(objects: Iterable[KubeObject]) -> Iterator[PodTemplate]:
    for obj in objects:
        path = TEMPLATE_PATHS.get(obj.kind)
        if path is None or obj.group not in ("", "apps", "batch"):
            continue
        if obj.kind == "Pod" and obj.metadata.get("ownerReferences"):
            continue  # a controller's pod: its template is checked instead
        yield PodTemplate(owner=obj, path=path)
