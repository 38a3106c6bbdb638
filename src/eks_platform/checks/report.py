"""A check report as text (grouped by object, one-line summary), JSON, or SARIF 2.1.0."""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any

from eks_platform import __version__
from eks_platform.checks.engine import Report
from eks_platform.checks.finding import Finding, Severity

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_SARIF_LEVEL = {Severity.error: "error", Severity.warning: "warning", Severity.info: "note"}
INFORMATION_URI = "https://github.com/eks-platform/eks-platform"


def summary(report: Report) -> str:
    counts = ", ".join(
        f"{report.count(severity)} {severity.value}{'s' if report.count(severity) != 1 and severity != 'info' else ''}"
        for severity in Severity
    )
    objects = len({f.object.id for f in report.findings})
    suppressed = f"; {len(report.suppressed)} suppressed" if report.suppressed else ""
    return (
        f"{counts} in {objects} object{'s' if objects != 1 else ''}{suppressed} "
        f"(checked {report.objects_checked} objects with {len(report.rules)} rules)"
    )


def as_text(report: Report) -> str:
    groups: dict[str, list[Finding]] = defaultdict(list)
    for finding in report.findings:
        groups[finding.object.id].append(finding)
    lines: list[str] = []
    for object_id, findings in groups.items():
        ref = findings[0].object
        source = ref.file or ref.origin
        lines.append(f"{object_id}  ({source})" if source else object_id)
        for finding in findings:
            at = f"line {finding.object.line}  " if finding.object.file and finding.object.line is not None else ""
            field = f"{finding.path}: " if finding.path else ""
            lines.append(f"  {finding.severity.value:<7} {finding.rule_id}  {at}{field}{finding.message}")
            lines.append(f"                 fix: {finding.fix}")
    for finding in report.suppressed:
        lines.append(f"suppressed {finding.rule_id} on {finding.object.id}: {finding.suppressed}")
    lines.append(summary(report))
    return "\n".join(lines) + "\n"


def _finding_json(finding: Finding) -> dict[str, Any]:
    data: dict[str, Any] = {
        "rule": finding.rule_id,
        "severity": finding.severity.value,
        "object": finding.object.id,
        "kind": finding.object.kind,
        "namespace": finding.object.namespace,
        "name": finding.object.name,
        "file": finding.object.file or None,
        "line": finding.object.line,
        "origin": finding.object.origin,
        "path": finding.path,
        "message": finding.message,
        "fix": finding.fix,
    }
    if finding.suppressed is not None:
        data["suppressed"] = finding.suppressed
    return data


def as_json(report: Report) -> dict[str, Any]:
    return {
        "summary": {
            "errors": report.count(Severity.error),
            "warnings": report.count(Severity.warning),
            "info": report.count(Severity.info),
            "suppressed": len(report.suppressed),
            "objectsChecked": report.objects_checked,
            "rules": len(report.rules),
            "exitCode": report.exit_code,
            "text": summary(report),
        },
        "findings": [_finding_json(f) for f in report.findings],
        "suppressed": [_finding_json(f) for f in report.suppressed],
    }


def _rule_name(rule_class_name: str) -> str:
    return re.sub(r"^Ep\d+", "", rule_class_name) or rule_class_name


def as_sarif(report: Report, *, spec_file: str = "") -> dict[str, Any]:
    """spec_file: where findings on rendered or modelled objects point (their fix is in the spec)."""
    rules = list(report.rules)
    index = {rule.id: position for position, rule in enumerate(rules)}
    descriptors = []
    for rule in rules:
        descriptor: dict[str, Any] = {
            "id": rule.id,
            "name": _rule_name(type(rule).__name__),
            "shortDescription": {"text": rule.title},
            "fullDescription": {"text": rule.title},
            "help": {"text": rule.fix},
            "defaultConfiguration": {"level": _SARIF_LEVEL[rule.severity]},
        }
        if rule.url:
            descriptor["helpUri"] = rule.url
        descriptors.append(descriptor)
    results = [_result(f, index, spec_file) for f in (*report.findings, *report.suppressed)]
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "eks-platform",
                        "version": __version__,
                        "informationUri": INFORMATION_URI,
                        "rules": descriptors,
                    }
                },
                "results": results,
            }
        ],
    }


def _result(finding: Finding, index: dict[str, int], spec_file: str) -> dict[str, Any]:
    ref = finding.object
    logical = {"fullyQualifiedName": f"{ref.id}:{finding.path}" if finding.path else ref.id, "kind": "object"}
    location: dict[str, Any] = {"logicalLocations": [logical]}
    if ref.file:
        physical: dict[str, Any] = {"artifactLocation": {"uri": ref.file}}
        if ref.line is not None:
            physical["region"] = {"startLine": ref.line}
        location["physicalLocation"] = physical
    elif spec_file:  # a rendered or modelled object: what makes it so is in the spec
        location["physicalLocation"] = {"artifactLocation": {"uri": spec_file}}
    result: dict[str, Any] = {
        "ruleId": finding.rule_id,
        "ruleIndex": index[finding.rule_id],
        "level": _SARIF_LEVEL[finding.severity],
        "message": {"text": f"{finding.message}. Fix: {finding.fix}"},
        "locations": [location],
        "properties": {"object": ref.id, "path": finding.path, "origin": ref.origin},
    }
    if finding.suppressed is not None:
        result["suppressions"] = [{"kind": "inSource", "justification": finding.suppressed}]
    return result
