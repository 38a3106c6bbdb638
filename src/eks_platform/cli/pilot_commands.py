"""eksp pilot create / list / delete: one pilot deployment on one dedicated node.

With --output json, every answer (an error too) is one JSON document on stdout, for scripts and the
Ansible module (ansible/plugins/modules/eksp_pilot.py)."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml

from eks_platform.apply.boto import SystemClock
from eks_platform.apply.connect import connector_for
from eks_platform.apply.helm import HelmCli
from eks_platform.apply.kube_ports import LAST_APPLIED, ChartRef, Kube
from eks_platform.apply.pilots import (
    PilotInfo,
    PilotOutcome,
    Waits,
    create_pilot,
    delete_pilot,
    list_pilots,
    refuse_declared,
)
from eks_platform.checks import check
from eks_platform.checks.finding import Severity
from eks_platform.checks.objects import KubeObject
from eks_platform.cli.common import (
    Context,
    Kubeconfig,
    Output,
    Profile,
    Region,
    ResultOutput,
    SpecFile,
    app,
    err,
    fail,
    load_spec,
    out,
    read_manifest_tree,
)
from eks_platform.errors import EksPlatformError, SpecError, UsageError
from eks_platform.pilots import PilotPlan, pilot_from_args, plan_pilot
from eks_platform.plan.allocatable import format_memory
from eks_platform.spec.instance_catalog import InstanceCatalog, load_catalog
from eks_platform.spec.loading import LoadedSpec
from eks_platform.spec.model import Platform

pilot_app = typer.Typer(
    name="pilot",
    help="One entire pilot deployment on one dedicated Karpenter node (m6a.4xlarge, t3.2xlarge, ...).",
    no_args_is_help=True,
)
app.add_typer(pilot_app)


Name = Annotated[str, typer.Argument(help="The pilot's name (a DNS label); its namespace is pilot-NAME.")]
DryRun = Annotated[bool, typer.Option("--dry-run", help="Print what would change; change nothing.")]
Timeout = Annotated[
    int | None,
    typer.Option("--timeout", help="Seconds to wait for the node and the pods (delete: for the node to go).", min=1),
]


@contextlib.contextmanager
def _answering(output: Output) -> Iterator[None]:
    """Errors end the command with their exit code; with --output json as {"error": ...} on stdout."""
    try:
        yield
    except EksPlatformError as error:
        fail(error, outcome="nothing was applied", output=output)


def _progress(text: str) -> None:
    err.print(f"  {text}", highlight=False, markup=False)


def _kube(
    cluster: str,
    stack: contextlib.ExitStack,
    profile: str | None,
    region: str | None,
    context: str | None,
    kubeconfig: str | None,
) -> Kube:
    connector, found = connector_for(
        cluster, stack, profile=profile, region=region, context=context, kubeconfig=kubeconfig
    )
    return connector.kube(found)


_FLAGS = {"instanceType": "--instance-type", "namespace": "--namespace", "name": "NAME", "manifests": "--manifests"}


def _as_flags(error: SpecError, platform: Platform, name: str) -> UsageError | SpecError:
    """The spec's rules speak of pilots[i].instanceType; for the pilot of the command line, name the flag."""
    index = next((i for i, p in enumerate(platform.pilots) if p.name == name), len(platform.pilots))
    ours = [issue for issue in error.issues if issue.loc[:2] == ("pilots", index)]
    if not ours:
        return error
    return UsageError(
        "; ".join(
            f"{_FLAGS.get(str(issue.loc[2]), str(issue.loc[2])) if len(issue.loc) > 2 else 'the pilot'}: "
            f"{issue.message}" + (f"; {issue.fix}" if issue.fix else "")
            for issue in ours
        )
    )


def _waits(timeout: int | None) -> Waits:
    waits = Waits(clock=SystemClock(), progress=_progress)
    if timeout is not None:
        waits.node_timeout_seconds = waits.pods_timeout_seconds = waits.delete_timeout_seconds = float(timeout)
    return waits


