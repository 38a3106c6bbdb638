"""The eksp_pilot Ansible module, run in-process against a fake `eksp` executable.

No __init__.py here on purpose: with one, pytest would import this folder as the package `ansible`
and shadow ansible-core itself.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from ansible.module_utils import basic
from ansible.module_utils.common import warnings

MODULES_DIR = Path(__file__).resolve().parents[2] / "ansible" / "plugins" / "modules"
MODULE_PATH = MODULES_DIR / "eksp_pilot.py"

FAKE_EKSP = """#!{python}
import json, sys
from pathlib import Path

here = Path(__file__).parent
with open(here / "calls.jsonl", "a") as calls:
    calls.write(json.dumps(sys.argv[1:]) + "\\n")
answer = json.loads((here / "answers.json").read_text())[sys.argv[2]]
sys.stdout.write(answer["stdout"])
sys.stderr.write(answer["stderr"])
sys.exit(answer["rc"])
"""


def load_module() -> Any:
    spec = importlib.util.spec_from_file_location("eksp_pilot", MODULE_PATH)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


eksp_pilot = load_module()


class FakeEksp:
    """An `eksp` executable that records each argv and prints a canned answer per subcommand."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir()
        self.path = folder / "eksp"
        self.path.write_text(FAKE_EKSP.format(python=sys.executable))
        self.path.chmod(0o755)
        self._answers: dict[str, dict[str, Any]] = {}
        self.answer("create", {})
        self.answer("delete", {})

    def answer(self, subcommand: str, stdout: dict[str, Any] | str, *, rc: int = 0, stderr: str = "") -> None:
        text = stdout if isinstance(stdout, str) else json.dumps(stdout)
        self._answers[subcommand] = {"stdout": text, "rc": rc, "stderr": stderr}
        (self.path.parent / "answers.json").write_text(json.dumps(self._answers))

    def calls(self) -> list[list[str]]:
        log = self.path.parent / "calls.jsonl"
        return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


@pytest.fixture
def eksp(tmp_path: Path) -> FakeEksp:
    return FakeEksp(tmp_path / "bin")


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Any:
    """Run the module's main() with these args, the way Ansible's own unit tests do; return its JSON result."""

    def run_module(args: dict[str, Any]) -> dict[str, Any]:
        # ansible-core reads args from basic._ANSIBLE_ARGS (JSON bytes) decoded with _ANSIBLE_PROFILE (2.19+).
        monkeypatch.setattr(basic, "_ANSIBLE_ARGS", json.dumps({"ANSIBLE_MODULE_ARGS": args}).encode())
        monkeypatch.setattr(basic, "_ANSIBLE_PROFILE", "legacy", raising=False)
        # module.warn() collects into a process-wide store that a real module run never outlives: start empty.
        monkeypatch.setattr(warnings, "_global_warnings", type(warnings._global_warnings)())
        with pytest.raises(SystemExit) as exited:
            eksp_pilot.main()
        result: dict[str, Any] = json.loads(capsys.readouterr().out)
        assert exited.value.code == (1 if result.get("failed") else 0)
        return result

    return run_module


def warning_texts(result: dict[str, Any]) -> list[str]:
    """The result's warnings as text: plain strings before ansible-core 2.19, {"event": {"msg": ...}} since."""
    return [w if isinstance(w, str) else w["event"]["msg"] for w in result.get("warnings", [])]


CREATED = {
    "pilot": "checkout",
    "changed": True,
    "dryRun": False,
    "instanceType": "m6i.xlarge",
    "namespace": "pilot-checkout",
    "objects": [
        {"kind": "NodePool", "namespace": None, "name": "pilot-checkout", "action": "create"},
        {"kind": "Deployment", "namespace": "pilot-checkout", "name": "checkout", "action": "update"},
        {"kind": "Service", "namespace": "pilot-checkout", "name": "checkout", "action": "unchanged"},
    ],
    "node": "ip-10-0-12-34.eu-west-1.compute.internal",
    "pods": [{"name": "checkout-7d9c-abcde", "node": "ip-10-0-12-34.eu-west-1.compute.internal", "ready": True}],
}
DELETED = {
    "pilot": "checkout",
    "changed": True,
    "dryRun": False,
    "removed": ["NodePool pilot-checkout", "Namespace pilot-checkout"],
}


