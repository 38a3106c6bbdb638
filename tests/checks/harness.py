"""How rule fixtures are read and run.

A fixture is one YAML file, tests/checks/fixtures/<RULE>/{pass,fail}/<case>.yaml. Its first document
says how to build the platform and what the rule must find; the other documents are the user's
manifests (checked with their real file and line numbers):

    apiVersion: eks-platform.io/test
    kind: CheckFixture
    platform:                      # optional: the reference spec, edited
      edits:                       # [old, new] text replacements (each old must occur exactly once)
        - ["public: false", "public: true"]
      karpenterApi: v1alpha5       # optional
    expect:                        # fail fixtures: exactly these findings of this rule (object id, path)
      - {object: Deployment/app/webhook, path: spec.template.spec.hostNetwork}
    ---
    apiVersion: apps/v1
    ...
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.reference_edits import FILE, catalog, edited

from eks_platform.checks import RULES, check
from eks_platform.checks.engine import Report
from eks_platform.checks.objects import parse_manifests
from eks_platform.spec.loading import load_text

FIXTURES = Path(__file__).parent / "fixtures"


@dataclass(frozen=True)
class Fixture:
    path: Path
    rule_id: str
    outcome: str  # "pass" or "fail"
    header: dict[str, Any]

    @property
    def expected(self) -> set[tuple[str, str, str]]:
        return {(self.rule_id, e["object"], e.get("path", "")) for e in self.header.get("expect") or []}


def fixtures() -> list[Fixture]:
    found = []
    for path in sorted(FIXTURES.glob("EP*/*/*.yaml")):
        objects = parse_manifests(path.read_text(encoding="utf-8"), file=str(path))
        header = objects[0].doc if objects and objects[0].kind == "CheckFixture" else {}
        found.append(Fixture(path, path.parent.parent.name, path.parent.name, header))
    return found


def run_fixture(fixture: Fixture) -> Report:
    text = fixture.path.read_text(encoding="utf-8")
    objects = [
        obj for obj in parse_manifests(text, file=str(fixture.path.relative_to(FIXTURES))) if obj.kind != "CheckFixture"
    ]
    platform = fixture.header.get("platform") or {}
    spec = edited(*[tuple(edit) for edit in platform.get("edits") or []])
    loaded = load_text(spec, file=FILE, catalog=catalog(), karpenter_api=platform.get("karpenterApi"))
    return check(loaded, catalog=catalog(), manifests=objects, rules=RULES)


def keys_of(report: Report, rule_id: str) -> set[tuple[str, str, str]]:
    return {f.key for f in report.findings if f.rule_id == rule_id}
