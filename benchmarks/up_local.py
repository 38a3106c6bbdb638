"""Wall time of `eksp up --local` on the reference platform, and where it goes: the emulator's start,
AWS calls (the HTTP round trip and moto's work), polling waits, and eks-platform itself (render,
check, planning, the engine). Steps run in threads, so calls overlap: the engine's own share is the wall
time during which no call and no wait was in flight.

    python benchmarks/up_local.py
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from typing import Any

from eks_platform.apply.boto import clients
from eks_platform.apply.eks import EksReconciler
from eks_platform.apply.engine import up
from eks_platform.apply.local import LocalAws
from eks_platform.apply.run import Aws, Run
from eks_platform.apply.stacks import StackDeployer
from eks_platform.apply.standins import stand_ins_on
from eks_platform.checks import check
from eks_platform.render import render
from eks_platform.spec.instance_catalog import load_catalog
from eks_platform.spec.loading import load_reference

spent: dict[str, float] = defaultdict(float)


class InFlight:
    """The wall time during which at least one call is in flight (overlapping calls counted once)."""

    def __init__(self) -> None:
        self.lock, self.count, self.since, self.busy = threading.Lock(), 0, 0.0, 0.0

    def enter(self) -> None:
        with self.lock:
            if self.count == 0:
                self.since = time.perf_counter()
            self.count += 1

    def leave(self) -> None:
        with self.lock:
            self.count -= 1
            if self.count == 0:
                self.busy += time.perf_counter() - self.since


in_flight = InFlight()


class Timed:
    """Adds the time of every call on the wrapped port to spent[bucket] (summed over threads)."""

    def __init__(self, inner: Any, bucket: str) -> None:
        self._inner, self._bucket = inner, bucket

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._inner, name)
        if not callable(attribute):
            return attribute

        def call(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            in_flight.enter()
            try:
                return attribute(*args, **kwargs)
            finally:
                in_flight.leave()
                spent[self._bucket] += time.perf_counter() - start

        return call


def main() -> None:
    start = time.perf_counter()
    catalog = load_catalog()
    loaded = load_reference(catalog=catalog)
    check(loaded, catalog=catalog)
    bundle = render(loaded.platform, catalog=catalog)
    spent["eks-platform: load, check, render"] = time.perf_counter() - start
    emulator_start = time.perf_counter()
    with LocalAws() as endpoint:
        spent["emulator start"] = time.perf_counter() - emulator_start
        adapters = clients(
            profile=None, region=endpoint.region, endpoint_url=endpoint.url, credentials=endpoint.credentials
        )
        calls = time.perf_counter()
        id_map, _ = stand_ins_on(endpoint, loaded.platform)
        spent["local stand-ins (emulator calls)"] = time.perf_counter() - calls
        clock = Timed(adapters.clock, "polling waits")
        aws = Aws(
            stacks=StackDeployer(Timed(adapters.cloudformation, "AWS calls (emulator)"), clock, poll_seconds=0.2),
            eks=EksReconciler(Timed(adapters.eks, "AWS calls (emulator)"), clock, poll_seconds=0.2),
            ec2=Timed(adapters.ec2, "AWS calls (emulator)"),
            addons=None,
            id_map=id_map,
        )
        engine = time.perf_counter()
        outcome = up(
            Run(loaded.platform, bundle, aws, progress=lambda _text: None), dry_run=False, confirm=lambda _p: True
        )
        engine_total = time.perf_counter() - engine
    total = time.perf_counter() - start
    spent["eks-platform: engine (planning, waiting logic)"] = engine_total - in_flight.busy
    if not outcome.applied:
        raise SystemExit("up --local applied nothing: the benchmark measured nothing")
    print(f"eksp up --local, reference platform: {total:.2f} s wall")
    print("  (AWS calls and waits are summed over the steps that run at the same time; they can overlap)")
    for bucket, seconds in sorted(spent.items(), key=lambda item: -item[1]):
        print(f"  {bucket:<50} {seconds:6.2f} s  {100 * seconds / total:5.1f} %")
    own = spent["eks-platform: load, check, render"] + spent["eks-platform: engine (planning, waiting logic)"]
    print(f"eks-platform itself: {own:.2f} s ({100 * own / total:.1f} % of the wall time)")


if __name__ == "__main__":
    main()
