"""The eksp command as a user runs it: outputs, files, exit codes, errors without tracebacks."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from eks_platform.cli import app
from eks_platform.spec.loading import reference_text

runner = CliRunner()


def test_init_writes_the_commented_reference_and_refuses_to_overwrite(tmp_path: Path) -> None:
    target = tmp_path / "platform.yaml"
    first = runner.invoke(app, ["init", str(target)])
    assert first.exit_code == 0
    assert target.read_text() == reference_text()
    assert "# seed:" in target.read_text()
    second = runner.invoke(app, ["init", str(target)])
    assert second.exit_code == 2
    assert "exists; pass --force" in second.output


def test_render_writes_every_artifact_and_an_index(tmp_path: Path) -> None:
    result = runner.invoke(app, ["render", "-o", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    out = tmp_path / "out"
    index = json.loads((out / "index.json").read_text())["files"]
    written = {str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()} - {"index.json"}
    assert set(index) == written
    assert (out / "helm/00-karpenter/values.yaml").exists()
    assert (out / "aws/node-security-group.json").exists()
    assert "calico-apiserver" in result.output and "wrote" in result.output


def test_render_json_summary_lists_every_component() -> None:
    result = runner.invoke(app, ["render", "--output", "json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    by_name = {row["component"]: row for row in summary["components"]}
    assert by_name["metrics-server"]["runsOn"] == "fargate"
    assert by_name["metrics-server"]["ports"] == ["10251/tcp"]
    assert by_name["calico-apiserver"]["runsOn"] == "hostNetwork"
    assert summary["karpenterApi"] == "v1"


def test_karpenter_api_flag_renders_the_seed_api_with_a_warning(tmp_path: Path) -> None:
    result = runner.invoke(app, ["render", "--karpenter-api", "v1alpha5", "-o", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert any("provisioner-default" in p.name for p in (tmp_path / "manifests").iterdir())
    assert "supports Kubernetes up to 1.28" in result.output


def test_bad_spec_exits_2_with_located_errors_and_no_traceback(tmp_path: Path) -> None:
    spec = tmp_path / "platform.yaml"
    spec.write_text(reference_text().replace("values: [t3, m6a, c5]", "values: [t3, m6, c5]"))
    result = runner.invoke(app, ["render", "-f", str(spec), "-o", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert (
        "karpenter.provisioners[0].requirements[0].values[1]: 'm6' is not an EC2 instance family; did you mean m6i or m6a?"
        in result.output
    )
    assert f"{spec}:" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "out").exists()


def test_placement_refusal_points_at_the_spec_line(tmp_path: Path) -> None:
    spec = tmp_path / "platform.yaml"
    text = reference_text().replace("ingressNginx: {runsOn: hostNetwork}", "ingressNginx: {runsOn: overlay}")
    spec.write_text(text)
    line = next(i for i, row in enumerate(text.splitlines(), 1) if "ingressNginx:" in row)
    result = runner.invoke(app, ["render", "-f", str(spec)])
    assert result.exit_code == 2
    assert f"{spec}:{line} addons.ingressNginx.runsOn: ingress-nginx-controller cannot run on overlay" in result.output


def test_missing_file_is_a_usage_error() -> None:
    result = runner.invoke(app, ["render", "-f", "/nonexistent/platform.yaml"])
    assert result.exit_code == 2
    assert "cannot read the spec" in result.output


def test_schema_is_json_schema_with_camel_case_keys() -> None:
    result = runner.invoke(app, ["schema"])
    assert result.exit_code == 0
    schema = json.loads(result.output)
    assert schema["$schema"].endswith("2020-12/schema")
    assert {"cluster", "karpenter", "addons", "pilots", "registry"} <= set(schema["properties"])
    assert "kubernetesVersion" in schema["$defs"]["ClusterSpec"]["properties"]


WEBHOOK_APP = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: policy-checker, namespace: irtp}
spec:
  selector: {matchLabels: {app: policy-checker}}
  template:
    metadata: {labels: {app: policy-checker}}
    spec:
      containers: [{name: webhook, image: example/webhook:1, ports: [{containerPort: 9443}]}]
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
metadata: {name: policy-checker}
webhooks:
  - name: check.policy.example.com
    clientConfig: {service: {name: policy-checker, namespace: irtp}}
"""


def test_check_of_the_reference_platform_exits_0_with_a_summary() -> None:
    result = runner.invoke(app, ["check"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1].startswith("0 errors")


def test_check_of_a_webhook_on_the_overlay_exits_1_and_names_file_line_and_rule(tmp_path: Path) -> None:
    app_dir = tmp_path / "app"
    app_dir.mkdir()
    (app_dir / "webhook.yaml").write_text(WEBHOOK_APP)
    (app_dir / "README.md").write_text("not a manifest: skipped")
    result = runner.invoke(app, ["check", "--manifests", str(app_dir)])
    assert result.exit_code == 1, result.output
    assert f"ValidatingWebhookConfiguration/policy-checker  ({app_dir / 'webhook.yaml'})" in result.output
    assert "error   EP301  line 23  webhooks[0].clientConfig.service" in result.output
    assert "EP301" in result.output


def test_check_json_and_sarif_are_machine_readable(tmp_path: Path) -> None:
    manifest = tmp_path / "webhook.yaml"
    manifest.write_text(WEBHOOK_APP)
    as_json = runner.invoke(app, ["check", "-m", str(manifest), "--output", "json"])
    assert as_json.exit_code == 1
    data = json.loads(as_json.stdout)
    assert {"rule": "EP301", "object": "ValidatingWebhookConfiguration/policy-checker"}.items() <= next(
        f for f in data["findings"] if f["rule"] == "EP301"
    ).items()
    sarif = runner.invoke(app, ["check", "-m", str(manifest), "--output", "sarif"])
    assert json.loads(sarif.stdout)["version"] == "2.1.0"


def test_check_bad_input_exits_2_without_a_traceback(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("apiVersion: v1\nkind: [\n")
    also_broken = tmp_path / "also-broken.yaml"
    also_broken.write_text("just: a mapping\n")
    result = runner.invoke(app, ["check", "-m", str(broken), "-m", str(also_broken)])
    assert result.exit_code == 2
    assert f"{broken}:" in result.output and "not valid YAML" in result.output
    assert f"{also_broken}:1: not a Kubernetes object" in result.output  # every bad file, not only the first
    assert "Traceback" not in result.output
    missing = runner.invoke(app, ["check", "-m", str(tmp_path / "nope")])
    assert missing.exit_code == 2 and "no such file or directory" in missing.output
    spec = tmp_path / "platform.yaml"
    spec.write_text(reference_text().replace("public: false", "public: maybe"))
    bad_spec = runner.invoke(app, ["check", "-f", str(spec)])
    assert bad_spec.exit_code == 2 and "cluster.endpointAccess.public" in bad_spec.output
    assert "nothing was checked" in bad_spec.output


def test_check_list_rules_prints_every_rule() -> None:
    from eks_platform.checks import RULES

    result = runner.invoke(app, ["check", "--list-rules"])
    assert result.exit_code == 0
    assert [line.split()[0] for line in result.output.splitlines()] == [rule.id for rule in RULES]