def test_create_from_manifests_runs_the_contract_command_and_returns_the_answer(
    eksp: FakeEksp, run: Any, tmp_path: Path
) -> None:
    eksp.answer("create", CREATED)
    result = run(
        {"name": "checkout", "instance_type": "m6i.xlarge", "manifests": str(tmp_path), "eksp": str(eksp.path)}
    )

    assert eksp.calls() == [
        [
            "pilot",
            "create",
            "checkout",
            "--instance-type",
            "m6i.xlarge",
            "--manifests",
            str(tmp_path),
            "--output",
            "json",
        ]
    ]
    assert result["changed"] is True
    assert (result["pilot"], result["namespace"], result["node"]) == ("checkout", "pilot-checkout", CREATED["node"])
    assert result["instance_type"] == "m6i.xlarge"
    assert result["objects"] == CREATED["objects"]
    assert result["pods"] == CREATED["pods"]
    assert result["dry_run"] is False
    assert "diff" not in result


def test_create_from_chart_passes_values_platform_and_context(eksp: FakeEksp, run: Any) -> None:
    eksp.answer("create", CREATED)
    run(
        {
            "name": "search",
            "instance_type": "r6i.2xlarge",
            "chart": "oci://registry.example.com/charts/search",
            "values": "/pilots/search/values.yaml",
            "platform": "/platform/platform.yaml",
            "context": "platform-dev",
            "eksp": str(eksp.path),
        }
    )

    assert eksp.calls() == [
        [
            "pilot",
            "create",
            "search",
            "--instance-type",
            "r6i.2xlarge",
            "--chart",
            "oci://registry.example.com/charts/search",
            "--values",
            "/pilots/search/values.yaml",
            "-f",
            "/platform/platform.yaml",
            "--context",
            "platform-dev",
            "--output",
            "json",
        ]
    ]


def test_create_from_a_repository_chart_passes_repo_version_values_and_namespace(eksp: FakeEksp, run: Any) -> None:
    eksp.answer("create", CREATED)
    run(
        {
            "name": "search",
            "instance_type": "r6i.2xlarge",
            "chart": "search",
            "repo": "https://charts.example.com/stable",
            "version": "4.2.1",
            "values": "/pilots/search/values.yaml",
            "namespace": "search-trial",
            "eksp": str(eksp.path),
        }
    )

    assert eksp.calls() == [
        [
            "pilot",
            "create",
            "search",
            "--instance-type",
            "r6i.2xlarge",
            "--chart",
            "search",
            "--repo",
            "https://charts.example.com/stable",
            "--version",
            "4.2.1",
            "--values",
            "/pilots/search/values.yaml",
            "--namespace",
            "search-trial",
            "--output",
            "json",
        ]
    ]


def test_chart_without_values_is_accepted_and_passes_no_values(eksp: FakeEksp, run: Any) -> None:
    eksp.answer("create", CREATED)
    result = run(
        {"name": "cache", "instance_type": "r6i.large", "chart": "oci://registry.example.com/c", "eksp": str(eksp.path)}
    )

    assert "failed" not in result
    assert eksp.calls() == [
        ["pilot", "create", "cache", "--instance-type", "r6i.large", "--chart", "oci://registry.example.com/c",
         "--output", "json"]
    ]  # fmt: skip


CONNECTION = {"kubeconfig": "/kube/dev.yaml", "profile": "platform-dev", "region": "eu-west-1", "timeout": 1200}
CONNECTION_ARGV = ["--kubeconfig", "/kube/dev.yaml", "--profile", "platform-dev", "--region", "eu-west-1"]


