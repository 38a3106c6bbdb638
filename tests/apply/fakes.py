"""Fakes at the engine's narrow interfaces (apply/ports.py): in-memory, scriptable, and strict about
what the engine may call."""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from eks_platform.apply.ports import ChangeSet, ResourceChange, StackEvent, StackState


@dataclass
class FakeClock:
    time: float = 1_000_000.0
    slept: float = 0.0

    def now(self) -> float:
        return self.time

    def sleep(self, seconds: float) -> None:
        self.time += seconds
        self.slept += seconds


@dataclass
class _Stack:
    status: str
    template: dict[str, Any]
    outputs: dict[str, str] = field(default_factory=dict)
    events: list[StackEvent] = field(default_factory=list)


@dataclass
class FakeCloudFormation:
    """Change sets diff resources by logical id and body; execution either completes or, for a logical
    id in `fail`, rolls back with that reason."""

    clock: FakeClock
    stacks: dict[str, _Stack] = field(default_factory=dict)
    change_sets: dict[str, tuple[str, dict[str, Any], ChangeSet, bool]] = field(default_factory=dict)
    fail: dict[str, str] = field(default_factory=dict)  # logical id -> failure reason
    calls: list[str] = field(default_factory=list)
    _events: int = 0

    def stack(self, name: str) -> StackState | None:
        stack = self.stacks.get(name)
        return None if stack is None else StackState(name, stack.status, dict(stack.outputs))

    def create_change_set(
        self,
        *,
        stack: str,
        name: str,
        template: str,
        parameters: Mapping[str, str],
        tags: Mapping[str, str],
        create: bool,
    ) -> str:
        self.calls.append(f"create_change_set {stack} {'CREATE' if create else 'UPDATE'}")
        body = json.loads(template)
        old = self.stacks[stack].template.get("Resources", {}) if stack in self.stacks and not create else {}
        new = body.get("Resources", {})
        changes = [ResourceChange("Add", k, v["Type"]) for k, v in sorted(new.items()) if k not in old]
        changes += [
            ResourceChange("Modify", k, v["Type"], "False") for k, v in sorted(new.items()) if k in old and old[k] != v
        ]
        changes += [ResourceChange("Remove", k, v["Type"]) for k, v in sorted(old.items()) if k not in new]
        if create and stack not in self.stacks:
            self.stacks[stack] = _Stack("REVIEW_IN_PROGRESS", {})
        change_set_id = f"arn:changeSet/{stack}/{name}"
        if changes:
            change_set = ChangeSet(change_set_id, "CREATE_COMPLETE", changes=tuple(changes))
        else:
            change_set = ChangeSet(
                change_set_id,
                "FAILED",
                "The submitted information didn't contain changes. Submit different information to create a change set.",
            )
        self.change_sets[change_set_id] = (stack, body, change_set, create)
        return change_set_id

    def change_set(self, change_set_id: str) -> ChangeSet:
        return self.change_sets[change_set_id][2]

    def execute_change_set(self, change_set_id: str) -> None:
        self.calls.append(f"execute_change_set {change_set_id}")
        stack_name, body, change_set, create = self.change_sets.pop(change_set_id)
        stack = self.stacks[stack_name]
        failed = next((c.logical_id for c in change_set.changes if c.logical_id in self.fail), None)
        for change in change_set.changes:
            status = "CREATE_FAILED" if change.logical_id == failed else "CREATE_COMPLETE"
            self._event(stack, change.logical_id, change.resource_type, status, self.fail.get(change.logical_id, ""))
        if failed:
            stack.status = "ROLLBACK_COMPLETE" if create else "UPDATE_ROLLBACK_COMPLETE"
        else:
            stack.status = "CREATE_COMPLETE" if create else "UPDATE_COMPLETE"
            stack.template = body
            stack.outputs = {name: f"{stack_name}-{name}" for name in body.get("Outputs", {})}
        self._event(stack, stack_name, "AWS::CloudFormation::Stack", stack.status)

    def delete_change_set(self, change_set_id: str) -> None:
        self.calls.append(f"delete_change_set {change_set_id}")
        stack_name, _, _, create = self.change_sets.pop(change_set_id)
        if create and self.stacks[stack_name].status == "REVIEW_IN_PROGRESS":
            del self.stacks[stack_name]

    def events(self, stack: str) -> Sequence[StackEvent]:
        found = self.stacks.get(stack)
        return list(reversed(found.events)) if found else []

    def delete_stack(self, stack: str) -> None:
        self.calls.append(f"delete_stack {stack}")
        self.stacks.pop(stack, None)

    def _event(self, stack: _Stack, logical_id: str, resource_type: str, status: str, reason: str = "") -> None:
        self._events += 1
        stack.events.append(
            StackEvent(
                str(self._events),
                datetime.fromtimestamp(self.clock.time, UTC),
                logical_id,
                resource_type,
                status,
                reason,
            )
        )


