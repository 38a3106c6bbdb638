"""The Helm adapter: the Helm port (kube_ports.Helm) over the user's own `helm` 3 binary.

Which binary: `binary=` when given, else $EKSP_HELM, else `helm` on PATH. It is run once at construction
(`helm version --short`) and must be helm 3.8 or later (OCI charts are generally available from 3.8).
Which cluster: `kubeconfig=` and `context=` become --kubeconfig and --kube-context; without them helm
follows its own convention ($KUBECONFIG, else ~/.kube/config, and its current context).

Where a chart comes from, by ChartRef.repo:
  https://... (or http://)    `CHART --repo URL --version V`
  oci://registry/path         `oci://registry/path/CHART --version V`
  "" or a filesystem path     a local chart directory: CHART itself when repo is "", else REPO/CHART;
                              no --version (helm ignores it for a directory). For tests and local mirrors.

Values always reach helm through a file (-f, JSON, which is YAML) in a private temporary directory,
never the command line: they can hold secrets, and argv is visible to every user of the machine.
Commands run through a `Runner` (argv as a list, never a shell), injectable so tests can check the exact
argv. Every failure is a HelmError naming the command and the release, with the last lines helm printed.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

import yaml

from eks_platform.apply.kube_ports import ChartRef, Obj, ReleaseState
from eks_platform.errors import HelmError

HELM_ENV = "EKSP_HELM"
INSTALL_DOCS = "https://helm.sh/docs/intro/install/"
MIN_VERSION = (3, 8)
QUERY_TIMEOUT_SECONDS = 120.0  # version, list, get values: one round trip to the API server
TEMPLATE_TIMEOUT_SECONDS = 600.0  # may download the chart first
# upgrade --atomic can spend the --timeout waiting, then as long again rolling back; uninstall --wait once
MARGIN_SECONDS = 60.0
TAIL_LINES = 12
NOT_FOUND = "release: not found"
UNREACHABLE = "Kubernetes cluster unreachable"
UNREACHABLE_FIX = (
    "check the kubeconfig and context, and that this machine reaches the cluster's private API endpoint "
    "(a VPN or a peered VPC)"
)


class Runner(Protocol):
    def __call__(self, argv: Sequence[str], *, timeout_seconds: float) -> tuple[int, str, str]:
        """Run argv (no shell); (returncode, stdout, stderr). May raise OSError (cannot execute) or
        subprocess.TimeoutExpired."""
        ...


def run_subprocess(argv: Sequence[str], *, timeout_seconds: float) -> tuple[int, str, str]:
    """The default Runner: the process's own environment, no stdin, output decoded as UTF-8."""
    done = subprocess.run(
        list(argv),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        encoding="utf-8",
        errors="replace",
        timeout=timeout_seconds,
        check=False,
    )
    return done.returncode, done.stdout, done.stderr


# Safe YAML (libyaml's parser when present: large CRD charts parse several times faster) without the
# timestamp type, so "2024-01-01" stays a string, as the API server reads it.
_Loader: type[yaml.SafeLoader] = type("_Loader", (getattr(yaml, "CSafeLoader", yaml.SafeLoader),), {})
_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