def _redacted(doc: dict[str, Any]) -> dict[str, Any]:
    """A Secret as printed: its keys, never its values (nor kubectl's copy of them in an annotation)."""
    if doc.get("kind") != "Secret":
        return doc
    shown = dict(doc)
    for field in ("data", "stringData"):
        if isinstance(doc.get(field), dict):
            shown[field] = dict.fromkeys(doc[field], "<redacted>")
    metadata = doc.get("metadata")
    if isinstance(metadata, dict) and isinstance(metadata.get("annotations"), dict):
        annotations = dict(metadata["annotations"])
        if LAST_APPLIED in annotations:
            annotations[LAST_APPLIED] = "<redacted>"
        shown["metadata"] = {**metadata, "annotations": annotations}
    return shown


def _refuse_check_errors(loaded: LoadedSpec, plan: PilotPlan, catalog: InstanceCatalog) -> None:
    """The rest of `eksp check` on the pilot's objects, as they would be applied: any error refuses it."""
    files = {w.file for w in plan.workloads}
    report = check(
        LoadedSpec(platform=plan.platform, source=loaded.source), catalog=catalog, manifests=list(plan.workloads)
    )
    errors = [f for f in report.findings if f.severity is Severity.error and f.object.file in files]
    if errors:
        reasons = "\n".join(
            f"  - {f.rule_id} {f.object.file}:{f.object.line} {f.object.kind} {f.object.name}: {f.message}; "
            f"fix: {f.fix}"
            for f in errors
        )
        raise UsageError(f"pilot {plan.pilot.name} is not created; nothing was applied; `eksp check` finds:\n{reasons}")


def _chart_workloads(
    chart: str, repo: str, version: str, values: Path | None, name: str, namespace: str
) -> list[KubeObject]:
    if values is not None and not values.is_file():
        raise UsageError(f"--values {values}: no such file")
    try:
        given: Any = yaml.safe_load(values.read_text(encoding="utf-8")) if values else {}
    except (OSError, UnicodeDecodeError) as error:
        raise UsageError(f"--values {values}: cannot be read as UTF-8 text ({error})") from None
    except yaml.YAMLError as error:
        raise UsageError(f"--values {values}: not YAML ({error})") from None
    if not isinstance(given, dict):
        raise UsageError(f"--values {values}: must be a mapping of chart values")
    if chart.startswith("oci://") and not repo:  # oci://registry/path/chart: helm wants it whole, with a version
        repo, chart = chart.rsplit("/", 1)
    elif not repo and not Path(chart).is_dir():
        raise UsageError(f"--chart {chart}: no such chart folder; fix: give a local chart folder, oci://..., or --repo")
    if repo and not version:
        raise UsageError(f"--chart {chart}: a chart from a repository needs --version (pin what the pilot runs)")
    rendered = HelmCli().template(ChartRef(name, namespace, chart, repo, version), given)
    crds = [doc for doc in rendered if doc.get("kind") == "CustomResourceDefinition"]
    if crds:  # cluster-wide, and shared by every user of the chart: not a pilot's to own
        names = ", ".join(str(doc.get("metadata", {}).get("name")) for doc in crds)
        err.print(f"  the chart's CRDs are left out (install them cluster-wide first): {names}", highlight=False)
    return [
        KubeObject(doc, file=f"helm template {chart}", origin="user")
        for doc in rendered
        if doc.get("kind") != "CustomResourceDefinition"
    ]


