"""eksp up, diff, down: the AWS side and the cluster side, planned before applied."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated

import typer

from eks_platform.apply.boto import clients
from eks_platform.apply.connect import Connector, connector_for, credential_json
from eks_platform.apply.eks import EksReconciler
from eks_platform.apply.engine import Outcome
from eks_platform.apply.engine import down as engine_down
from eks_platform.apply.engine import up as engine_up
from eks_platform.apply.local import NOT_EMULATED, LocalAws
from eks_platform.apply.run import Aws, ClusterSide, Run
from eks_platform.apply.stacks import StackDeployer
from eks_platform.apply.standins import stand_ins_on
from eks_platform.apply.status import cluster_status, describe_status, status_json
from eks_platform.checks import check
from eks_platform.checks.finding import Severity
from eks_platform.cli.common import (
    Context,
    Kubeconfig,
    Local,
    Output,
    Profile,
    Region,
    ResultOutput,
    SpecFile,
    State,
    Yes,
    app,
    confirm_with,
    err,
    fail,
    load_spec,
    out,
    pilot_workloads,
    read_manifest_tree,
)
from eks_platform.errors import ApplyError, EksPlatformError, SpecError, UsageError
from eks_platform.pilots import manifests_path
from eks_platform.render import render
from eks_platform.spec.instance_catalog import load_catalog
from eks_platform.spec.loading import LoadedSpec

LOCAL_NO_CLUSTER = "the local target has no Kubernetes API: moto's EKS runs no control plane"


@contextlib.contextmanager
def _aws_run(
    loaded: LoadedSpec,
    *,
    local: bool,
    state: Path | None,
    profile: str | None,
    region: str | None,
    context: str | None = None,
    kubeconfig: str | None = None,
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
            adapters = clients(profile=profile, region=region or loaded.platform.cluster.region, endpoint_url=None)
        aws = Aws(
            stacks=StackDeployer(adapters.cloudformation, adapters.clock, progress, poll_seconds=1 if local else 5),
            eks=EksReconciler(adapters.eks, adapters.clock, progress, poll_seconds=1 if local else 15),
            ec2=adapters.ec2,
            addons=None if local else adapters.addons,
            access=None if local else adapters.access,
            not_emulated=not_emulated,
            id_map=id_map,
        )
        side = None
        if not local:
            connect = Connector(adapters.session, adapters.region, profile, context, kubeconfig, stack)
            side = ClusterSide(connect=connect, clock=adapters.clock, poll_seconds=5)
        workloads = {
            pilot.name: read_manifest_tree(Path(path), what=f"pilots[{index}].manifests")
            for index, pilot in enumerate(loaded.platform.pilots)
            if (path := manifests_path(pilot, spec_file=loaded.source.file)) is not None
        }
        yield Run(
            pilot_workloads=workloads,
            catalog=load_catalog(),
            platform=loaded.platform,
            bundle=bundle,
            aws=aws,
            progress=progress,
            cluster_side=side,
            no_cluster_side=LOCAL_NO_CLUSTER if local else "",
        )


def _refuse_on_check_errors(loaded: LoadedSpec, file: Path | None) -> None:
    catalog = load_catalog()
    report = check(loaded, catalog=catalog, manifests=pilot_workloads(loaded, catalog))
    if report.exit_code:
        command = f"eksp check -f {file}" if file else "eksp check"
        raise ApplyError(
            f"`{command}` reports {report.count(Severity.error)} error(s): up does not start; "
            f"run `{command}` to see them, fix the spec, then run up again"
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
        scope = "AWS and the cluster already match" if outcome.cluster_side else "AWS already matches"
        out.print(f"nothing to do: {scope} the spec")
    elif outcome.applied:
        out.print(f"{verb}: done")
    elif verb == "diff":
        out.print("diff: the plan only, nothing changed")
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
    context: Context = None,
    kubeconfig: Kubeconfig = None,
    output: ResultOutput = Output.text,
) -> None:
    """Bring the platform up: the AWS side (stacks, the EKS cluster, Fargate profiles, add-ons, access
    entries), then the cluster (Karpenter, Calico, the add-on releases, objects, the spec's pilots). Plans
    every step, confirms, applies with live progress.

    Idempotent and resumable: run it again after a failure or an interruption. Refuses to start while
    `eksp check` reports an error. Exit 0 done or nothing to do, 1 failed, 2 bad input."""
    try:
        loaded = load_spec(file)
        _refuse_on_check_errors(loaded, file)
        with _aws_run(
            loaded,
            local=local,
            state=state,
            profile=profile,
            region=region,
            context=context,
            kubeconfig=kubeconfig,
        ) as run:
            outcome = engine_up(run, dry_run=dry_run, confirm=confirm_with(yes, "apply this plan?"))
            _print_outcome(outcome, output=output, verb="up")
    except EksPlatformError as error:
        fail(error, outcome="nothing was changed" if isinstance(error, SpecError) else "", output=output)
        return


@app.command("diff")
def diff_command(
    file: SpecFile = None,
    local: Local = False,
    state: State = None,
    profile: Profile = None,
    region: Region = None,
    context: Context = None,
    kubeconfig: Kubeconfig = None,
    output: ResultOutput = Output.text,
) -> None:
    """Print what `eksp up` would do (the plan only). Exit 0."""
    try:
        loaded = load_spec(file)
        with _aws_run(
            loaded,
            local=local,
            state=state,
            profile=profile,
            region=region,
            context=context,
            kubeconfig=kubeconfig,
        ) as run:
            _print_outcome(engine_up(run, dry_run=True, confirm=confirm_with(True, "")), output=output, verb="diff")
    except EksPlatformError as error:
        fail(error, outcome="nothing was changed", output=output)
        return


@app.command("down")
def down_command(
    file: SpecFile = None,
    yes: Yes = False,
    local: Local = False,
    state: State = None,
    profile: Profile = None,
    region: Region = None,
    context: Context = None,
    kubeconfig: Kubeconfig = None,
    output: ResultOutput = Output.text,
) -> None:
    """Remove the platform: Karpenter's pools first (waiting until their nodes are gone), then in reverse
    order the Fargate profiles, every EC2 instance, network interface and launch template tagged for the
    cluster, the stacks and the cluster; then verify by tag that nothing is left and print what was removed."""
    try:
        loaded = load_spec(file)
        with _aws_run(
            loaded,
            local=local,
            state=state,
            profile=profile,
            region=region,
            context=context,
            kubeconfig=kubeconfig,
        ) as run:
            outcome = engine_down(run, confirm=confirm_with(yes, f"remove {loaded.platform.cluster.name} from AWS?"))
            _print_outcome(outcome, output=output, verb="down")
    except EksPlatformError as error:
        fail(error, outcome="nothing was changed", output=output)
        return


@app.command("status")
def status_command(
    file: SpecFile = None,
    profile: Profile = None,
    region: Region = None,
    context: Context = None,
    kubeconfig: Kubeconfig = None,
    output: ResultOutput = Output.text,
) -> None:
    """What is live: nodes per Karpenter pool (instance type, price per hour, pods), Fargate pods, the
    releases and their health, and drift from the rendered state. Exit 0 healthy, 1 not (or a failure)."""
    try:
        loaded = load_spec(file)
        bundle = render(loaded.platform, catalog=load_catalog())
        with contextlib.ExitStack() as stack:
            connector, cluster = connector_for(
                loaded.platform.cluster.name,
                stack,
                profile=profile,
                region=region or loaded.platform.cluster.region,
                context=context,
                kubeconfig=kubeconfig,
            )
            kube, helm = connector(cluster)
            live = cluster_status(kube, helm, bundle, load_catalog())
    except EksPlatformError as error:
        fail(error, outcome="nothing was changed", output=output)
        return
    if output is Output.json:
        sys.stdout.write(json.dumps(status_json(live), indent=2) + "\n")
    else:
        for line in describe_status(live, region=loaded.platform.cluster.region):
            out.print(line, highlight=False, markup=False)
    raise typer.Exit(0 if live.healthy else 1)


@app.command("token", hidden=True)
def token_command(
    cluster: Annotated[str, typer.Option("--cluster", help="EKS cluster name.")],
    profile: Profile = None,
    region: Region = None,
) -> None:
    """Print an ExecCredential for the cluster, as `aws eks get-token` does (the credential plugin of the
    kubeconfig eksp writes for helm)."""
    try:
        adapters = clients(profile=profile, region=region, endpoint_url=None)
        sys.stdout.write(credential_json(adapters.session, cluster) + "\n")
    except EksPlatformError as error:
        fail(error, outcome="")
