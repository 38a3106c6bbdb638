"""`eksp pilot` as a user (or the Ansible module) runs it, without a cluster: the dry run prints the patched
objects and the fit, a pilot that does not fit is refused with exit 2 and the numbers, bad arguments are
exit 2, --output json answers one JSON document on stdout (errors too), and a cluster that cannot be
reached is a clean exit 1."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from eks_platform.cli import app
from eks_platform.spec import defaults as d

ROOT = Path(__file__).parent.parent.parent
SHOP = ROOT / "examples" / "pilots" / "shop"
DEMO_CHART = ROOT / "tests" / "apply" / "charts" / "demo"
runner = CliRunner()


@pytest.fixture(autouse=True)
def no_aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for variable in ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "KUBECONFIG"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def test_a_dry_run_without_a_cluster_prints_the_fit_and_the_patched_objects() -> None:
    result = runner.invoke(app, ["pilot", "create", "shop", "--instance-type", "m6a.4xlarge", "--manifests", str(SHOP), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "pilot shop: namespace pilot-shop, one m6a.4xlarge" in result.output
    assert "  the pilot requests   2.60 cpu" in result.output
    assert "  create    NodePool pilot-shop" in result.output and "  create    StatefulSet pilot-shop/postgres" in result.output
    assert "not compared with the live cluster: no usable AWS credentials" in result.output
    assert result.output.rstrip().endswith("pilot create: dry run, nothing changed")
    documents = list(yaml.safe_load_all(result.output.split("(your files are unchanged) ---\n", 1)[1].split("\n  create", 1)[0]))
    frontend = next(doc for doc in documents if doc and doc["kind"] == "Deployment" and doc["metadata"]["name"] == "frontend")
    assert frontend["metadata"]["namespace"] == "pilot-shop"
    assert frontend["spec"]["template"]["spec"]["nodeSelector"] == {d.PILOT_LABEL: "shop"}
    assert "pilot-shop" not in (SHOP / "frontend.yaml").read_text()  # the user's file is unchanged


def test_the_json_answer_of_a_dry_run_has_the_objects_the_fit_and_the_manifests() -> None:
    result = runner.invoke(
        app, ["pilot", "create", "shop", "--instance-type", "t3.2xlarge", "--manifests", str(SHOP), "--dry-run", "--output", "json"]
    )
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert answer["pilot"] == "shop" and answer["dryRun"] and answer["changed"] and answer["namespace"] == "pilot-shop"
    assert {"kind": "NodePool", "namespace": None, "name": "pilot-shop", "action": "create"} in answer["objects"]
    assert answer["fit"]["allocatable"] == {"cpu_m": 7910, "memory_mi": 28745, "pods": 110}
    assert answer["notCompared"].startswith("no usable AWS credentials")  # Ansible's check mode warns with it
    secret = next(m for m in answer["manifests"] if m["kind"] == "Secret")
    assert set(secret["stringData"].values()) == {"<redacted>"}  # keys shown, values never printed
    assert all(m["metadata"]["namespace"] == "pilot-shop" for m in answer["manifests"] if m["kind"] != "StorageClass")


def test_a_pilot_that_does_not_fit_is_refused_with_exit_2_and_the_numbers() -> None:
    result = runner.invoke(
        app, ["pilot", "create", "shop", "--instance-type", "t3.medium", "--manifests", str(SHOP), "--output", "json"]
    )
    assert result.exit_code == 2
    error = json.loads(result.stdout)["error"]
    assert error.startswith("pilot shop is not created; nothing was applied:")
    assert "needs 2.6 cpu / 3.6Gi / 6 pods; one t3.medium gives 1.72 cpu" in error and "t3.xlarge holds it" in error


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ([], "exactly one of --manifests or --chart"),
        (["--manifests", str(SHOP), "--chart", str(DEMO_CHART)], "exactly one of --manifests or --chart"),
        (["--manifests", "/nowhere"], "--manifests /nowhere: no such file or folder"),
        (["--manifests", str(SHOP), "--values", str(SHOP / "api.yaml")], "--values goes with --chart"),
    ],
    ids=["no-workloads", "both", "missing-folder", "values-without-chart"],
)
def test_bad_arguments_are_exit_2_with_the_fix(arguments: list[str], message: str) -> None:
    result = runner.invoke(app, ["pilot", "create", "shop", "--instance-type", "m6a.4xlarge", *arguments, "--output", "json"])
    assert result.exit_code == 2
    assert message in json.loads(result.stdout)["error"]


def test_an_unknown_instance_type_names_the_flag_and_suggests() -> None:
    result = runner.invoke(app, ["pilot", "create", "shop", "--instance-type", "m6.large", "--manifests", str(SHOP), "--output", "json"])
    assert result.exit_code == 2
    assert json.loads(result.stdout)["error"] == (
        "--instance-type: 'm6.large' is not an EC2 instance type; did you mean m6i.large or m6g.large?"
    )


def test_a_chart_is_templated_then_pinned_like_manifests(helm_binary: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("EKSP_HELM", helm_binary)
    values = tmp_path / "values.yaml"
    values.write_text("replicas: 2\n")
    result = runner.invoke(
        app,
        ["pilot", "create", "demo", "--instance-type", "m6a.4xlarge", "--chart", str(DEMO_CHART), "--values", str(values),
         "--dry-run", "--output", "json"],
    )
    assert result.exit_code == 0, result.output
    deployment = next(m for m in json.loads(result.stdout)["manifests"] if m["kind"] == "Deployment")
    assert deployment["metadata"]["name"] == "demo-demo" and deployment["spec"]["replicas"] == 2
    assert deployment["spec"]["template"]["spec"]["nodeSelector"] == {d.PILOT_LABEL: "demo"}


def test_list_and_delete_against_a_cluster_that_does_not_answer_fail_cleanly(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": f"http://127.0.0.1:{port}"}}],
                "users": [{"name": "u", "user": {"token": "t"}}],
                "contexts": [{"name": "irtp", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "irtp",
            }
        )
    )
    for command in (["pilot", "list"], ["pilot", "delete", "shop"]):
        result = runner.invoke(app, [*command, "--kubeconfig", str(kubeconfig), "--output", "json"])
        assert result.exit_code == 1, result.output
        assert f"127.0.0.1:{port}" in json.loads(result.stdout)["error"]


def _spec_with_shop(tmp_path: Path, instance_type: str) -> Path:
    from eks_platform.spec.loading import reference_text

    text = reference_text().replace(
        "pilots:\n", f"pilots:\n  - name: shop\n    instanceType: {instance_type}\n    manifests: {SHOP}\n", 1
    )
    spec = tmp_path / "platform.yaml"
    spec.write_text(text)
    return spec


def test_check_reads_the_manifests_of_the_spec_s_pilots_as_up_will_apply_them(tmp_path: Path) -> None:
    fits = runner.invoke(app, ["check", "-f", str(_spec_with_shop(tmp_path, "m6a.4xlarge")), "--output", "json"])
    assert fits.exit_code == 0, fits.output
    reference = runner.invoke(app, ["check", "--output", "json"])
    assert json.loads(fits.stdout)["summary"]["objectsChecked"] == json.loads(reference.stdout)["summary"]["objectsChecked"] + 9 + 9  # its 9 workloads; namespace, pool, 5 policies, quota, limit range
    too_small = runner.invoke(app, ["check", "-f", str(_spec_with_shop(tmp_path, "t3.medium"))])
    assert too_small.exit_code == 1
    assert "EP501" in too_small.output and "pilot-shop" in too_small.output


def test_a_pilot_the_spec_declares_is_created_by_up_not_by_pilot_create() -> None:
    result = runner.invoke(app, ["pilot", "create", "alpha", "--instance-type", "c5.2xlarge", "--manifests", str(SHOP), "--output", "json"])
    assert result.exit_code == 2
    assert json.loads(result.stdout)["error"].startswith("pilot alpha is declared in the spec's pilots: `eksp up` creates")


def test_the_rest_of_eksp_check_refuses_a_pilot_before_anything_is_applied(tmp_path: Path) -> None:
    (tmp_path / "agent.yaml").write_text(
        """apiVersion: apps/v1
