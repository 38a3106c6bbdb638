"""`eksp up / diff / down` for the AWS side: an ordered list of steps, each of which can say what it
would do (plan) before it does it (apply). Outputs of earlier steps feed later ones; nothing is copied
by hand. Every step reads the current state first, so a run killed at any point converges when run
again, and a second run with no spec change does nothing and says so.

Order (up): every step names the steps it waits for, and runs as soon as they are done, several at a
time (apply/schedule.py): a stack waits for the steps its parameters come from (the template's
ParameterSources), so [vpc] -> kms + iam -> EKS cluster -> access + irsa + [karpenter-infra] + Fargate
profiles + access entries -> [efs] + managed add-ons. down runs the reverse, one step at a time, and before the
cluster goes it stops Karpenter (its Fargate profile) and removes every EC2 instance, network
interface and launch template tagged for the cluster, then verifies by tag that nothing is left.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from eks_platform.apply.cluster import cluster_steps, delete_node_pools
from eks_platform.apply.eks import ClusterPlan, ProfileSpec, ProfilesPlan
from eks_platform.apply.pilots import PilotStep
from eks_platform.apply.ports import (
    AccessPolicyAssociation,
    AddonState,
    ClusterRequest,
    Leftover,
)
from eks_platform.apply.run import BEFORE_CLUSTER, DISCOVERY_TAG, Run, Step
from eks_platform.apply.schedule import run_steps, waves
from eks_platform.apply.stacks import StackPlan, template_changes
from eks_platform.errors import ApplyError
from eks_platform.render.bundle import Bundle

# --- steps -----------------------------------------------------------------------------------------


@dataclass
class StackStep(Step):
    short: str
    _plan: StackPlan | None = None

    @property
    def name(self) -> str:
        return f"stack {self.short}"

    def parameters(self, run: Run, *, dry_run: bool) -> dict[str, str] | None:
        """Every template parameter's value; None on a dry run when one is known only after earlier steps."""
        template = run.bundle.stacks[self.short]
        values: dict[str, str] = {}
        for name, declared in (template.get("Parameters") or {}).items():
            try:
                values[name] = _parameter(run, name, stack=self.short)
            except ApplyError:
                if "Default" in declared:
                    continue  # the template's own default applies
                if dry_run:
                    return None
                raise
        return values

    def plan(self, run: Run, *, dry_run: bool) -> list[str]:
        template = run.bundle.stacks[self.short]
        parameters = self.parameters(run, dry_run=dry_run)
        if parameters is None:  # depends on what earlier steps will create: it is new too
            if run.aws.stacks.cloudformation.stack(run.stack_name(self.short)) is None:
                self._plan = StackPlan(run.stack_name(self.short), "create", template_changes(template))
            else:
                self._plan = StackPlan(run.stack_name(self.short), "update", message="known after earlier steps")
                return [f"stack {run.stack_name(self.short)}: parameters known after the steps before it apply"]
            return self._plan.describe()
        self._plan = run.aws.stacks.plan(
            stack=run.stack_name(self.short), template=template, parameters=parameters, tags=run.tags, dry_run=dry_run
        )
        if self._plan.action == "none":
            state = run.aws.stacks.cloudformation.stack(run.stack_name(self.short))
            run.record(self.short, state.outputs if state else {})
        return self._plan.describe()

    @property
    def changes(self) -> bool:
        return self._plan is not None and self._plan.action != "none"

    def apply(self, run: Run) -> None:
        if self._plan is None:
            raise ApplyError(f"{self.name}: apply before plan")
        state = run.aws.stacks.apply(self._plan)
        run.record(self.short, state.outputs)


def _parameter(run: Run, name: str, *, stack: str) -> str:
    cluster = run.platform.cluster
    if name == "ClusterName":
        return run.name
    if name == "VpcId":
        return run.vpc_id()
    if name in ("PrivateSubnetIds", "SubnetIds"):
        return ",".join(run.subnet_ids())
    if name == "VpcCidr":
        return str(cluster.vpc.cidr)
    if name in ("ClusterSecurityGroupId", "OidcIssuerUrl", "OidcIssuer"):
        state = run.cluster
        value = None
        if state is not None:
            value = state.cluster_security_group_id if name == "ClusterSecurityGroupId" else state.oidc_issuer
        if not value and name == "ClusterSecurityGroupId":
            value = run.aws.id_map.get("eks:clusterSecurityGroupId")  # the local target's stand-in
        if not value:
            raise ApplyError(f"stack {stack} needs the cluster's {name}, which EKS has not reported")
        return value
    return run.output(name, needed_by=f"stack {stack} (parameter {name})")


