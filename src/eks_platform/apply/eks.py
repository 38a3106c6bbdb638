"""The EKS resources, reconciled through the EKS API (describe -> compare -> create/replace -> wait), the
way eksctl does them: the cluster (private endpoint only, from the first call) and its Fargate profiles
(immutable, and EKS takes one profile operation at a time, so they are sequenced and a changed one is
replaced)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from eks_platform.apply.ports import Clock, ClusterRequest, ClusterState, Eks, FargateProfileState
from eks_platform.errors import ApplyError

Progress = Callable[[str], None]


@dataclass(frozen=True)
class ClusterPlan:
    name: str
    action: Literal["create", "none", "wait", "update", "blocked"]
    message: str = ""
    private_only: bool = False  # update: turn the public endpoint off
    log_types: tuple[str, ...] | None = None  # update: set the control-plane logs to these

    def describe(self) -> list[str]:
        text = {
            "create": "create (private endpoint only, secrets encrypted, no default VPC CNI)",
            "none": "exists, private endpoint only: no changes",
            "wait": "is being created: wait for it",
            "update": self.message,
            "blocked": self.message,
        }[self.action]
        return [f"eks cluster {self.name}: {text}"]


@dataclass(frozen=True)
class ProfileSpec:
    name: str
    selectors: tuple[tuple[str, tuple[tuple[str, str], ...]], ...]

    @staticmethod
    def from_input(profile: Mapping[str, Any]) -> ProfileSpec:
        return ProfileSpec(
            name=str(profile["name"]),
            selectors=tuple(
                (str(s["namespace"]), tuple(sorted((str(k), str(v)) for k, v in (s.get("labels") or {}).items())))
                for s in profile["selectors"]
            ),
        )

    def as_selectors(self) -> list[dict[str, Any]]:
        return [{"namespace": ns, **({"labels": dict(labels)} if labels else {})} for ns, labels in self.selectors]


@dataclass(frozen=True)
class ProfilesPlan:
    create: tuple[ProfileSpec, ...] = ()
    replace: tuple[ProfileSpec, ...] = ()
    delete: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.create or self.replace or self.delete)

    def describe(self, cluster: str) -> list[str]:
        if self.empty:
            return [f"fargate profiles of {cluster}: no changes"]
        lines = [f"fargate profiles of {cluster}:"]
        lines += [f"  create  {p.name} ({_selectors(p)})" for p in self.create]
        lines += [f"  replace {p.name} ({_selectors(p)}; profiles are immutable)" for p in self.replace]
        lines += [f"  delete  {name} (not in the spec)" for name in self.delete]
        return lines


def _selectors(profile: ProfileSpec) -> str:
    return "; ".join(
        ns + ("" if not labels else " " + ",".join(f"{k}={v}" for k, v in labels)) for ns, labels in profile.selectors
    )


@dataclass
class EksReconciler:
    eks: Eks
    clock: Clock
    progress: Progress = lambda _text: None
    timeout_seconds: float = 3600
    poll_seconds: float = 15
    _waited: dict[str, float] = field(default_factory=dict)

    # --- the cluster ---------------------------------------------------------------------------

    def plan_cluster(self, name: str, *, log_types: Sequence[str] | None = None) -> ClusterPlan:
        state = self.eks.cluster(name)
        if state is None:
            return ClusterPlan(name, "create")
        if state.status == "CREATING":
            return ClusterPlan(name, "wait")
        if state.status in ("FAILED", "DELETING"):
            return ClusterPlan(name, "blocked", f"is {state.status}; run `eksp down`, then `eksp up` again")
        changes: list[str] = []
        private_only = state.endpoint_public or not state.endpoint_private
        if private_only:
            changes.append("update: turn the public endpoint off (private endpoint only)")
        wanted_logs = tuple(sorted(log_types)) if log_types is not None else None
        logs = wanted_logs if state.log_types is not None and wanted_logs != state.log_types else None
        if logs is not None:
            before, after = ", ".join(state.log_types or ()) or "none", ", ".join(logs) or "none"
            changes.append(f"update: control-plane logs {before} -> {after}")
        if changes:
            return ClusterPlan(name, "update", "; ".join(changes), private_only=private_only, log_types=logs)
        return ClusterPlan(name, "none")

    def apply_cluster(self, plan: ClusterPlan, request: ClusterRequest) -> ClusterState:
        if plan.action == "blocked":
            raise ApplyError(f"eks cluster {plan.name} {plan.message}")
        if plan.action == "create":
            self.progress(f"eks cluster {plan.name}: creating (this takes 10-15 minutes on AWS)")
            self.eks.create_cluster(request)
        if plan.action == "update":
            self.progress(f"eks cluster {plan.name}: {plan.message}")
            self.eks.update_cluster(name=plan.name, private_only=plan.private_only, log_types=plan.log_types)
        self._wait(f"eks cluster {plan.name}", lambda: self.eks.cluster(plan.name), done=("ACTIVE",))
        state = self.eks.cluster(plan.name)
        if state is None or state.endpoint_public or not state.endpoint_private:
            raise ApplyError(f"eks cluster {plan.name}: expected a private-only endpoint, got {state}")
        return state

    def delete_cluster(self, name: str) -> bool:
        if self.eks.cluster(name) is None:
            return False
        self.progress(f"eks cluster {name}: deleting")
        self.eks.delete_cluster(name)
        self._wait(f"eks cluster {name}", lambda: self.eks.cluster(name), done=())
        return True

    # --- Fargate profiles ----------------------------------------------------------------------

    def plan_profiles(self, cluster: str, wanted: Sequence[ProfileSpec]) -> ProfilesPlan:
        existing = self.eks.fargate_profiles(cluster) if self.eks.cluster(cluster) is not None else {}
        create = tuple(p for p in wanted if p.name not in existing)
        replace = tuple(p for p in wanted if p.name in existing and _differs(existing[p.name], p))
        delete = tuple(sorted(set(existing) - {p.name for p in wanted}))
        return ProfilesPlan(create, replace, delete)

    def apply_profiles(
        self, cluster: str, plan: ProfilesPlan, *, role_arn: str, subnet_ids: Sequence[str], tags: Mapping[str, str]
    ) -> None:
        for name in (*plan.delete, *(p.name for p in plan.replace)):
            self.progress(f"fargate profile {name}: deleting")
            self.eks.delete_fargate_profile(cluster=cluster, name=name)
            self._wait(f"fargate profile {name}", self._profile_reader(cluster, name), done=())
        for profile in (*plan.replace, *plan.create):
            self.progress(f"fargate profile {profile.name}: creating ({_selectors(profile)})")
            self.eks.create_fargate_profile(
                cluster=cluster,
                name=profile.name,
                role_arn=role_arn,
                subnet_ids=subnet_ids,
                selectors=profile.as_selectors(),
                tags=tags,
            )
            self._wait(f"fargate profile {profile.name}", self._profile_reader(cluster, profile.name), done=("ACTIVE",))

    def delete_profiles(self, cluster: str) -> list[str]:
        if self.eks.cluster(cluster) is None:
            return []
        names = sorted(self.eks.fargate_profiles(cluster))
        self.apply_profiles(cluster, ProfilesPlan(delete=tuple(names)), role_arn="", subnet_ids=(), tags={})
        return names

    def _profile_reader(self, cluster: str, name: str) -> Callable[[], FargateProfileState | None]:
        return lambda: self.eks.fargate_profiles(cluster).get(name)

    # --- waiting -------------------------------------------------------------------------------

    def _wait(self, what: str, read: Callable[[], Any], *, done: tuple[str, ...]) -> Any:
        """Poll until read() has a status in `done` (or is None when done is empty: deleted)."""
        deadline = self.clock.now() + self.timeout_seconds
        last = ""
        while True:
            state = read()
            status = "" if state is None else str(state.status)
            if (not done and state is None) or (done and status in done):
                return state
            if status.endswith("FAILED"):
                raise ApplyError(f"{what} is {status}")
            if done and state is None:
                raise ApplyError(f"{what} disappeared while waiting for it")
            if status != last:
                self.progress(f"{what}: {status}")
                last = status
            if self.clock.now() > deadline:
                raise ApplyError(f"{what} still {status} after {self.timeout_seconds:.0f} s; run again to keep waiting")
            self.clock.sleep(self.poll_seconds)


def _differs(state: FargateProfileState, wanted: ProfileSpec) -> bool:
    return tuple(sorted(state.selectors)) != tuple(sorted(wanted.selectors))