@pytest.mark.parametrize(
    ("args", "subcommand", "answer", "head"),
    [
        (
            {"instance_type": "m6i.xlarge", "manifests": "/m", "namespace": "trial"},
            "create",
            CREATED,
            ["checkout", "--instance-type", "m6i.xlarge", "--manifests", "/m", "--namespace", "trial"],
        ),
        ({"state": "absent", "namespace": "ignored"}, "delete", DELETED, ["checkout"]),
    ],
)
def test_connection_options_and_timeout_are_passed_after_platform_and_context(
    eksp: FakeEksp, run: Any, args: dict[str, Any], subcommand: str, answer: dict[str, Any], head: list[str]
) -> None:
    eksp.answer(subcommand, answer)
    run({"name": "checkout", "platform": "/p.yaml", "context": "dev", "eksp": str(eksp.path), **CONNECTION, **args})

    assert eksp.calls() == [
        ["pilot", subcommand, *head, "-f", "/p.yaml", "--context", "dev", *CONNECTION_ARGV, "--timeout", "1200",
         "--output", "json"]
    ]  # fmt: skip


def test_kubeconfig_is_expanded_like_every_path(eksp: FakeEksp, run: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", "/home/ops")
    eksp.answer("delete", DELETED)
    run({"name": "checkout", "state": "absent", "kubeconfig": "~/.kube/dev.yaml", "eksp": str(eksp.path)})

    assert eksp.calls() == [
        ["pilot", "delete", "checkout", "--kubeconfig", "/home/ops/.kube/dev.yaml", "--output", "json"]
    ]


def test_absent_deletes_and_returns_what_was_removed(eksp: FakeEksp, run: Any) -> None:
    eksp.answer("delete", DELETED)
    result = run({"name": "checkout", "state": "absent", "platform": "/p.yaml", "eksp": str(eksp.path)})

    assert eksp.calls() == [["pilot", "delete", "checkout", "-f", "/p.yaml", "--output", "json"]]
    assert result["changed"] is True
    assert result["removed"] == DELETED["removed"]
    assert "objects" not in result


@pytest.mark.parametrize(
    ("args", "subcommand", "answer"),
    [
        ({"instance_type": "m6i.xlarge", "manifests": "/pilots/checkout"}, "create", CREATED),
        ({"state": "absent"}, "delete", DELETED),
    ],
)
def test_check_mode_only_dry_runs_and_reports_the_dry_run_changed(
    eksp: FakeEksp, run: Any, args: dict[str, Any], subcommand: str, answer: dict[str, Any]
) -> None:
    eksp.answer(subcommand, {**answer, "dryRun": True})
    result = run({"name": "checkout", "eksp": str(eksp.path), "_ansible_check_mode": True, **args})

    calls = eksp.calls()
    assert [call[:2] for call in calls] == [["pilot", subcommand]]
    assert all("--dry-run" in call for call in calls)
    assert calls[0][-3:] == ["--dry-run", "--output", "json"]
    assert result["changed"] is True
    assert result["dry_run"] is True


OFFLINE = "no credentials for the cluster: run `aws sso login`"


def test_check_mode_warns_when_the_dry_run_was_not_compared_with_the_cluster(eksp: FakeEksp, run: Any) -> None:
    eksp.answer("create", {**CREATED, "dryRun": True, "node": None, "pods": [], "notCompared": OFFLINE})
    result = run(
        {"name": "checkout", "instance_type": "m6i.xlarge", "manifests": "/m", "eksp": str(eksp.path),
         "_ansible_check_mode": True}
    )  # fmt: skip

    assert "failed" not in result
    assert result["not_compared"] == OFFLINE
    assert warning_texts(result) == [
        f"pilot checkout: the dry run was not compared with the live cluster ({OFFLINE}); every object is reported"
        " as created, so 'changed' and the diff may overstate what would change"
    ]


@pytest.mark.parametrize("not_compared", [None, "", "missing"])
def test_check_mode_does_not_warn_when_the_dry_run_was_compared(
    eksp: FakeEksp, run: Any, not_compared: str | None
) -> None:
    answer = {**CREATED, "dryRun": True}
    if not_compared != "missing":
        answer["notCompared"] = not_compared
    eksp.answer("create", answer)
    result = run(
        {"name": "checkout", "instance_type": "m6i.xlarge", "manifests": "/m", "eksp": str(eksp.path),
         "_ansible_check_mode": True}
    )  # fmt: skip

    assert "not_compared" not in result
    assert "warnings" not in result


def test_delete_of_a_missing_pilot_is_not_changed_and_not_failed(eksp: FakeEksp, run: Any) -> None:
    missing = {"pilot": "ghost", "changed": False, "dryRun": False, "namespace": None, "objects": [], "removed": []}
    eksp.answer("delete", missing)
    result = run({"name": "ghost", "state": "absent", "eksp": str(eksp.path), "_ansible_diff": True})

    assert eksp.calls() == [["pilot", "delete", "ghost", "--output", "json"]]
    assert result["changed"] is False
    assert "failed" not in result
    assert result["removed"] == []
    assert (result["diff"]["before"], result["diff"]["after"]) == ("", "")


def test_unchanged_pilot_reports_not_changed(eksp: FakeEksp, run: Any) -> None:
    unchanged = [{**obj, "action": "unchanged"} for obj in CREATED["objects"]]
    eksp.answer("create", {**CREATED, "changed": False, "objects": unchanged})
    result = run({"name": "checkout", "instance_type": "m6i.xlarge", "manifests": "/m", "eksp": str(eksp.path)})

    assert result["changed"] is False
    assert "failed" not in result


def test_diff_mode_lists_objects_before_and_after(eksp: FakeEksp, run: Any) -> None:
    eksp.answer("create", CREATED)
    result = run(
        {
            "name": "checkout",
            "instance_type": "m6i.xlarge",
            "manifests": "/m",
            "eksp": str(eksp.path),
            "_ansible_diff": True,
        }
    )

    assert result["diff"] == {
        "before_header": "pilot checkout",
        "after_header": "pilot checkout",
        "before": "Deployment pilot-checkout/checkout\nService pilot-checkout/checkout\n",
        "after": "NodePool pilot-checkout\nDeployment pilot-checkout/checkout (updated)\nService pilot-checkout/checkout\n",
    }


def test_diff_mode_for_absent_shows_everything_removed(eksp: FakeEksp, run: Any) -> None:
    eksp.answer("delete", DELETED)
    result = run({"name": "checkout", "state": "absent", "eksp": str(eksp.path), "_ansible_diff": True})

    assert (result["diff"]["before"], result["diff"]["after"]) == (
        "NodePool pilot-checkout\nNamespace pilot-checkout\n",
        "",
    )


def test_cli_error_fails_with_its_message_and_exit_code(eksp: FakeEksp, run: Any) -> None:
    message = "pilot checkout needs 6 vCPU but m6i.large gives 1.93 allocatable: use m6i.2xlarge"
    eksp.answer("create", {"error": message}, rc=2)
    result = run({"name": "checkout", "instance_type": "m6i.large", "manifests": "/m", "eksp": str(eksp.path)})

    assert result["failed"] is True
    assert result["msg"] == message
    assert result["rc"] == 2


def test_cli_failure_without_json_fails_with_its_stderr(eksp: FakeEksp, run: Any) -> None:
    eksp.answer("delete", "", rc=1, stderr="Traceback: cluster unreachable\n")
    result = run({"name": "checkout", "state": "absent", "eksp": str(eksp.path)})

    assert result["failed"] is True
    assert result["msg"] == "eksp pilot delete failed with exit code 1: Traceback: cluster unreachable"
    assert result["rc"] == 1


def test_garbage_output_fails_with_a_clear_message_including_stderr(eksp: FakeEksp, run: Any) -> None:
    eksp.answer("create", "Applied 3 objects\n", stderr="warning: old eksp\n")
    result = run({"name": "checkout", "instance_type": "m6i.xlarge", "manifests": "/m", "eksp": str(eksp.path)})

    assert result["failed"] is True
    assert result["msg"].startswith(
        "eksp pilot create exited 0 but did not print a JSON object with a boolean 'changed'"
    )
    assert "'Applied 3 objects'" in result["msg"]
    assert "'warning: old eksp'" in result["msg"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"manifests": "/m"}, "state is present but all of the following are missing: instance_type"),
        ({"instance_type": "m6i.xlarge"}, "state is present but any of the following are missing: manifests, chart"),
        (
            {"instance_type": "m6i.xlarge", "manifests": "/m", "chart": "oci://c", "values": "/v.yaml"},
            "parameters are mutually exclusive: manifests|chart, manifests|values",
        ),
        (
            {"instance_type": "m6i.xlarge", "manifests": "/m", "values": "/v.yaml"},
            "parameters are mutually exclusive: manifests|values",
        ),
        ({"state": "absent", "values": "/v.yaml"}, "missing parameter(s) required by 'values': chart"),
        ({"state": "absent", "repo": "https://charts.example.com"}, "missing parameter(s) required by 'repo': chart"),
        ({"state": "absent", "version": "1.0.0"}, "missing parameter(s) required by 'version': chart"),
        ({"state": "absent", "timeout": 0}, "timeout must be a positive number of seconds, got 0"),
        ({"state": "gone"}, "value of state must be one of: present, absent, got: gone"),
    ],
)
def test_bad_arguments_fail_before_running_eksp(eksp: FakeEksp, run: Any, args: dict[str, Any], message: str) -> None:
    result = run({"name": "checkout", "eksp": str(eksp.path), **args})

    assert result["failed"] is True
    assert result["msg"] == message
    assert eksp.calls() == []