def _print_plan(plan: PilotPlan) -> None:
    fit = plan.fit
    out.print(f"pilot {plan.pilot.name}: namespace {plan.pilot.namespace}, one {fit.instance_type}", highlight=False)
    for label, figures in (
        ("allocatable", fit.allocatable),
        ("platform DaemonSets", fit.daemonsets),
        ("the pilot requests", fit.pilot),
        ("headroom", fit.headroom),
    ):
        out.print(
            f"  {label:<20} {figures.cpu_m / 1000:.2f} cpu  {format_memory(figures.memory_mi):>8}  {figures.pods} pods",
            highlight=False,
        )
    for note in plan.notes:
        out.print(f"  note: {note}", highlight=False, markup=False)


def _print_outcome(outcome: PilotOutcome, *, verb: str) -> None:
    for change in outcome.objects:
        out.print(change.describe(), highlight=False, markup=False)
    for removed in outcome.removed:
        out.print(f"  {'would delete' if outcome.dry_run else 'deleted'} {removed}", highlight=False, markup=False)
    if outcome.compared:
        out.print(f"not compared with the live cluster: {outcome.compared}", highlight=False, markup=False)
    if outcome.node:
        out.print(f"node: {outcome.node} ({outcome.instance_type})", highlight=False)
    for pod in outcome.pods:
        out.print(f"  {pod.name} on {pod.node} ({'Ready' if pod.ready else 'not Ready'})", highlight=False)
    if not outcome.changed:
        out.print(f"{verb}: nothing to do")
    else:
        out.print(f"{verb}: {'dry run, nothing changed' if outcome.dry_run else 'done'}")


@pilot_app.command("create")
def create_command(
    name: Name,
    instance_type: Annotated[str, typer.Option("--instance-type", help="The one node's type, e.g. m6a.4xlarge.")],
    manifests: Annotated[
        Path | None, typer.Option("--manifests", help="The pilot's manifests: a file or a folder (read, never edited).")
    ] = None,
    chart: Annotated[
        str | None, typer.Option("--chart", help="Or a Helm chart: a local folder, oci://... or a name in --repo.")
    ] = None,
    repo: Annotated[str, typer.Option("--repo", help="The chart's repository URL (with --chart).")] = "",
    version: Annotated[str, typer.Option("--version", help="The chart's version (with --chart and --repo).")] = "",
    values: Annotated[Path | None, typer.Option("--values", help="Values file for --chart.")] = None,
    namespace: Annotated[str | None, typer.Option("--namespace", help="Default: pilot-NAME.")] = None,
    file: SpecFile = None,
    dry_run: DryRun = False,
    timeout: Timeout = None,
    profile: Profile = None,
    region: Region = None,
    context: Context = None,
    kubeconfig: Kubeconfig = None,
    output: ResultOutput = Output.text,
) -> None:
    """Create a pilot: its namespace, policies, quota and limit range, a pool of exactly one node of the
    instance type, and its workloads pinned to that node. Refused, before anything is applied, when the
    pilot does not fit the node. Waits for the node and the pods, then says where everything landed.

    Exit 0 done (or nothing to do), 1 failed, 2 bad input or does not fit."""
    with _answering(output):
        if (manifests is None) == (chart is None):
            raise UsageError("give the pilot's workloads with exactly one of --manifests or --chart")
        if values is not None and chart is None:
            raise UsageError("--values goes with --chart")
        if chart is None and (repo or version):
            raise UsageError("--repo and --version go with --chart")
        loaded = load_spec(file)
        if any(p.name == name for p in loaded.platform.pilots):
            raise UsageError(
                f"pilot {name} is declared in the spec's pilots: `eksp up` creates and updates it; fix: run "
                "`eksp up`, or remove it from the spec to manage it with `eksp pilot`"
            )
        catalog = load_catalog()
        pilot = pilot_from_args(name, instance_type, namespace)
        target_namespace = namespace or f"pilot-{name}"
        workloads = (
            read_manifest_tree(manifests, what="--manifests")
            if manifests is not None
            else _chart_workloads(chart or "", repo, version, values, name, target_namespace)
        )
        try:
            plan = plan_pilot(loaded.platform, pilot, workloads=workloads, catalog=catalog)
        except SpecError as error:
            raise _as_flags(error, loaded.platform, name) from None
        if output is Output.text:
            _print_plan(plan)
        if plan.ok:
            _refuse_check_errors(loaded, plan, catalog)
        with contextlib.ExitStack() as stack:
            kube: Kube | None = None
            why_offline = ""
            if plan.ok:
                try:
                    kube = _kube(
                        loaded.platform.cluster.name,
                        stack,
                        profile,
                        region or loaded.platform.cluster.region,
                        context,
                        kubeconfig,
                    )
                    kube.server_version()
                except EksPlatformError as error:
                    if not dry_run:
                        raise
                    kube, why_offline = None, str(error).splitlines()[0]
            outcome = create_pilot(kube, plan, dry_run=dry_run, waits=_waits(timeout), why_offline=why_offline)
        if output is Output.json:
            document = outcome.as_json()
            document["fit"] = {
                "allocatable": vars(plan.fit.allocatable),
                "requested": vars(plan.fit.requested),
                "headroom": vars(plan.fit.headroom),
            }
            document["notCompared"] = outcome.compared or None
            if dry_run:
                document["manifests"] = [_redacted(w.doc) for w in plan.workloads]
            sys.stdout.write(json.dumps(document, indent=2) + "\n")
            return
        if dry_run:
            out.print(
                "--- the pilot's objects, as they would be applied (your files are unchanged) ---", highlight=False
            )
            sys.stdout.write(yaml.safe_dump_all([_redacted(w.doc) for w in plan.workloads], sort_keys=False))
        _print_outcome(outcome, verb="pilot create")


