"""The project's one error hierarchy.

Every expected failure is one of these; the CLI prints them without a traceback and
exits 2 (bad input) or 1 (a failed apply).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

Loc = tuple[str | int, ...]


def format_path(loc: Loc) -> str:
    """('karpenter', 'provisioners', 1, 'limits') -> 'karpenter.provisioners[1].limits'."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


@dataclass(frozen=True)
class SpecIssue:
    """One problem in the user's spec: where it is (camelCase key path), what is wrong, how to fix it."""

    loc: Loc
    message: str
    fix: str = ""
    file: str = ""
    line: int | None = None

    @property
    def path(self) -> str:
        return format_path(self.loc)

    def located(self, *, file: str, line: int | None) -> SpecIssue:
        return SpecIssue(loc=self.loc, message=self.message, fix=self.fix, file=file, line=line)

    def __str__(self) -> str:
        where = self.file or "<spec>"
        if self.line is not None:
            where = f"{where}:{self.line}"
        text = f"{where} {self.path}: {self.message}" if self.path else f"{where}: {self.message}"
        return f"{text}; {self.fix}" if self.fix else text


class EksPlatformError(Exception):
    """Base of every expected error."""

    exit_code = 1


class SpecError(EksPlatformError):
    """The spec is invalid. Carries every issue found, not only the first."""

    exit_code = 2

    def __init__(self, issues: Sequence[SpecIssue]) -> None:
        self.issues = tuple(issues)
        super().__init__("\n".join(str(issue) for issue in self.issues))


class UsageError(EksPlatformError):
    """A command-line flag or file argument is wrong."""

    exit_code = 2


class ApplyError(EksPlatformError):
    """Changing AWS or a cluster failed."""


class NotFound(EksPlatformError):
    """An object that should exist does not."""


class Conflict(EksPlatformError):
    """Someone else owns what we tried to change."""


class KubeError(ApplyError):
    """The Kubernetes API refused or failed a call."""


class KubeUnreachable(KubeError):
    """The API server cannot be reached (for a private endpoint: not on the VPN or a peered VPC)."""


class HelmError(ApplyError):
    """A helm command failed, or helm is missing."""
