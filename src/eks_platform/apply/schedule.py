"""Run steps as soon as the steps they need are done, several at a time.

Every step names the steps it waits for (`after`). The scheduler starts each step once those are done,
up to `workers` at a time, and keeps going only while nothing failed: after a failure no new step
starts, the ones already running finish, and the first error is raised. That is the same state a run
stopped at that point leaves, which the engine's resume already handles.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Protocol, TypeVar


class Schedulable(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def after(self) -> frozenset[str]: ...


S = TypeVar("S", bound=Schedulable)


def check_graph(steps: Sequence[Schedulable]) -> None:
    """Every `after` names a step of the list, and nothing waits on itself, even through others."""
    names = {step.name for step in steps}
    if len(names) != len(steps):
        raise ValueError("two steps share a name")
    for step in steps:
        unknown = step.after - names
        if unknown:
            raise ValueError(f"step {step.name!r} waits for unknown step(s) {sorted(unknown)}")
    waves(steps)  # raises on a cycle


def waves(steps: Sequence[S]) -> list[list[S]]:
    """The steps grouped by depth: a step's wave comes after the waves of everything it waits for.
    Used to describe the order; the scheduler itself starts a step the moment its own needs are met."""
    done: set[str] = set()
    left = list(steps)
    grouped: list[list[S]] = []
    while left:
        ready = [step for step in left if step.after <= done]
        if not ready:
            raise ValueError(f"the steps {[s.name for s in left]} wait for each other")
        grouped.append(ready)
        done |= {step.name for step in ready}
        left = [step for step in left if step not in ready]
    return grouped


def run_steps(steps: Sequence[S], work: Callable[[S], None], *, workers: int) -> None:
    """Call `work(step)` for every step, respecting `after`, with up to `workers` calls at once."""
    check_graph(steps)
    if workers <= 1:
        for wave in waves(steps):
            for step in wave:
                work(step)
        return
    done: set[str] = set()
    waiting = list(steps)
    running: dict[Future[None], S] = {}
    first_error: BaseException | None = None
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="eksp-step") as pool:
        while waiting or running:
            if first_error is None:
                for step in [s for s in waiting if s.after <= done][: max(0, workers - len(running))]:
                    waiting.remove(step)
                    running[pool.submit(work, step)] = step
            if not running:
                break
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                step = running.pop(future)
                error = future.exception()
                if error is None:
                    done.add(step.name)
                elif first_error is None:
                    first_error = error
    if first_error is not None:
        raise first_error