@pilot_app.command("list")
def list_command(
    file: SpecFile = None,
    profile: Profile = None,
    region: Region = None,
    context: Context = None,
    kubeconfig: Kubeconfig = None,
    output: ResultOutput = Output.text,
) -> None:
    """Every pilot: instance type, node, state, pods, requests against the node's allocatable, and cost."""
    with _answering(output):
        loaded = load_spec(file)
        with contextlib.ExitStack() as stack:
            region = region or loaded.platform.cluster.region
            kube = _kube(loaded.platform.cluster.name, stack, profile, region, context, kubeconfig)
            pilots = list_pilots(kube, load_catalog())
        if output is Output.json:
            sys.stdout.write(json.dumps({"pilots": [p.as_json() for p in pilots]}, indent=2) + "\n")
            return
        if not pilots:
            out.print("no pilots")
        else:
            out.print(PilotInfo.header(), highlight=False)
        for pilot in pilots:
            out.print(pilot.describe(), highlight=False, markup=False)


@pilot_app.command("delete")
def delete_command(
    name: Name,
    file: SpecFile = None,
    dry_run: DryRun = False,
    timeout: Timeout = None,
    profile: Profile = None,
    region: Region = None,
    context: Context = None,
    kubeconfig: Kubeconfig = None,
    output: ResultOutput = Output.text,
) -> None:
    """Delete a pilot: its workloads (with its namespace), then its pool, then wait until Karpenter has
    terminated its node, so no instance is left running. Exit 0 done or nothing to do."""
    with _answering(output):
        loaded = load_spec(file)
        declared = [p.name for p in loaded.platform.pilots]
        refuse_declared(name, declared)  # before connecting: the answer does not depend on the cluster
        with contextlib.ExitStack() as stack:
            region = region or loaded.platform.cluster.region
            kube = _kube(loaded.platform.cluster.name, stack, profile, region, context, kubeconfig)
            outcome = delete_pilot(kube, name, declared_in_spec=declared, dry_run=dry_run, waits=_waits(timeout))
        if output is Output.json:
            sys.stdout.write(json.dumps(outcome.as_json(), indent=2) + "\n")
            return
        if not outcome.removed:
            out.print(f"pilot {name}: not found, nothing to delete", highlight=False)
            return
        _print_outcome(outcome, verb="pilot delete")