@dataclass
class ClusterStep(Step):
    _plan: ClusterPlan | None = None

    @property
    def name(self) -> str:
        return "eks cluster"

    @property
    def changes(self) -> bool:
        return self._plan is not None and self._plan.action != "none"

    def plan(self, run: Run, *, dry_run: bool) -> list[str]:
        self._plan = run.aws.eks.plan_cluster(run.name, log_types=run.platform.cluster.logging)
        if self._plan.action != "create":  # it exists: the cluster side plans against it, even with an update due
            run.cluster = run.aws.eks.eks.cluster(run.name)
        return self._plan.describe()

    def apply(self, run: Run) -> None:
        if self._plan is None:
            raise ApplyError("eks cluster: apply before plan")
        cluster = run.platform.cluster
        request = ClusterRequest(
            name=run.name,
            version=cluster.kubernetes_version,
            role_arn=run.output("ClusterRoleArn", needed_by="the EKS cluster"),
            subnet_ids=tuple(run.subnet_ids()),
            security_group_ids=(),
            service_cidr=str(cluster.service_cidr),
            kms_key_arn=run.output("KeyArn", needed_by="secrets encryption") if cluster.secrets_encryption else None,
            log_types=tuple(cluster.logging),
            tags=run.tags,
        )
        run.cluster = run.aws.eks.apply_cluster(self._plan, request)


@dataclass
class ProfilesStep(Step):
    _plan: ProfilesPlan | None = None

    @property
    def name(self) -> str:
        return "fargate profiles"

    @property
    def changes(self) -> bool:
        return self._plan is not None and not self._plan.empty

    def wanted(self, run: Run) -> list[ProfileSpec]:
        return [ProfileSpec.from_input(p) for p in run.bundle.aws["fargate-profiles"]["profiles"]]

    def plan(self, run: Run, *, dry_run: bool) -> list[str]:
        self._plan = run.aws.eks.plan_profiles(run.name, self.wanted(run))
        return self._plan.describe(run.name)

    def apply(self, run: Run) -> None:
        if self._plan is None:
            raise ApplyError("fargate profiles: apply before plan")
        run.aws.eks.apply_profiles(
            run.name,
            self._plan,
            role_arn=run.output("FargatePodExecutionRoleArn", needed_by="the Fargate profiles"),
            subnet_ids=run.subnet_ids(),
            tags=run.tags,
        )


@dataclass
class AddonsStep(Step):
    _todo: list[tuple[str, str, Mapping[str, Any]]] = field(default_factory=list)

    @property
    def name(self) -> str:
        return "managed add-ons"

    @property
    def changes(self) -> bool:
        return bool(self._todo)

    def plan(self, run: Run, *, dry_run: bool) -> list[str]:
        wanted = run.bundle.aws["managed-addons"]["addons"]
        if run.aws.addons is None:
            reason = run.aws.not_emulated.get("eks:addons", "not available")
            return [f"managed add-ons ({', '.join(a['name'] for a in wanted)}): skipped ({reason})"]
        existing: Mapping[str, AddonState] = run.aws.addons.addons(run.name) if run.cluster else {}
        self._todo = []
        for addon in wanted:
            configuration = json.dumps(addon["configuration"], sort_keys=True)
            current = existing.get(addon["name"])
            if current is None:
                self._todo.append(("create", addon["name"], addon))
            elif current.configuration != configuration or (addon["version"] and current.version != addon["version"]):
                self._todo.append(("update", addon["name"], addon))
        if not self._todo:
            return ["managed add-ons: no changes"]
        return ["managed add-ons:"] + [f"  {action:<7} {name}" for action, name, _ in self._todo]

    def apply(self, run: Run) -> None:
        if run.aws.addons is None:
            return
        for action, name, addon in self._todo:
            role = run.output("EbsCsiControllerRoleArn", needed_by=name) if "serviceAccountRole" in addon else None
            call = run.aws.addons.create_addon if action == "create" else run.aws.addons.update_addon
            run.progress(f"add-on {name}: {action}")
            call(
                cluster=run.name,
                name=name,
                version=addon["version"],
                configuration=json.dumps(addon["configuration"], sort_keys=True),
                role_arn=role,
            )


