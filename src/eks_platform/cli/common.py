"""What every `eksp` command shares: the app, the consoles, loading the spec, failing with an exit code,
the common options and the confirmation prompt."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from eks_platform import __version__
from eks_platform.checks.objects import KubeObject
from eks_platform.errors import EksPlatformError, SpecError, UsageError
from eks_platform.pilots import manifests_path, parse_workloads, plan_pilot
from eks_platform.spec.instance_catalog import InstanceCatalog, load_catalog
from eks_platform.spec.loading import LoadedSpec, load_text, reference_text

app = typer.Typer(
    name="eksp",
    help="eks-platform: one spec file -> a fully private EKS platform (Fargate core services, Calico overlay, "
    "Karpenter on Bottlerocket, add-ons). Without -f, commands use the embedded reference platform.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
err = Console(stderr=True, highlight=False)
out = Console(highlight=False, width=None if sys.stdout.isatty() else 160)


class Output(StrEnum):
    text = "text"
    json = "json"


class CheckOutput(StrEnum):
    text = "text"
    json = "json"
    sarif = "sarif"


class KarpenterApi(StrEnum):
    v1alpha5 = "v1alpha5"
    v1 = "v1"


SpecFile = Annotated[
    Path | None,
    typer.Option(
        "-f", "--file", help="Platform spec (YAML). Default: the embedded reference platform.", show_default=False
    ),
]


def load_spec(file: Path | None, karpenter_api: KarpenterApi | None = None) -> LoadedSpec:
    if file is None:
        text, name = reference_text(), "reference.yaml"
    else:
        try:
            text = file.read_text(encoding="utf-8")
        except OSError as error:
            raise UsageError(
                f"{file}: cannot read the spec ({error.strerror}); give an existing file with -f"
            ) from None
        except UnicodeDecodeError as error:
            raise UsageError(f"{file}: the spec is not UTF-8 text ({error.reason} at byte {error.start})") from None
        name = str(file)
    api = karpenter_api.value if karpenter_api is not None else None
    return load_text(text, file=name, catalog=load_catalog(), karpenter_api=api)


def fail(error: EksPlatformError, *, outcome: str = "nothing was written", output: Output | None = None) -> None:
    """Print the error (with --output json: {"error": ...} on stdout, for scripts) and exit with its code."""
    if output is Output.json:
        sys.stdout.write(json.dumps({"error": str(error), "exitCode": error.exit_code}) + "\n")
        raise typer.Exit(error.exit_code)
    if isinstance(error, SpecError):
        for issue in error.issues:
            err.print(f"[red]error[/red] {issue}", markup=True, soft_wrap=True)
        err.print(f"{len(error.issues)} error(s); {outcome}.")
    else:
        for line in str(error).splitlines():
            err.print(f"[red]error[/red] {line}", soft_wrap=True)
    raise typer.Exit(error.exit_code)


def locate(error: SpecError, loaded: LoadedSpec) -> SpecError:
    return SpecError([loaded.source.locate(issue) for issue in error.issues])


# --- the AWS side: up, diff, down -----------------------------------------------------------------

Profile = Annotated[
    str | None, typer.Option("--profile", help="AWS profile (default: AWS_PROFILE, then the standard chain).")
]
Region = Annotated[
    str | None, typer.Option("--region", help="AWS region (default: the spec's cluster.region, where the cluster is).")
]
Local = Annotated[
    bool,
    typer.Option("--local", help="Against a local AWS emulator (moto's server) that eksp starts itself."),
]
State = Annotated[
    Path | None,
    typer.Option("--state", help="With --local: keep the emulator's state in this folder between commands."),
]
ResultOutput = Annotated[Output, typer.Option("--output", help="Result format.")]
Context = Annotated[
    str | None,
    typer.Option(
        "--context",
        help="Reach the cluster through this kubeconfig context (KUBECONFIG, else ~/.kube/config) instead of "
        "straight from AWS (endpoint, CA and a token signed with your AWS credentials).",
    ),
]
Kubeconfig = Annotated[
    str | None, typer.Option("--kubeconfig", help="Kubeconfig file for --context (default: KUBECONFIG).")
]
Yes = Annotated[bool, typer.Option("--yes", "-y", help="Apply without asking (needed when stdin is not a terminal).")]


def confirm_with(yes: bool, question: str) -> Callable[[Sequence[str]], bool]:
    def confirm(plan: Sequence[str]) -> bool:
        if yes:
            return True
        if not sys.stdin.isatty():
            raise UsageError(f"{question} needs a confirmation: pass --yes to go ahead without a prompt")
        for line in plan:
            out.print(line, highlight=False, markup=False)
        return typer.confirm(question, default=False)

    return confirm


def _version(value: bool) -> None:
    if value:
        out.print(f"eksp {__version__}")
        raise typer.Exit(0)


@app.callback()
def main_options(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """eks-platform."""


MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")


def read_manifest_tree(path: Path, *, what: str) -> list[KubeObject]:
    """Every manifest in a file or under a folder, parsed with file and line (pilots' manifests)."""
    if not path.exists():
        raise UsageError(f"{what} {path}: no such file or folder")
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.suffix in MANIFEST_SUFFIXES)
    if not files:
        raise UsageError(f"{what} {path}: no {', '.join(MANIFEST_SUFFIXES)} file in it")
    texts = {}
    for file in files:
        try:
            texts[str(file)] = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise UsageError(f"{what} {file}: cannot be read as UTF-8 text ({error})") from None
    return parse_workloads(texts)


def pilot_workloads(loaded: LoadedSpec, catalog: InstanceCatalog) -> list[KubeObject]:
    """The workloads of the spec's pilots that name `manifests`, as `eksp up` will apply them: patched onto
    their pilot's node (files and lines kept), so the checks see what will run."""
    found: list[KubeObject] = []
    for index, pilot in enumerate(loaded.platform.pilots):
        path = manifests_path(pilot, spec_file=loaded.source.file)
        if path is not None:
            workloads = read_manifest_tree(Path(path), what=f"pilots[{index}].manifests")
            plan = plan_pilot(loaded.platform, pilot, workloads=workloads, catalog=catalog)
            # not fitting its node is a finding of the checks (EP501, with file and line); the rest stops here
            blocking = plan.refusals[:-1] if not plan.fit.fits else plan.refusals
            if blocking:
                reasons = "\n".join(f"  - {reason}" for reason in blocking)
                raise UsageError(f"{loaded.source.file} pilots[{index}] ({pilot.name}) cannot be applied:\n{reasons}")
            found += plan.workloads
    return found