@dataclass
class FakeEks:
    """Clusters become ACTIVE (and profiles too) after `steps` reads; EKS's rule that only one profile
    operation runs at a time is enforced."""

    steps: int = 2
    clusters: dict[str, dict[str, Any]] = field(default_factory=dict)
    profiles: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)
    requests: list[Any] = field(default_factory=list)

    def _tick(self, item: dict[str, Any], final: str) -> None:
        item["reads"] += 1
        if item["reads"] >= self.steps and item["status"] in ("CREATING", "DELETING"):
            item["status"] = final

    def cluster(self, name: str):  # type: ignore[no-untyped-def]
        from eks_platform.apply.ports import ClusterState

        item = self.clusters.get(name)
        if item is None:
            return None
        self._tick(item, "ACTIVE" if item["status"] == "CREATING" else "GONE")
        if item["status"] == "GONE":
            del self.clusters[name]
            return None
        return ClusterState(
            name,
            item["status"],
            item["public"],
            True,
            cluster_security_group_id="sg-cluster",
            oidc_issuer="https://oidc.example/id/X",
            endpoint=f"https://{name.upper()}.gr7.us-east-1.eks.amazonaws.com",
            log_types=item["logs"],
            certificate_authority="LS0tLS1CRUdJTi...",
        )

    def update_cluster(self, *, name: str, private_only: bool, log_types: Any) -> None:
        self.calls.append(f"update_cluster {name} private_only={private_only} logs={log_types}")
        item = self.clusters[name]
        if private_only:
            item["public"] = False
        if log_types is not None:
            item["logs"] = tuple(sorted(log_types))

    def create_cluster(self, request: Any) -> None:
        self.calls.append(f"create_cluster {request.name}")
        self.requests.append(request)
        self.clusters[request.name] = {
            "status": "CREATING",
            "reads": 0,
            "public": False,
            "logs": tuple(sorted(request.log_types)),
        }
        self.profiles[request.name] = {}

    def delete_cluster(self, name: str) -> None:
        self.calls.append(f"delete_cluster {name}")
        self.clusters[name].update(status="DELETING", reads=0)

    def fargate_profiles(self, cluster: str):  # type: ignore[no-untyped-def]
        from eks_platform.apply.ports import FargateProfileState

        found = {}
        for name, item in list(self.profiles.get(cluster, {}).items()):
            self._tick(item, "ACTIVE" if item["status"] == "CREATING" else "GONE")
            if item["status"] == "GONE":
                del self.profiles[cluster][name]
                continue
            found[name] = FargateProfileState(name, item["status"], item["selectors"])
        return found

    def _busy(self, cluster: str) -> None:
        if any(p["status"] in ("CREATING", "DELETING") for p in self.profiles[cluster].values()):
            raise AssertionError("EKS allows one Fargate profile operation at a time")

    def create_fargate_profile(
        self, *, cluster: str, name: str, role_arn: str, subnet_ids: Any, selectors: Any, tags: Any
    ) -> None:
        self._busy(cluster)
        self.calls.append(f"create_fargate_profile {name}")
        normalized = tuple((s["namespace"], tuple(sorted((s.get("labels") or {}).items()))) for s in selectors)
        self.profiles[cluster][name] = {"status": "CREATING", "reads": 0, "selectors": normalized}

    def delete_fargate_profile(self, *, cluster: str, name: str) -> None:
        self._busy(cluster)
        self.calls.append(f"delete_fargate_profile {name}")
        self.profiles[cluster][name].update(status="DELETING", reads=0)


@dataclass
class FakeEc2:
    tags: dict[str, dict[str, str]] = field(default_factory=dict)
    instances: list[Any] = field(default_factory=list)  # Leftover values

    def tag(self, resource_ids: Any, tags: Any) -> None:
        for resource in resource_ids:
            self.tags.setdefault(resource, {}).update(tags)

    def untag(self, resource_ids: Any, keys: Any) -> None:
        for resource in resource_ids:
            for key in keys:
                self.tags.get(resource, {}).pop(key, None)

    def leftovers(self, cluster: str) -> list[Any]:
        return list(self.instances)

    def terminate(self, leftovers: Any) -> None:
        gone = {item.id for item in leftovers}
        self.instances = [item for item in self.instances if item.id not in gone]


MUTATING_PREFIXES = ("create", "execute", "delete", "tag", "terminate", "update", "associate", "apply", "upgrade", "uninstall")


class Crash(Exception):
    """A run killed mid-way (the process dies; nothing is cleaned up)."""


@dataclass
class CrashAfter:
    """Wraps a port and raises Crash on the n-th mutating call (create/execute/delete/tag), after doing it.
    Steps may run in threads: the count is shared under a lock, and once the process has "died" no
    further mutating call is made."""

    inner: Any
    countdown: list[int]
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self.inner, name)
        if not callable(attribute) or not name.startswith(MUTATING_PREFIXES):
            return attribute

        def call(*args: Any, **kwargs: Any) -> Any:
            if kwargs.get("dry_run"):  # a server-side dry run changes nothing
                return attribute(*args, **kwargs)
            with self.lock:
                if self.countdown[0] <= 0:
                    raise Crash(f"{name} after the crash")
                result = attribute(*args, **kwargs)
                self.countdown[0] -= 1
                if self.countdown[0] == 0:
                    raise Crash(name)
            return result

        return call


@dataclass
class FakeAccess:
    entries: dict[str, set[Any]] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)

    def access_entries(self, cluster: str) -> dict[str, frozenset[Any]]:
        return {principal: frozenset(found) for principal, found in self.entries.items()}

    def create_access_entry(self, *, cluster: str, principal_arn: str, tags: Any) -> None:
        assert principal_arn not in self.entries, "EKS refuses a second access entry for one principal"
        self.calls.append(f"create_access_entry {principal_arn}")
        self.entries[principal_arn] = set()

    def associate_access_policy(self, *, cluster: str, principal_arn: str, association: Any) -> None:
        self.calls.append(f"associate_access_policy {principal_arn} {association.policy_arn.rsplit('/', 1)[-1]}")
        self.entries[principal_arn].add(association)