@dataclass
class AccessEntriesStep(Step):
    """Who may use the Kubernetes API. Entries EKS made itself (the cluster creator, node roles) are left
    alone; an entry of the spec is created and its policy associated."""

    _todo: list[tuple[str, AccessPolicyAssociation, bool]] = field(default_factory=list)

    @property
    def name(self) -> str:
        return "access entries"

    @property
    def changes(self) -> bool:
        return bool(self._todo)

    def wanted(self, run: Run) -> list[tuple[str, AccessPolicyAssociation]]:
        return [
            (
                entry["principalArn"],
                AccessPolicyAssociation(
                    entry["policyArn"], entry["scope"]["type"], tuple(entry["scope"].get("namespaces", ()))
                ),
            )
            for entry in run.bundle.aws["cluster"]["accessEntries"]
        ]

    def plan(self, run: Run, *, dry_run: bool) -> list[str]:
        wanted = self.wanted(run)
        if not wanted:
            return ["access entries: none in the spec"]
        if run.aws.access is None:
            reason = run.aws.not_emulated.get("eks:access-entries", "not available")
            return [f"access entries ({len(wanted)}): skipped ({reason})"]
        existing = run.aws.access.access_entries(run.name) if run.cluster else {}
        self._todo = [
            (principal, association, principal not in existing)
            for principal, association in wanted
            if association not in existing.get(principal, frozenset())
        ]
        if not self._todo:
            return ["access entries: no changes"]
        return ["access entries:"] + [
            f"  {'create' if new else 'associate'} {principal}: {association.policy_arn.rsplit('/', 1)[-1]} "
            f"({association.scope}{': ' + ', '.join(association.namespaces) if association.namespaces else ''})"
            for principal, association, new in self._todo
        ]

    def apply(self, run: Run) -> None:
        if run.aws.access is None:
            return
        for principal, association, new in self._todo:
            if new:
                run.aws.access.create_access_entry(cluster=run.name, principal_arn=principal, tags=run.tags)
            run.aws.access.associate_access_policy(cluster=run.name, principal_arn=principal, association=association)
            run.progress(f"access entry {principal}: {association.policy_arn.rsplit('/', 1)[-1]}")


@dataclass
class DiscoveryTagsStep(Step):
    """Karpenter finds subnets and the node security group by tag; CloudFormation cannot tag existing subnets."""

    @property
    def name(self) -> str:
        return "discovery tags"

    def plan(self, run: Run, *, dry_run: bool) -> list[str]:
        return [f"tag the private subnets {DISCOVERY_TAG}={run.name} (Karpenter's subnet selector)"]

    def apply(self, run: Run) -> None:
        run.aws.ec2.tag(run.subnet_ids(), {DISCOVERY_TAG: run.name})


_SPEC_OR_VPC_PARAMETERS = frozenset({"VpcId", "PrivateSubnetIds", "SubnetIds"})


def up_steps(bundle: Bundle, *, cluster_side: bool = True, pilots: Sequence[str] = ()) -> list[Step]:
    """The steps of `up`, each with what it waits for: the AWS side, then the cluster side (apply/cluster.py;
    one line saying why when there is no cluster access). A stack waits for the steps its parameters come
    from; the EKS steps wait for the stacks whose outputs they use."""
    vpc = {"stack vpc"} if "vpc" in bundle.stacks else set()
    cluster = ClusterStep()
    cluster.after = frozenset({f"stack {short}" for short in bundle.stacks if short in BEFORE_CLUSTER})
    stacks: list[Step] = []
    for short, template in bundle.stacks.items():
        step = StackStep(short)
        sources = (template.get("Metadata") or {}).get("EksPlatform", {}).get("ParameterSources", {})
        needs = {
            cluster.name if source.startswith("cluster.") else f"stack {source.split('.')[0]}"
            for source in sources.values()
        }
        if short != "vpc" and _SPEC_OR_VPC_PARAMETERS & set(template.get("Parameters") or {}):
            needs |= vpc
        step.after = frozenset(needs)
        stacks.append(step)
    profiles, addons, access, discovery = ProfilesStep(), AddonsStep(), AccessEntriesStep(), DiscoveryTagsStep()
    profiles.after = frozenset({cluster.name, "stack iam"} | vpc)
    # coredns runs on Fargate: its profile first; the EBS CSI add-on takes its role from irsa
    addons.after = frozenset({cluster.name, profiles.name} | ({"stack irsa"} if "irsa" in bundle.stacks else set()))
    access.after = frozenset({cluster.name})
    discovery.after = frozenset(vpc)
    before = [step for step in stacks if step.name.split()[-1] in BEFORE_CLUSTER]
    aws = [*before, cluster, *[s for s in stacks if s not in before], profiles, addons, access, discovery]
    if not cluster_side:
        return aws
    in_cluster = cluster_steps(bundle.manifests, bundle.releases, {step.name for step in aws})
    pilot_steps: list[Step] = []
    for pilot in pilots:  # the spec's pilots with manifests: after their namespace, quota and pool exist
        pilot_step = PilotStep(pilot)
        pilot_step.after = frozenset({"objects", "karpenter pools"})
        pilot_steps.append(pilot_step)
    for cluster_step in in_cluster:
        if cluster_step.name == "prune":  # after the pilots too: it knows their workloads
            cluster_step.after = cluster_step.after | {pilot_step.name for pilot_step in pilot_steps}
    return aws + in_cluster + pilot_steps


def describe_order(steps: Sequence[Step]) -> str:
    return "order: " + " -> ".join(" + ".join(step.name for step in wave) for wave in waves(steps))


