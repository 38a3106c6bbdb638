"""Kubernetes objects read from YAML (plain, multi-document, `kind: List`, `helm template` output),
each remembering its file and the line of its document; the line of any field is found on demand."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from eks_platform.errors import Loc, UsageError, format_path

try:  # libyaml when present: several times faster on large folders
    _Loader: type[yaml.SafeLoader] = yaml.CSafeLoader  # type: ignore[assignment]
except AttributeError:  # pragma: no cover
    _Loader = yaml.SafeLoader

Obj = dict[str, Any]

CLUSTER_SCOPED = frozenset(
    {
        "Namespace",
        "Node",
        "PersistentVolume",
        "StorageClass",
        "PriorityClass",
        "IngressClass",
        "RuntimeClass",
        "CustomResourceDefinition",
        "ClusterRole",
        "ClusterRoleBinding",
        "ValidatingWebhookConfiguration",
        "MutatingWebhookConfiguration",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
        "APIService",
        "NodePool",
        "NodeClaim",
        "EC2NodeClass",
        "Provisioner",
        "AWSNodeTemplate",
        "Machine",
        "Installation",
        "APIServer",
        "IPPool",
        "GlobalNetworkPolicy",
        "GlobalNetworkSet",
        "FelixConfiguration",
        "KubeControllersConfiguration",
        "HostEndpoint",
        "BGPConfiguration",
    }
)

_DOCUMENT_START = re.compile(r"^---(?:[ \t]|$)", re.MULTILINE)


@dataclass(eq=False)
class KubeObject:
    doc: Obj
    file: str = ""  # "" for objects eks-platform modelled
    line: int | None = None  # first line of the document
    origin: str = "user"  # "user", "rendered", or "modelled: <what>"
    text: str | None = field(default=None, repr=False)  # the document's YAML, to find a field's line
    _lines: dict[Loc, int] | None = field(default=None, repr=False)

    @property
    def kind(self) -> str:
        return str(self.doc.get("kind", ""))

    @property
    def api_version(self) -> str:
        return str(self.doc.get("apiVersion", ""))

    @property
    def group(self) -> str:
        return self.api_version.rpartition("/")[0]

    @property
    def metadata(self) -> Mapping[str, Any]:
        meta = self.doc.get("metadata")
        return meta if isinstance(meta, Mapping) else {}

    @property
    def name(self) -> str:
        return str(self.metadata.get("name", ""))

    @property
    def namespace(self) -> str:
        if self.kind in CLUSTER_SCOPED:
            return ""
        return str(self.metadata.get("namespace") or "default")

    @property
    def labels(self) -> Mapping[str, str]:
        labels = self.metadata.get("labels")
        return labels if isinstance(labels, Mapping) else {}

    @property
    def annotations(self) -> Mapping[str, str]:
        annotations = self.metadata.get("annotations")
        return annotations if isinstance(annotations, Mapping) else {}

    @property
    def spec(self) -> Mapping[str, Any]:
        spec = self.doc.get("spec")
        return spec if isinstance(spec, Mapping) else {}

    @property
    def key(self) -> tuple[str, str, str, str]:
        """Identity: two objects with the same key are the same object (a user's replaces a modelled one)."""
        return (self.group.partition("/")[0], self.kind, self.namespace, self.name)

    @property
    def id(self) -> str:
        return f"{self.kind}/{self.namespace}/{self.name}" if self.namespace else f"{self.kind}/{self.name}"

    def line_of(self, path: Loc) -> int | None:
        """The line where `path` (or its nearest written parent) is, in the file the object came from."""
        if self.text is None or self.line is None:
            return self.line
        if self._lines is None:
            self._lines = _key_lines(self.text)
        for end in range(len(path), -1, -1):
            if path[:end] in self._lines:
                return self.line + self._lines[path[:end]]
        return self.line


def get(data: Any, *path: str | int) -> Any:
    """data[path...] or None, through mappings and lists."""
    for part in path:
        if isinstance(part, int):
            data = data[part] if isinstance(data, list) and -len(data) <= part < len(data) else None
        else:
            data = data.get(part) if isinstance(data, Mapping) else None
        if data is None:
            return None
    return data


def parse_manifests(text: str, *, file: str) -> list[KubeObject]:
    """Every Kubernetes object in one YAML file. Raises UsageError (file:line, what is wrong) on bad input."""
    objects: list[KubeObject] = []
    for start, chunk in _documents(text):
        try:
            document = yaml.load(chunk, Loader=_Loader)
        except yaml.YAMLError as error:
            mark = getattr(error, "problem_mark", None)
            line = start + mark.line if mark is not None else start
            problem = getattr(error, "problem", None) or str(error)
            raise UsageError(f"{file}:{line}: not valid YAML ({problem}); fix the file or leave it out") from None
        if document is None:
            continue
        if not isinstance(document, dict) or "kind" not in document or "apiVersion" not in document:
            raise UsageError(
                f"{file}:{start}: not a Kubernetes object (no apiVersion and kind); "
                "pass only Kubernetes manifests with --manifests"
            )
        if document["kind"] == "List" or str(document["kind"]).endswith("List"):
            for item in document.get("items") or []:
                if isinstance(item, dict):
                    objects.append(KubeObject(doc=item, file=file, line=start))
            continue
        objects.append(KubeObject(doc=document, file=file, line=start, text=chunk))
    return objects


def _documents(text: str) -> Iterator[tuple[int, str]]:
    """(first line, text) of each YAML document, split at `---` lines."""
    starts = [match.start() for match in _DOCUMENT_START.finditer(text)]
    if not starts or starts[0] != 0:
        starts.insert(0, 0)
    line = 1
    for index, begin in enumerate(starts):
        end = starts[index + 1] if index + 1 < len(starts) else len(text)
        chunk = text[begin:end]
        lines_in_chunk = chunk.count("\n")
        first, _, rest = chunk.partition("\n")
        if first.startswith("---") and not first[3:].strip():
            yield line + 1, rest  # the object starts after its `---` line
        else:
            yield line, chunk
        line += lines_in_chunk


def _key_lines(text: str) -> dict[Loc, int]:
    """Path -> 0-based line offset of every key and list item in one document."""
    lines: dict[Loc, int] = {}
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return lines

    def walk(current: yaml.Node, path: Loc) -> None:
        if isinstance(current, yaml.MappingNode):
            for key, value in current.value:
                child = (*path, str(key.value))
                lines[child] = key.start_mark.line
                walk(value, child)
        elif isinstance(current, yaml.SequenceNode):
            for index, item in enumerate(current.value):
                child = (*path, index)
                lines[child] = item.start_mark.line
                walk(item, child)

    if node is not None:
        walk(node, ())
    return lines


__all__ = ["CLUSTER_SCOPED", "KubeObject", "format_path", "get", "parse_manifests"]
