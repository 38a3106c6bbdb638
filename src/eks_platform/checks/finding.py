"""What a check reports: a frozen finding about one object (or the spec), with the fix."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Severity(StrEnum):
    error = "error"
    warning = "warning"
    info = "info"


SEVERITY_ORDER = {Severity.error: 0, Severity.warning: 1, Severity.info: 2}


@dataclass(frozen=True)
class ObjectRef:
    """The object a finding is about: Kubernetes kind/namespace/name, or the Platform spec itself."""

    kind: str
    name: str
    namespace: str = ""
    file: str = ""  # where it was read from; "" for objects eks-platform modelled
    line: int | None = None
    origin: str = ""  # "spec", "rendered", "modelled: helm release x", "user"

    @property
    def id(self) -> str:
        """Kind/namespace/name (Kind/name when cluster-scoped): how tests and JSON name it."""
        return f"{self.kind}/{self.namespace}/{self.name}" if self.namespace else f"{self.kind}/{self.name}"

    @property
    def where(self) -> str:
        if not self.file:
            return self.origin
        return f"{self.file}:{self.line}" if self.line is not None else self.file


@dataclass(frozen=True)
class Finding:
    rule_id: str
    severity: Severity
    object: ObjectRef
    path: str  # the field, e.g. spec.template.spec.hostNetwork ("" for the whole object)
    message: str
    fix: str
    suppressed: str | None = None  # the reason written in eks-platform.io/skip-<ID>

    @property
    def key(self) -> tuple[str, str, str]:
        """(rule id, object id, path): what the tests compare."""
        return (self.rule_id, self.object.id, self.path)
