"""eksp init, render, check, schema: the spec and what it renders to, no AWS or cluster."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from eks_platform.checks import RULES, check
from eks_platform.checks.objects import KubeObject, parse_manifests
from eks_platform.checks.report import as_json, as_sarif, as_text
from eks_platform.cli.common import (
    CheckOutput,
    KarpenterApi,
    Output,
    SpecFile,
    app,
    err,
    fail,
    load_spec,
    locate,
    out,
    pilot_workloads,
)
from eks_platform.errors import EksPlatformError, SpecError, UsageError
from eks_platform.render import render
from eks_platform.render.files import bundle_files, summary_rows
from eks_platform.spec.instance_catalog import load_catalog
from eks_platform.spec.loading import reference_text
from eks_platform.spec.model import Platform


@app.command()
def init(
    path: Annotated[Path, typer.Argument(help="Where to write the reference platform spec.")] = Path("platform.yaml"),
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> None:
    """Write the reference platform, commented, as a starting point."""
    if path.exists() and not force:
        fail(UsageError(f"{path} exists; pass --force to overwrite it"))
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
        loaded = load_spec(file, karpenter_api)
        try:
            bundle = render(loaded.platform, catalog=load_catalog())
        except SpecError as error:
            raise locate(error, loaded) from None
    except EksPlatformError as error:
        fail(error, output=output)
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
        loaded = load_spec(file, karpenter_api)
        catalog = load_catalog()
        objects = _read_manifests(manifests or []) + pilot_workloads(loaded, catalog)
        report = check(loaded, catalog=catalog, manifests=objects)
    except EksPlatformError as error:
        fail(error, outcome="nothing was checked", output=Output.json if output is not CheckOutput.text else None)
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


@app.command()
def schema() -> None:
    """Print the JSON Schema of the platform spec (for editor completion and validation)."""
    document = Platform.model_json_schema(by_alias=True)
    document["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    document["title"] = "eks-platform Platform spec"
    sys.stdout.write(json.dumps(document, indent=2, sort_keys=True) + "\n")
