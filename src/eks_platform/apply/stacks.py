"""One CloudFormation stack, deployed through a change set: plan (what would change, or "no changes"),
then apply (execute, stream the stack's events as progress, wait with a timeout).

Resumable: a stack left in REVIEW_IN_PROGRESS by a crash is created again through a CREATE change set;
one still IN_PROGRESS is waited for first. A stack in ROLLBACK_COMPLETE cannot be updated: the plan
says so and names the fix instead of failing halfway.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from eks_platform.apply.ports import ChangeSet, Clock, CloudFormation, ResourceChange, StackEvent, StackState
from eks_platform.errors import ApplyError

Progress = Callable[[str], None]
Action = Literal["create", "update", "none", "blocked"]

CHANGE_SET_DONE = frozenset({"CREATE_COMPLETE", "FAILED", "DELETE_COMPLETE"})
STACK_OK = frozenset({"CREATE_COMPLETE", "UPDATE_COMPLETE", "IMPORT_COMPLETE"})
STACK_FAILED = frozenset(
    {
        "CREATE_FAILED",
        "ROLLBACK_COMPLETE",
        "ROLLBACK_FAILED",
        "UPDATE_ROLLBACK_COMPLETE",
        "UPDATE_ROLLBACK_FAILED",
        "DELETE_FAILED",
        "IMPORT_ROLLBACK_COMPLETE",
    }
)


@dataclass(frozen=True)
class StackPlan:
    stack: str
    action: Action
    changes: tuple[ResourceChange, ...] = ()
    message: str = ""
    change_set_id: str | None = field(default=None, compare=False)

    def describe(self) -> list[str]:
        if self.action == "none":
            return [f"stack {self.stack}: no changes"]
        if self.action == "blocked":
            return [f"stack {self.stack}: {self.message}"]
        lines = [f"stack {self.stack}: {self.action} ({len(self.changes)} resource change(s))"]
        for change in self.changes:
            replace = " (replacement)" if change.replacement == "True" else ""
            lines.append(f"  {change.action.lower():<7} {change.logical_id} {change.resource_type}{replace}")
        return lines


def template_changes(template: Mapping[str, Any]) -> tuple[ResourceChange, ...]:
    """What creating a new stack adds: every resource of the template (no change set needed to know)."""
    resources = template.get("Resources") or {}
    return tuple(
        ResourceChange("Add", logical_id, str(body.get("Type"))) for logical_id, body in sorted(resources.items())
    )


@dataclass
class StackDeployer:
    cloudformation: CloudFormation
    clock: Clock
    progress: Progress = lambda _text: None
    timeout_seconds: float = 3600
    poll_seconds: float = 5

    def plan(
        self,
        *,
        stack: str,
        template: Mapping[str, Any],
        parameters: Mapping[str, str],
        tags: Mapping[str, str],
        dry_run: bool,
    ) -> StackPlan:
        """What applying would do. For an existing stack a change set is made (and kept for apply; deleted
        when empty or on a dry run); a new stack needs none, so a dry run leaves no trace."""
        state = self.cloudformation.stack(stack)
        if state is not None and state.status in STACK_FAILED and state.status != "UPDATE_ROLLBACK_COMPLETE":
            return StackPlan(
                stack,
                "blocked",
                message=f"is in {state.status} and cannot be updated ({state.reason or 'see its events'}); "
                f"fix: `eksp down` removes it, or delete stack {stack}, then run `eksp up` again",
            )
        if state is not None and state.status.endswith("_IN_PROGRESS") and state.status != "REVIEW_IN_PROGRESS":
            if dry_run:
                return StackPlan(stack, "blocked", message=f"is busy ({state.status}); run again when it is done")
            state = self._wait_stack(stack)
        create = state is None or state.status == "REVIEW_IN_PROGRESS"
        if create and dry_run:
            return StackPlan(stack, "create", template_changes(template))
        change_set_id = self.cloudformation.create_change_set(
            stack=stack,
            name=f"eksp-{int(self.clock.now())}",
            template=json.dumps(template, sort_keys=True),
            parameters=parameters,
            tags=tags,
            create=create,
        )
        change_set = self._wait_change_set(change_set_id)
        if change_set.empty:
            self.cloudformation.delete_change_set(change_set_id)
            return StackPlan(stack, "none")
        if change_set.status == "FAILED":
            raise ApplyError(f"stack {stack}: CloudFormation refused the change set: {change_set.reason}")
        if dry_run:
            self.cloudformation.delete_change_set(change_set_id)
        return StackPlan(stack, "create" if create else "update", change_set.changes, change_set_id=change_set_id)

    def apply(self, plan: StackPlan) -> StackState:
        if plan.action == "blocked":
            raise ApplyError(f"stack {plan.stack} {plan.message}")
        if plan.action == "none" or plan.change_set_id is None:
            state = self.cloudformation.stack(plan.stack)
            if state is None:
                raise ApplyError(f"stack {plan.stack}: planned without a change set and not found")
            return state
        before = {event.id for event in self.cloudformation.events(plan.stack)}
        self.cloudformation.execute_change_set(plan.change_set_id)
        state = self._wait_stack(plan.stack, seen=set(before))
        if state.status not in STACK_OK:
            reason = self._first_failure(plan.stack, before) or state.reason
            raise ApplyError(
                f"stack {plan.stack} ended in {state.status}: {reason or 'see its events'}; "
                "fix the cause, then run `eksp up` again (a rolled-back new stack is removed with `eksp down`)"
            )
        return state

    def delete(self, stack: str) -> bool:
        """Delete and wait; False when there was nothing to delete."""
        state = self.cloudformation.stack(stack)
        if state is None:
            return False
        seen = {event.id for event in self.cloudformation.events(stack)}
        self.cloudformation.delete_stack(stack)
        final = self._wait_stack(stack, seen=seen, deleting=True)
        if final is not None and final.status != "DELETE_COMPLETE":
            raise ApplyError(f"stack {stack} ended in {final.status} while deleting: {final.reason}")
        return True

    # --- waiting -------------------------------------------------------------------------------

    def _deadline(self) -> float:
        return self.clock.now() + self.timeout_seconds

    def _wait_change_set(self, change_set_id: str) -> ChangeSet:
        deadline = self._deadline()
        while True:
            change_set = self.cloudformation.change_set(change_set_id)
            if change_set.status in CHANGE_SET_DONE:
                return change_set
            if self.clock.now() > deadline:
                raise ApplyError(
                    f"change set {change_set_id} still {change_set.status} after {self.timeout_seconds:.0f} s"
                )
            self.clock.sleep(self.poll_seconds)

    def _wait_stack(self, stack: str, *, seen: set[str] | None = None, deleting: bool = False) -> StackState:
        seen = set() if seen is None else seen
        deadline = self._deadline()
        while True:
            self._report_events(stack, seen)
            state = self.cloudformation.stack(stack)
            if state is None:
                if deleting:
                    return StackState(stack, "DELETE_COMPLETE")
                raise ApplyError(f"stack {stack} disappeared while waiting for it")
            if not state.status.endswith("_IN_PROGRESS") or state.status == "REVIEW_IN_PROGRESS":
                return state
            if self.clock.now() > deadline:
                raise ApplyError(
                    f"stack {stack} still {state.status} after {self.timeout_seconds:.0f} s; "
                    "run `eksp up` again to keep waiting"
                )
            self.clock.sleep(self.poll_seconds)

    def _report_events(self, stack: str, seen: set[str]) -> None:
        for event in reversed(list(self.cloudformation.events(stack))):
            if event.id in seen:
                continue
            seen.add(event.id)
            reason = f": {event.reason}" if event.reason else ""
            self.progress(f"{stack}: {event.logical_id} ({event.resource_type}) {event.status}{reason}")

    def _first_failure(self, stack: str, before: set[str]) -> str:
        """The earliest failure among the events of this run (events come newest first)."""
        failures: list[StackEvent] = [
            e
            for e in self.cloudformation.events(stack)
            if e.id not in before and e.status.endswith("_FAILED") and e.reason
        ]
        return f"{failures[-1].logical_id}: {failures[-1].reason}" if failures else ""