class HelmCli:
    """The Helm port over the helm binary. Holds no state between calls, so steps may share it across
    threads."""

    def __init__(
        self,
        *,
        binary: str | None = None,
        kubeconfig: str | Path | None = None,
        context: str | None = None,
        runner: Runner = run_subprocess,
        env: Mapping[str, str] | None = None,
    ) -> None:
        """`binary` is used as given; otherwise it is looked up in `env` (default: os.environ): $EKSP_HELM,
        else `helm` on $PATH. Raises HelmError when it is missing or not helm 3.8+."""
        self._runner = runner
        self.binary = binary or _find_binary(os.environ if env is None else env)
        self.kubeconfig = str(kubeconfig) if kubeconfig is not None else None
        self._kube_flags: list[str] = []
        if kubeconfig is not None:
            self._kube_flags += ["--kubeconfig", str(kubeconfig)]
        if context is not None:
            self._kube_flags += ["--kube-context", context]
        self.version = self._check_version()

    # -- the port ---------------------------------------------------------------------------------

    def release(self, name: str, namespace: str) -> ReleaseState | None:
        """From `helm list` (status, revision and the chart as "<chart>-<version>": `helm status` leaves
        the chart out) and `helm get values` (the user-supplied values). A release that was uninstalled
        with its history kept counts as not installed."""
        what = f"helm list (release {name} in namespace {namespace})"
        argv = ["list", "-n", namespace, "--filter", f"^{re.escape(name)}$", "--all", "-o", "json"]
        listed = self._json(what, [*argv, *self._kube_flags])
        rows = [row for row in listed or [] if isinstance(row, dict) and row.get("name") == name]
        if not rows or rows[0].get("status") == "uninstalled":
            return None
        row = rows[0]
        code, out, err = self._run(
            f"helm get values {name}",
            ["get", "values", name, "-n", namespace, "-o", "json", *self._kube_flags],
            timeout_seconds=QUERY_TIMEOUT_SECONDS,
        )
        if code != 0 and NOT_FOUND in err:
            return None  # uninstalled between the two calls
        if code != 0:
            raise _failure(f"helm get values {name} (namespace {namespace})", code, out, err)
        values = _parse_json(f"helm get values {name}", out) or {}
        if not isinstance(values, dict):
            raise HelmError(f"helm get values {name}: expected an object, got {out.strip()[:200]!r}")
        try:
            return ReleaseState(
                name=name,
                namespace=str(row.get("namespace") or namespace),
                chart=str(row["chart"]),
                status=str(row["status"]),
                revision=int(row["revision"]),
                values=values,
            )
        except (KeyError, TypeError, ValueError) as e:
            raise HelmError(f"{what}: unexpected output {row!r} ({e})") from e

    def upgrade_install(self, chart: ChartRef, values: Obj, *, timeout_seconds: int) -> ReleaseState:
        """`helm upgrade --install --atomic --wait --create-namespace`; on failure helm has rolled back
        (or removed a first install) and the HelmError carries its last lines."""
        source = _chart_args(chart)
        with _values_file(chart.name, values) as values_path:
            argv = [
                "upgrade",
                "--install",
                chart.name,
                *source,
                "-n",
                chart.namespace,
                "--create-namespace",
                "--atomic",
                "--wait",
                "--timeout",
                f"{timeout_seconds}s",
                "-f",
                values_path,
                *self._kube_flags,
            ]
            what = f"helm upgrade --install {chart.name} ({_describe(chart)}, namespace {chart.namespace})"
            code, out, err = self._run(what, argv, timeout_seconds=2 * timeout_seconds + MARGIN_SECONDS)
        if code != 0:
            raise _failure(what, code, out, err)
        state = self.release(chart.name, chart.namespace)
        if state is None:
            raise HelmError(f"{what} succeeded, but helm does not list the release afterwards")
        return state

    def template(self, chart: ChartRef, values: Obj) -> list[Obj]:
        """`helm template --include-crds`: the chart's objects (hooks included), in helm's order. Runs
        offline (no cluster), except for downloading a remote chart."""
        source = _chart_args(chart)
        with _values_file(chart.name, values) as values_path:
            argv = ["template", chart.name, *source, "-n", chart.namespace, "-f", values_path, "--include-crds"]
            what = f"helm template {chart.name} ({_describe(chart)})"
            code, out, err = self._run(what, argv, timeout_seconds=TEMPLATE_TIMEOUT_SECONDS)
        if code != 0:
            raise _failure(what, code, out, err)
        try:
            docs = list(yaml.load_all(out, Loader=_Loader))
        except yaml.YAMLError as e:
            raise HelmError(f"{what}: helm's output is not valid YAML: {e}") from e
        objects: list[Obj] = []
        for doc in docs:
            if doc is None:
                continue
            if not isinstance(doc, dict):
                raise HelmError(f"{what}: a rendered document is not a Kubernetes object: {str(doc)[:200]!r}")
            objects.append(doc)
        return objects

    def uninstall(self, name: str, namespace: str, *, timeout_seconds: int) -> bool:
        """`helm uninstall --wait`; False when the release was not installed."""
        what = f"helm uninstall {name} (namespace {namespace})"
        argv = ["uninstall", name, "-n", namespace, "--wait", "--timeout", f"{timeout_seconds}s", *self._kube_flags]
        code, out, err = self._run(what, argv, timeout_seconds=timeout_seconds + MARGIN_SECONDS)
        if code == 0:
            return True
        if NOT_FOUND in err:
            return False
        raise _failure(what, code, out, err)

    # -- running helm -----------------------------------------------------------------------------

    def _run(self, what: str, argv: Sequence[str], *, timeout_seconds: float) -> tuple[int, str, str]:
        try:
            return self._runner([self.binary, *argv], timeout_seconds=timeout_seconds)
        except subprocess.TimeoutExpired as e:
            raise HelmError(f"{what}: helm did not finish within {e.timeout:.0f} s; it was stopped") from e
        except OSError as e:
            raise HelmError(f"cannot run helm ({self.binary}): {e}; {_install_fix()}") from e

    def _json(self, what: str, argv: Sequence[str]) -> Any:
        code, out, err = self._run(what, argv, timeout_seconds=QUERY_TIMEOUT_SECONDS)
        if code != 0:
            raise _failure(what, code, out, err)
        return _parse_json(what, out)

    def _check_version(self) -> str:
        code, out, err = self._run("helm version", ["version", "--short"], timeout_seconds=QUERY_TIMEOUT_SECONDS)
        found = re.search(r"\bv(\d+)\.(\d+)\.(\d+)", out)
        if found is None:
            raise HelmError(
                f"{self.binary} does not look like helm: `helm version --short` exited {code} and printed "
                f"{(out + err).strip()[:200]!r}; {_install_fix()}"
            )
        version = found.group(0)
        major, minor = int(found.group(1)), int(found.group(2))
        if major != 3 or minor < MIN_VERSION[1]:
            raise HelmError(
                f"{self.binary} is helm {version}; eks-platform needs helm 3 "
                f"(3.{MIN_VERSION[1]} or later): {_install_fix()}"
            )
        if code != 0:
            raise _failure(f"{self.binary} version --short", code, out, err)
        return version