kind: Deployment
metadata: {name: agent}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      containers:
        - name: agent
          image: registry.example/agent:1
          ports: [{containerPort: 10250, hostPort: 10250}]
          resources: {requests: {cpu: 100m, memory: 64Mi}}
"""
    )
    result = runner.invoke(app, ["pilot", "create", "agent", "--instance-type", "m6a.large", "--manifests", str(tmp_path), "--output", "json"])
    assert result.exit_code == 2
    error = json.loads(result.stdout)["error"]
    assert error.startswith("pilot agent is not created; nothing was applied; `eksp check` finds:\n  - EP305 ")
    assert "host port 10250/TCP is taken by Deployment pilot-agent/agent and by the kubelet" in error


def test_up_refuses_while_a_declared_pilot_s_manifests_have_check_errors(tmp_path: Path) -> None:
    result = runner.invoke(app, ["up", "-f", str(_spec_with_shop(tmp_path, "t3.medium")), "--dry-run", "--output", "json"])
    assert result.exit_code == 1
    spec = _spec_with_shop(tmp_path, "t3.medium")
    assert json.loads(result.stdout)["error"].startswith(f"`eksp check -f {spec}` reports 1 error(s): up does not start")


def test_a_declared_pilot_that_cannot_be_applied_stops_check_and_up_with_the_reason(tmp_path: Path) -> None:
    manifests = tmp_path / "pilot"
    manifests.mkdir()
    (manifests / "role.yaml").write_text(
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: reader}\nrules: []\n"
    )
    from eks_platform.spec.loading import reference_text

    spec = tmp_path / "platform.yaml"
    spec.write_text(
        reference_text().replace(
            "pilots:\n", f"pilots:\n  - name: shop\n    instanceType: m6a.4xlarge\n    manifests: {manifests}\n", 1
        )
    )
    for command in (["check", "-f", str(spec)], ["up", "-f", str(spec), "--dry-run"]):
        result = runner.invoke(app, [*command, "--output", "json"])
        assert result.exit_code == 2, result.output
        error = json.loads(result.stdout)["error"]
        assert error.startswith(f"{spec} pilots[0] (shop) cannot be applied:\n  - ClusterRole reader")
        assert "is cluster-wide: a pilot holds only namespaced objects" in error


def test_a_manifest_that_is_not_utf8_is_bad_input_not_a_traceback(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_bytes(b"kind: \xff\xfe\n")
    result = runner.invoke(
        app, ["pilot", "create", "x", "--instance-type", "m6a.large", "--manifests", str(tmp_path), "--output", "json"]
    )
    assert result.exit_code == 2
    assert "cannot be read as UTF-8 text" in json.loads(result.stdout)["error"]


def test_a_spec_that_is_not_utf8_is_bad_input_for_every_command(tmp_path: Path) -> None:
    spec = tmp_path / "platform.yaml"
    spec.write_bytes(b"cluster:\n  name: caf\xe9\n")
    for command in (["check"], ["render", "-o", str(tmp_path / "out")], ["diff"], ["pilot", "list"]):
        result = runner.invoke(app, [*command, "-f", str(spec), "--output", "json"])
        assert result.exit_code == 2, (command, result.output)
        assert json.loads(result.stdout)["error"].startswith(f"{spec}: the spec is not UTF-8 text")


def test_kubectl_s_copy_of_a_secret_in_its_annotation_is_redacted_too(tmp_path: Path) -> None:
    (tmp_path / "secret.yaml").write_text(
        """apiVersion: v1
kind: Secret
metadata:
  name: db
  annotations:
    kubectl.kubernetes.io/last-applied-configuration: '{"data":{"password":"c2VjcmV0MQ=="}}'
data: {password: c2VjcmV0MQ==}
"""
    )
    result = runner.invoke(
        app,
        ["pilot", "create", "x", "--instance-type", "m6a.large", "--manifests", str(tmp_path), "--dry-run", "--output", "json"],
    )
    assert result.exit_code == 0, result.output
    assert "c2VjcmV0MQ==" not in result.stdout


def test_a_declared_pilot_s_delete_is_refused_without_a_cluster() -> None:
    result = runner.invoke(app, ["pilot", "delete", "alpha", "--output", "json"])
    assert result.exit_code == 2
    assert json.loads(result.stdout)["error"].startswith("pilot alpha is declared in platform.yaml")
