"""The base of every rule: an id that never changes, a severity, a title, a fix, and check()."""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

from eks_platform.checks.context import CheckContext
from eks_platform.checks.finding import Finding, ObjectRef, Severity
from eks_platform.checks.objects import KubeObject
from eks_platform.errors import Loc, format_path


class Rule:
    id: ClassVar[str]  # EP + area digit + two digits
    severity: ClassVar[Severity]
    title: ClassVar[str]  # one line: what must hold
    fix: ClassVar[str]  # the usual fix; a finding may say something more precise
    url: ClassVar[str] = ""  # where the fact comes from

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        raise NotImplementedError

    def on_object(self, obj: KubeObject, path: Loc, message: str, fix: str | None = None) -> Finding:
        ref = ObjectRef(
            kind=obj.kind,
            name=obj.name,
            namespace=obj.namespace,
            file=obj.file,
            line=obj.line_of(path),
            origin=obj.origin,
        )
        return Finding(self.id, self.severity, ref, format_path(path), message, fix or self.fix)

    def on_spec(self, ctx: CheckContext, loc: Loc, message: str, fix: str | None = None) -> Finding:
        return Finding(self.id, self.severity, ctx.spec_ref(loc), format_path(loc), message, fix or self.fix)