def _find_binary(env: Mapping[str, str]) -> str:
    chosen = env.get(HELM_ENV)
    if chosen:
        found = shutil.which(chosen, path=env.get("PATH"))
        if found is None:
            raise HelmError(f"{HELM_ENV}={chosen} is not an executable file; point it at a helm 3 binary")
        return found
    found = shutil.which("helm", path=env.get("PATH"))
    if found is None:
        raise HelmError(f"helm 3 is not on PATH; {_install_fix()}")
    return found


def _install_fix() -> str:
    return f"install it ({INSTALL_DOCS}) or set {HELM_ENV} to its path"


def _chart_args(chart: ChartRef) -> list[str]:
    """The chart argument(s) of upgrade and template, by where the chart comes from (module docstring)."""
    repo = chart.repo
    remote = repo.startswith(("https://", "http://", "oci://"))
    if remote and not chart.version:
        raise HelmError(f"release {chart.name}: chart {chart.chart} from {repo} has no version; pin one")
    if repo.startswith(("https://", "http://")):
        return [chart.chart, "--repo", repo, "--version", chart.version]
    if repo.startswith("oci://"):
        return [f"{repo.rstrip('/')}/{chart.chart}", "--version", chart.version]
    if "://" in repo:
        raise HelmError(f"release {chart.name}: chart repository {repo!r} is not https://, oci:// or a local directory")
    return [str(Path(repo) / chart.chart) if repo else chart.chart]


def _describe(chart: ChartRef) -> str:
    if chart.repo.startswith(("https://", "http://", "oci://")):
        return f"chart {chart.chart} {chart.version} from {chart.repo}"
    return f"local chart {_chart_args(chart)[0]}"


@contextmanager
def _values_file(release: str, values: Obj) -> Iterator[str]:
    """The values as a JSON file in a private (0700) temporary directory, removed afterwards."""
    try:
        text = json.dumps(values, ensure_ascii=False, allow_nan=False, sort_keys=True, indent=1)
    except (TypeError, ValueError) as e:
        raise HelmError(f"release {release}: its values cannot be written as JSON: {e}") from e
    with tempfile.TemporaryDirectory(prefix="eksp-helm-") as folder:
        path = Path(folder) / "values.json"
        path.write_text(text, encoding="utf-8")
        yield str(path)


def _parse_json(what: str, text: str) -> Any:
    try:
        return json.loads(text) if text.strip() else None
    except json.JSONDecodeError as e:
        raise HelmError(f"{what}: helm printed something that is not JSON: {text.strip()[:200]!r}") from e


def _failure(what: str, code: int, stdout: str, stderr: str) -> HelmError:
    """A HelmError with the last lines helm printed (stderr, else stdout), and a fix when it is known."""
    lines = [
        line.rstrip()
        for line in (stderr.strip() or stdout.strip()).splitlines()
        if line.strip() and "Use --debug flag" not in line  # helm's own flag, not eksp's
    ]
    tail = "\n".join(f"  {line}" for line in lines[-TAIL_LINES:]) or f"  (no output; exit code {code})"
    message = f"{what} failed:\n{tail}"
    if UNREACHABLE in stderr:
        message += f"\n{UNREACHABLE_FIX}"
    return HelmError(message)
