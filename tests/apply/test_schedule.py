"""The step scheduler: a step starts only after the steps it waits for, independent steps really run at
the same time, a failure stops new steps, and a graph that cannot run is refused before anything runs."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import pytest

from eks_platform.apply.schedule import check_graph, run_steps, waves


@dataclass(frozen=True)
class S:
    name: str
    after: frozenset[str] = frozenset()


def graph() -> list[S]:
    return [
        S("kms"),
        S("iam"),
        S("queue"),
        S("cluster", frozenset({"kms", "iam"})),
        S("access", frozenset({"cluster"})),
        S("irsa", frozenset({"cluster"})),
        S("efs", frozenset({"access"})),
        S("addons", frozenset({"irsa", "cluster"})),
    ]


def test_waves_group_steps_by_what_they_wait_for() -> None:
    assert [[s.name for s in wave] for wave in waves(graph())] == [
        ["kms", "iam", "queue"],
        ["cluster"],
        ["access", "irsa"],
        ["efs", "addons"],
    ]


@pytest.mark.parametrize("workers", [1, 2, 4])
def test_every_step_starts_after_the_steps_it_waits_for(workers: int) -> None:
    finished: list[str] = []
    lock = threading.Lock()
    steps = graph()

    def work(step: S) -> None:
        with lock:
            assert step.after <= set(finished), f"{step.name} started before {sorted(step.after - set(finished))}"
        time.sleep(0.01 * (len(step.name) % 3))  # uneven durations shuffle the finishing order
        with lock:
            finished.append(step.name)

    run_steps(steps, work, workers=workers)
    assert sorted(finished) == sorted(s.name for s in steps)


def test_independent_steps_run_at_the_same_time() -> None:
    # the three first steps wait at a barrier for each other: run one after the other, it would break
    barrier = threading.Barrier(3, timeout=5)
    met: list[str] = []

    def work(step: S) -> None:
        if not step.after:
            barrier.wait()
            met.append(step.name)

    run_steps(graph(), work, workers=4)
    assert sorted(met) == ["iam", "kms", "queue"]


def test_a_failure_stops_new_steps_and_lets_running_ones_finish() -> None:
    started: list[str] = []
    release = threading.Event()

    def work(step: S) -> None:
        started.append(step.name)
        if step.name == "kms":
            raise RuntimeError("kms failed")
        if step.name == "iam":
            release.wait(1)  # still running when kms fails
            started.append("iam finished")

    with pytest.raises(RuntimeError, match="kms failed"):
        run_steps(graph(), work, workers=2)
    assert "iam finished" in started
    assert "cluster" not in started and "access" not in started


def test_a_graph_that_cannot_run_is_refused_before_anything_runs() -> None:
    ran: list[str] = []
    with pytest.raises(ValueError, match="wait for each other"):
        run_steps([S("a", frozenset({"b"})), S("b", frozenset({"a"}))], lambda s: ran.append(s.name), workers=2)
    with pytest.raises(ValueError, match="unknown step"):
        check_graph([S("a", frozenset({"nope"}))])
    with pytest.raises(ValueError, match="share a name"):
        check_graph([S("a"), S("a")])
    assert ran == []