# --- up, diff, down --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    plan: tuple[str, ...]
    changed: bool
    applied: bool
    removed: tuple[str, ...] = ()
    cluster_side: bool = True  # False: only the AWS side was planned (no cluster access, e.g. --local)


def up(run: Run, *, dry_run: bool, confirm: Callable[[Sequence[str]], bool]) -> Outcome:
    """Plan every step (a dry run stops there), confirm, then plan and apply each step once the steps it
    waits for are done, several at a time. The plan lists the steps in order, whatever order they ran in."""
    steps = up_steps(run.bundle, cluster_side=run.cluster_side is not None, pilots=tuple(run.pilot_workloads))
    plans: dict[str, list[str]] = {}

    def plan(step: Step) -> None:
        plans[step.name] = step.plan(run, dry_run=True)

    run_steps(steps, plan, workers=run.workers)
    described = [line for step in steps for line in plans[step.name]]
    if run.cluster_side is None:
        described.append(f"cluster side: skipped ({run.no_cluster_side})")
    if run.workers > 1:
        described.append(describe_order(steps) + " (steps joined by + run at the same time)")
    changed = any(step.changes for step in steps)
    side = run.cluster_side is not None
    if dry_run or not changed:
        return Outcome(tuple(described), changed, applied=False, cluster_side=side)
    if not confirm(described):
        return Outcome(tuple(described), changed, applied=False, cluster_side=side)
    run.outputs.clear()

    def apply(step: Step) -> None:
        for line in step.plan(run, dry_run=False):
            run.progress(line)
        step.apply(run)

    steps = up_steps(run.bundle, cluster_side=run.cluster_side is not None, pilots=tuple(run.pilot_workloads))
    run_steps(steps, apply, workers=run.workers)
    return Outcome(tuple(described), changed, applied=True, cluster_side=side)


def down(run: Run, *, confirm: Callable[[Sequence[str]], bool]) -> Outcome:
    shorts = [short for short in reversed(list(run.bundle.stacks))]
    plan = [
        "delete Karpenter's node pools and wait until their nodes are gone"
        if run.cluster_side is not None
        else f"Karpenter's node pools: not deleted through Kubernetes ({run.no_cluster_side})",
        f"delete the Fargate profiles of {run.name} (stops Karpenter)",
        f"terminate EC2 instances and delete network interfaces and launch templates tagged for {run.name}",
        f"delete stacks {', '.join(run.stack_name(s) for s in shorts if s not in BEFORE_CLUSTER)}",
        f"delete eks cluster {run.name}",
        f"delete stacks {', '.join(run.stack_name(s) for s in shorts if s in BEFORE_CLUSTER)}",
        "verify by tag that nothing is left",
    ]
    if not confirm(plan):
        return Outcome(tuple(plan), changed=True, applied=False)
    run.cluster = run.aws.eks.eks.cluster(run.name)
    removed = delete_node_pools(run)
    removed += [f"fargate profile {name}" for name in run.aws.eks.delete_profiles(run.name)]
    leftovers = run.aws.ec2.leftovers(run.name)
    if leftovers:
        run.progress(f"terminating {len(leftovers)} leftover(s): {_leftover_list(leftovers)}")
        run.aws.ec2.terminate(leftovers)
        removed += [f"{item.kind} {item.id}" for item in leftovers]
    for short in shorts:
        if short in BEFORE_CLUSTER:
            continue
        if run.aws.stacks.delete(run.stack_name(short)):
            removed.append(f"stack {run.stack_name(short)}")
    if run.aws.eks.delete_cluster(run.name):
        removed.append(f"eks cluster {run.name}")
    for short in shorts:
        if short in BEFORE_CLUSTER and run.aws.stacks.delete(run.stack_name(short)):
            removed.append(f"stack {run.stack_name(short)}")
    run.aws.ec2.untag(run.subnet_ids(), [DISCOVERY_TAG])
    _verify_gone(run)
    return Outcome(tuple(plan), changed=bool(removed), applied=True, removed=tuple(removed))


def _verify_gone(run: Run) -> None:
    left = [f"{item.kind} {item.id}" for item in run.aws.ec2.leftovers(run.name)]
    left += [
        f"stack {run.stack_name(s)}"
        for s in run.bundle.stacks
        if run.aws.stacks.cloudformation.stack(run.stack_name(s))
    ]
    if run.aws.eks.eks.cluster(run.name) is not None:
        left.append(f"eks cluster {run.name}")
    if left:
        raise ApplyError(f"down finished but these remain: {', '.join(left)}; run `eksp down` again")


def _leftover_list(leftovers: Sequence[Leftover]) -> str:
    return ", ".join(f"{item.kind} {item.id}" for item in leftovers)
