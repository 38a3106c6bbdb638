"""The `eksp` command: flags and environment -> one use-case call -> print -> exit code.

Exit codes: 0 ok, 1 findings or a failed apply, 2 bad input.
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Callable, Iterator, Sequence
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from eks_platform import __version__
from eks_platform.apply.boto import clients
from eks_platform.apply.eks import EksReconciler
from eks_platform.apply.engine import Outcome
from eks_platform.apply.engine import down as engine_down
from eks_platform.apply.engine import up as engine_up
from eks_platform.apply.local import NOT_EMULATED, LocalAws
from eks_platform.apply.run import Aws, Run
from eks_platform.apply.stacks import StackDeployer
from eks_platform.apply.standins import stand_ins_on
from eks_platform.checks import RULES, check
from eks_platform.checks.finding import Severity
from eks_platform.checks.objects import KubeObject, parse_manifests
from eks_platform.checks.report import as_json, as_sarif, as_text
from eks_platform.errors import ApplyError, EksPlatformError, SpecError, UsageError
from eks_platform.render import render
from eks_platform.render.files import bundle_files, summary_rows
from eks_platform.spec.instance_catalog import load_catalog
from eks_platform.spec.loading import LoadedSpec, load_text, reference_text
from eks_platform.spec.model import Platform

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


def _load(file: Path | None, karpenter_api: KarpenterApi | None = None) -> LoadedSpec:
    if file is None:
        text, name = reference_text(), "reference.yaml"
    else:
        try:
            text = file.read_text(encoding="utf-8")
        except OSError as error:
            raise UsageError(
                f"{file}: cannot read the spec ({error.strerror}); give an existing file with -f"
            ) from None
        name = str(file)
    api = karpenter_api.value if karpenter_api is not None else None
    return load_text(text, file=name, catalog=load_catalog(), karpenter_api=api)


def _fail(error: EksPlatformError, *, outcome: str = "nothing was written") -> None:
    if isinstance(error, SpecError):
        for issue in error.issues:
            err.print(f"[red]error[/red] {issue}", markup=True, soft_wrap=True)
        err.print(f"{len(error.issues)} error(s); {outcome}.")
    else:
        for line in str(error).splitlines():
            err.print(f"[red]error[/red] {line}", soft_wrap=True)
    raise typer.Exit(error.exit_code)


def _locate(error: SpecError, loaded: LoadedSpec) -> SpecError:
    return SpecError([loaded.source.locate(issue) for issue in error.issues])


@app.command()
def init(
    path: Annotated[Path, typer.Argument(help="Where to write the reference platform spec.")] = Path("platform.yaml"),
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> None:
    """Write the reference platform, commented, as a starting point."""
    if path.exists() and not force:
        _fail(UsageError(f"{path} exists; pass --force to overwrite it"))
    path.write_text(reference_text(), encoding="utf-8")
    out.print(f"wrote {path}: edit it, then `eksp render -f {path} -o out/`")


@app.command("render")
def render_command(
    file: SpecFile = None,
    output_dir: Annotated[Path | None, typer.Option("-o", "--output-dir", help="Write every artifact here.")] = None,
    karpenter_api: Annotated[
        KarpenterApi | None,
        typer.Option("--karpenter-api", help="Render Karpenter objects for this API instead of the spec's."),
    ] = None,
    output: Annotated[Output, typer.Option("--output", help="Summary format.")] = Output.text,
) -> None:
    """Render the whole platform: Kubernetes manifests, Helm releases, AWS inputs. Prints a summary."""
    try:
        loaded = _load(file, karpenter_api)
        try:
            bundle = render(loaded.platform, catalog=load_catalog())
        except SpecError as error:
            raise _locate(error, loaded) from None
    except EksPlatformError as error:
        _fail(error)
        return
    files = bundle_files(bundle)
    if output_dir is not None:
        _write(output_dir, files)
    rows = summary_rows(bundle)
    warnings = [str(loaded.source.locate(w)) for w in bundle.warnings]
    if output is Output.json:
        out.print_json(
            json.dumps(
                {
                    "platform": loaded.platform.cluster.name,
                    "karpenterApi": loaded.platform.karpenter.api,
                    "components": rows,
                    "warnings": warnings,
                    "files": sorted(files) if output_dir is not None else [],
                    "outputDir": str(output_dir) if output_dir is not None else None,
                }
            )
        )
        return
    _print_summary(loaded.platform, rows)
    for warning in warnings:
        err.print(f"[yellow]warning[/yellow] {warning}", soft_wrap=True)
    counts = f"{len(bundle.manifests)} manifests, {len(bundle.releases)} Helm releases, {len(bundle.aws)} AWS inputs"
    if output_dir is not None:
        out.print(f"wrote {len(files)} files to {output_dir}/ ({counts})")
    else:
        out.print(f"{counts}; pass -o DIR to write them")


def _write(output_dir: Path, files: dict[str, str]) -> None:
    for relative, text in files.items():
        target = output_dir / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")


def _print_summary(platform: Platform, rows: list[dict[str, Any]]) -> None:
    table = Table(title=f"{platform.cluster.name}: where every component runs (Karpenter {platform.karpenter.api})")
    for column in ("component", "namespace", "runs on", "network", "host/served ports", "API server calls it"):
        table.add_column(column)
    for row in rows:
        table.add_row(
            row["component"],
            row["namespace"],
            row["where"],
            row["network"],
            ",".join(row["ports"]),
            "; ".join(_short_call(call) for call in row["calledByApiServer"]),
        )
    out.print(table)


_CALL_ABBREVIATIONS = {"ValidatingWebhookConfiguration": "webhook", "MutatingWebhookConfiguration": "webhook"}


def _short_call(call: str) -> str:
    kind, _, name = call.partition(" ")
    return f"{_CALL_ABBREVIATIONS.get(kind, kind)} {name}"


MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")


def _read_manifests(paths: list[Path]) -> list[KubeObject]:
    """Every object of every file; every unreadable or invalid file is reported, not only the first."""
    objects: list[KubeObject] = []
    problems: list[str] = []
    for path in paths:
        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in MANIFEST_SUFFIXES)
        elif path.is_file():
            files = [path]
        else:
            raise UsageError(f"{path}: no such file or directory; give a YAML file or a folder with --manifests")
        for file in files:
            try:
                objects += parse_manifests(file.read_text(encoding="utf-8"), file=str(file))
            except (OSError, UnicodeDecodeError) as error:
                problems.append(f"{file}: cannot read it ({error}); pass only readable YAML files")
            except UsageError as error:
                problems.append(str(error))
    if problems:
        raise UsageError("\n".join(problems))
    return objects


@app.command("check")
def check_command(
    file: SpecFile = None,
    manifests: Annotated[
        list[Path] | None,
        typer.Option(
            "--manifests",
            "-m",
            help="Your own manifests to check against the platform: a YAML file (multi-document, `helm template` "
            "output) or a folder of them. Repeatable.",
            show_default=False,
        ),
    ] = None,
    karpenter_api: Annotated[
        KarpenterApi | None,
        typer.Option("--karpenter-api", help="Check the platform rendered for this Karpenter API instead."),
    ] = None,
    output: Annotated[CheckOutput, typer.Option("--output", help="Report format.")] = CheckOutput.text,
    list_rules: Annotated[
        bool, typer.Option("--list-rules", help="Print every rule (id, severity, title) and exit.")
    ] = False,
) -> None:
    """Check the platform and your manifests against this architecture's rules (webhooks on the overlay,
    Fargate limits, host-port clashes, Karpenter requirements, node fit, CIDRs, security).

    Exit 0 when no finding is an error, 1 when one is, 2 on bad input. Suppress a rule on one object with
    the annotation eks-platform.io/skip-<ID>: <reason>."""
    if list_rules:
        _print_rules(output)
        return
    try:
        loaded = _load(file, karpenter_api)
        objects = _read_manifests(manifests or [])
        report = check(loaded, catalog=load_catalog(), manifests=objects)
    except EksPlatformError as error:
        _fail(error, outcome="nothing was checked")
        return
    if output is CheckOutput.json:
        sys.stdout.write(json.dumps(as_json(report), indent=2) + "\n")
    elif output is CheckOutput.sarif:
        sys.stdout.write(json.dumps(as_sarif(report, spec_file=loaded.source.file), indent=2) + "\n")
    else:
        sys.stdout.write(as_text(report))
    raise typer.Exit(report.exit_code)


def _print_rules(output: CheckOutput) -> None:
    rows = [{"id": r.id, "severity": r.severity.value, "title": r.title, "fix": r.fix, "url": r.url} for r in RULES]
    if output is CheckOutput.text:
        for row in rows:
            sys.stdout.write(f"{row['id']}  {row['severity']:<7}  {row['title']}\n")
    else:
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")


# --- the AWS side: up, diff, down -----------------------------------------------------------------

Profile = Annotated[
    str | None, typer.Option("--profile", help="AWS profile (default: AWS_PROFILE, then the standard chain).")
]
Region = Annotated[str | None, typer.Option("--region", help="AWS region (default: AWS_REGION, then the profile's).")]
Local = Annotated[
    bool,
    typer.Option("--local", help="Against a local AWS emulator (moto's server) that eksp starts itself."),
]
State = Annotated[
    Path | None,
    typer.Option("--state", help="With --local: keep the emulator's state in this folder between commands."),
]
ResultOutput = Annotated[Output, typer.Option("--output", help="Result format.")]
Yes = Annotated[bool, typer.Option("--yes", "-y", help="Apply without asking (needed when stdin is not a terminal).")]


def _confirm(yes: bool, question: str) -> Callable[[Sequence[str]], bool]:
    def confirm(plan: Sequence[str]) -> bool:
        if yes:
            return True
        if not sys.stdin.isatty():
            raise UsageError(f"{question} needs a confirmation: pass --yes to go ahead without a prompt")
        for line in plan:
            out.print(line, highlight=False, markup=False)
        return typer.confirm(question, default=False)

    return confirm


@contextlib.contextmanager
def _aws_run(
    loaded: LoadedSpec, *, local: bool, state: Path | None, profile: str | None, region: str | None
) -> Iterator[Run]:
    bundle = render(loaded.platform, catalog=load_catalog())
    progress: Callable[[str], None] = lambda text: err.print(f"  {text}", highlight=False, markup=False)  # noqa: E731
    if state is not None and not local:
        raise UsageError("--state keeps the local emulator's state: use it together with --local")
    with contextlib.ExitStack() as stack:
        notes: list[str] = []
        id_map: dict[str, str] = {}
        not_emulated: dict[str, str] = {}
        if local:
            endpoint = stack.enter_context(LocalAws(state_dir=state, region=loaded.platform.cluster.region))
            adapters = clients(
                profile=None, region=endpoint.region, endpoint_url=endpoint.url, credentials=endpoint.credentials
            )
            id_map, notes = stand_ins_on(endpoint, loaded.platform)
            not_emulated = dict(NOT_EMULATED)
            for note in notes:
                err.print(f"local: {note}", highlight=False, markup=False)
        else:
            adapters = clients(profile=profile, region=region, endpoint_url=None)
        aws = Aws(
            stacks=StackDeployer(adapters.cloudformation, adapters.clock, progress, poll_seconds=1 if local else 5),
            eks=EksReconciler(adapters.eks, adapters.clock, progress, poll_seconds=1 if local else 15),
            ec2=adapters.ec2,
            addons=None if local else adapters.addons,
            access=None if local else adapters.access,
            not_emulated=not_emulated,
            id_map=id_map,
        )
        yield Run(platform=loaded.platform, bundle=bundle, aws=aws, progress=progress)


def _refuse_on_check_errors(loaded: LoadedSpec) -> None:
    report = check(loaded, catalog=load_catalog())
    if report.exit_code:
        raise ApplyError(
            f"`eksp check` reports {report.count(Severity.error)} error(s): up does not start; "
            "run `eksp check` to see them, fix the spec, then run up again"
        )


def _print_outcome(outcome: Outcome, *, output: Output, verb: str) -> None:
    if output is Output.json:
        sys.stdout.write(
            json.dumps(
                {
                    "plan": list(outcome.plan),
                    "changed": outcome.changed,
                    "applied": outcome.applied,
                    "removed": list(outcome.removed),
                },
                indent=2,
            )
            + "\n"
        )
        return
    for line in outcome.plan:
        out.print(line, highlight=False, markup=False)
    if outcome.removed:
        out.print(f"removed: {', '.join(outcome.removed)}", highlight=False, markup=False)
    if not outcome.changed:
        out.print("nothing to do: AWS already matches the spec")
    elif outcome.applied:
        out.print(f"{verb}: done")
    else:
        out.print(f"{verb}: not applied (plan only)")


@app.command("up")
def up_command(
    file: SpecFile = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the plan; change nothing.")] = False,
    yes: Yes = False,
    local: Local = False,
    state: State = None,
    profile: Profile = None,
    region: Region = None,
    output: ResultOutput = Output.text,
) -> None:
    """Bring the AWS side up: plan (per stack and EKS resource), confirm, apply with live progress.

    Idempotent and resumable: run it again after a failure or an interruption. Refuses to start while
    `eksp check` reports an error. Exit 0 done or nothing to do, 1 failed, 2 bad input."""
    try:
        loaded = _load(file)
        _refuse_on_check_errors(loaded)
        with _aws_run(loaded, local=local, state=state, profile=profile, region=region) as run:
            outcome = engine_up(run, dry_run=dry_run, confirm=_confirm(yes, "apply this plan?"))
            _print_outcome(outcome, output=output, verb="up")
    except EksPlatformError as error:
        _fail(error, outcome="nothing was changed" if isinstance(error, SpecError) else "")
        return


@app.command("diff")
def diff_command(
    file: SpecFile = None,
    local: Local = False,
    state: State = None,
    profile: Profile = None,
    region: Region = None,
    output: ResultOutput = Output.text,
) -> None:
    """Print what `eksp up` would do (the plan only). Exit 0."""
    try:
        loaded = _load(file)
        with _aws_run(loaded, local=local, state=state, profile=profile, region=region) as run:
            _print_outcome(engine_up(run, dry_run=True, confirm=_confirm(True, "")), output=output, verb="diff")
    except EksPlatformError as error:
        _fail(error, outcome="nothing was changed")
        return


@app.command("down")
def down_command(
    file: SpecFile = None,
    yes: Yes = False,
    local: Local = False,
    state: State = None,
    profile: Profile = None,
    region: Region = None,
    output: ResultOutput = Output.text,
) -> None:
    """Remove the AWS side, in reverse order: Fargate profiles (stops Karpenter), every EC2 instance,
    network interface and launch template tagged for the cluster, the stacks, the cluster; then verify
    by tag that nothing is left and print what was removed."""
    try:
        loaded = _load(file)
        with _aws_run(loaded, local=local, state=state, profile=profile, region=region) as run:
            outcome = engine_down(run, confirm=_confirm(yes, f"remove {loaded.platform.cluster.name} from AWS?"))
            _print_outcome(outcome, output=output, verb="down")
    except EksPlatformError as error:
        _fail(error, outcome="nothing was changed")
        return


@app.command()
def schema() -> None:
    """Print the JSON Schema of the platform spec (for editor completion and validation)."""
    document = Platform.model_json_schema(by_alias=True)
    document["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    document["title"] = "eks-platform Platform spec"
    sys.stdout.write(json.dumps(document, indent=2, sort_keys=True) + "\n")


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


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)
