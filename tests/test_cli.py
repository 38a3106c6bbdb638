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
    assert "karpenter.provisioners[0].requirements[0].values[1]: 'm6' is not an EC2 instance family; did you mean m6i or m6a?" in result.output
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