def test_eksp_is_found_on_path(eksp: FakeEksp, run: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", f"{eksp.path.parent}{os.pathsep}{os.environ['PATH']}")
    eksp.answer("delete", DELETED)
    result = run({"name": "checkout", "state": "absent"})

    assert result["cmd"][0] == str(eksp.path)
    assert eksp.calls() == [["pilot", "delete", "checkout", "--output", "json"]]


def test_missing_eksp_on_path_fails(run: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    result = run({"name": "checkout", "state": "absent"})

    assert result["failed"] is True
    assert result["msg"].startswith('Failed to find required executable "eksp"')


# --- documentation ---------------------------------------------------------------------------------

DOC = yaml.safe_load(eksp_pilot.DOCUMENTATION)
RETURN = yaml.safe_load(eksp_pilot.RETURN)


def texts(description: Any) -> list[str]:
    return description if isinstance(description, list) else [description]


def test_doc_blocks_are_yaml_with_plain_text_descriptions() -> None:
    examples = yaml.safe_load(eksp_pilot.EXAMPLES)
    assert DOC["module"] == "eksp_pilot"
    assert [task["name"] for task in examples if "eksp_pilot" in task] == [
        "Run the checkout pilot from its manifests on an m6i.xlarge node",
        "Run the search pilot from a chart in a Helm repository, in a given kube context and AWS profile",
        "Run the cache pilot from an OCI chart with its default values, in its own namespace",
        "Remove the checkout pilot, its node pool and its namespace",
    ]
    documented = [
        DOC["description"],
        *(o["description"] for o in DOC["options"].values()),
        *(r["description"] for r in RETURN.values()),
    ]
    for description in documented:
        # A stray "key: value" in an unquoted YAML line turns a description into a dict.
        assert all(isinstance(text, str) for text in texts(description)), description


def test_every_option_is_documented_as_the_argument_spec_declares_it() -> None:
    spec = eksp_pilot.ARGUMENT_SPEC
    assert set(DOC["options"]) == set(spec)
    for name, option in spec.items():
        doc = DOC["options"][name]
        assert (doc["type"], doc.get("required", False), doc.get("default"), doc.get("choices")) == (
            option["type"],
            option.get("required", False),
            option.get("default"),
            option.get("choices"),
        ), name


def test_every_option_is_used_in_the_examples() -> None:
    used = {key for task in yaml.safe_load(eksp_pilot.EXAMPLES) for key in task.get("eksp_pilot", {})}
    assert used == set(eksp_pilot.ARGUMENT_SPEC)


def test_every_returned_key_is_documented(eksp: FakeEksp, run: Any) -> None:
    eksp.answer("create", CREATED)
    eksp.answer("delete", DELETED)
    present = run(
        {
            "name": "checkout",
            "instance_type": "m6i.xlarge",
            "manifests": "/m",
            "eksp": str(eksp.path),
            "_ansible_diff": True,
        }
    )
    absent = run({"name": "checkout", "state": "absent", "eksp": str(eksp.path)})
    eksp.answer("create", {**CREATED, "dryRun": True, "notCompared": OFFLINE})
    offline = run(
        {"name": "checkout", "instance_type": "m6i.xlarge", "manifests": "/m", "eksp": str(eksp.path),
         "_ansible_check_mode": True}
    )  # fmt: skip

    standard = {"changed", "invocation", "warnings"}
    assert set(present) | set(absent) | set(offline) == set(RETURN) | standard
    assert set(RETURN["objects"]["contains"]) == set(CREATED["objects"][0])
    assert set(RETURN["pods"]["contains"]) == set(CREATED["pods"][0])
    assert set(RETURN["diff"]["contains"]) == set(present["diff"])


def test_ansible_doc_accepts_the_module(tmp_path: Path) -> None:
    ansible_doc = shutil.which("ansible-doc", path=str(Path(sys.executable).parent)) or shutil.which("ansible-doc")
    if ansible_doc is None:
        pytest.skip("ansible-doc is not installed")
    env = {**os.environ, "ANSIBLE_HOME": str(tmp_path), "ANSIBLE_LOCAL_TEMP": str(tmp_path / "tmp")}
    done = subprocess.run(
        [ansible_doc, "--json", "-M", str(MODULES_DIR), "eksp_pilot"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)["eksp_pilot"]
    assert set(doc["doc"]["options"]) == set(eksp_pilot.ARGUMENT_SPEC)
    assert set(doc["return"]) == set(RETURN)
    # Text output renders every description (this is where a malformed one fails).
    text = subprocess.run(
        [ansible_doc, "-M", str(MODULES_DIR), "eksp_pilot"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert text.returncode == 0, text.stderr
    assert "[ERROR]" not in text.stderr


def test_ansible_runs_the_module_from_ansible_library_in_check_mode(eksp: FakeEksp, tmp_path: Path) -> None:
    ansible = shutil.which("ansible", path=str(Path(sys.executable).parent)) or shutil.which("ansible")
    if ansible is None:
        pytest.skip("ansible is not installed")
    eksp.answer("create", {**CREATED, "dryRun": True, "node": None, "pods": [], "notCompared": OFFLINE})
    env = {**os.environ, "ANSIBLE_HOME": str(tmp_path), "ANSIBLE_LIBRARY": str(MODULES_DIR), "ANSIBLE_NOCOLOR": "1"}
    args = {"name": "checkout", "instance_type": "m6i.xlarge", "manifests": "/m", "eksp": str(eksp.path)}
    done = subprocess.run(
        [ansible, "localhost", "-i", "localhost,", "-c", "local", "-e", f"ansible_python_interpreter={sys.executable}",
         "-m", "eksp_pilot", "-a", json.dumps(args), "--check", "--diff"],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )  # fmt: skip

    assert done.returncode == 0, done.stdout + done.stderr
    assert "+NodePool pilot-checkout\n" in done.stdout  # the diff, as Ansible prints it
    assert "not compared with the live cluster" in done.stdout + done.stderr  # the warning, as Ansible prints it
    result = json.loads(done.stdout.split("localhost | CHANGED => ", 1)[1])
    assert (result["changed"], result["dry_run"], result["namespace"]) == (True, True, "pilot-checkout")
    assert result["not_compared"] == OFFLINE
    assert eksp.calls() == [
        [
            "pilot",
            "create",
            "checkout",
            "--instance-type",
            "m6i.xlarge",
            "--manifests",
            "/m",
            "--dry-run",
            "--output",
            "json",
        ]
    ]
