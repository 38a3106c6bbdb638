"""How long a pilot takes to plan: `eksp pilot create shop --dry-run` in a fresh process (what a user or the
Ansible module waits for before anything is applied; no cluster here, so nothing is compared), and the
in-process plan (render with the pilot, patch, fit) of pilots of growing size.

    python benchmarks/pilot.py
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

from eks_platform.pilots import parse_workloads, pilot_from_args, plan_pilot
from eks_platform.spec.instance_catalog import load_catalog
from eks_platform.spec.loading import load_reference

ROOT = Path(__file__).resolve().parent.parent
SHOP = ROOT / "examples" / "pilots" / "shop"
GOAL_SECONDS = 2.0


def deployment(index: int) -> str:
    return f"""apiVersion: apps/v1
kind: Deployment
metadata: {{name: app-{index}}}
spec:
  replicas: 1
  selector: {{matchLabels: {{app: app-{index}}}}}
  template:
    metadata: {{labels: {{app: app-{index}}}}}
    spec:
      containers:
        - name: app
          image: registry.example/app:{index}
          resources: {{requests: {{cpu: 10m, memory: 16Mi}}}}
---
apiVersion: v1
kind: Service
metadata: {{name: app-{index}}}
spec: {{selector: {{app: app-{index}}}, ports: [{{port: 80}}]}}
"""


def cold_dry_run(runs: int = 3) -> float:
    eksp = Path(sys.executable).parent / "eksp"
    argv = [
        str(eksp),
        "pilot",
        "create",
        "shop",
        "--instance-type",
        "m6a.4xlarge",
        "--manifests",
        str(SHOP),
        "--dry-run",
    ]
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        done = subprocess.run(
            argv, capture_output=True, text=True, check=False, env={"PATH": "", "HOME": "/nonexistent"}
        )
        times.append(time.perf_counter() - start)
        if done.returncode != 0:
            raise SystemExit(f"the dry run failed:\n{done.stdout}{done.stderr}")
    return statistics.median(times)


def main() -> None:
    catalog = load_catalog()
    platform = load_reference(catalog=catalog).platform
    cold = cold_dry_run()
    print(f"eksp pilot create shop --dry-run, fresh process: median {cold:.2f} s (goal: under {GOAL_SECONDS:.0f} s)")
    for apps in (10, 50, 100):
        workloads = parse_workloads({"apps.yaml": "---\n".join(deployment(i) for i in range(apps))})
        start = time.perf_counter()
        plan = plan_pilot(platform, pilot_from_args("bench", "m6a.4xlarge"), workloads=workloads, catalog=catalog)
        elapsed = time.perf_counter() - start
        if not plan.ok:
            raise SystemExit(f"the benchmark pilot was refused: {plan.refusals}")
        print(f"  plan of a pilot with {apps} Deployments + Services ({2 * apps} objects): {elapsed:.3f} s")


if __name__ == "__main__":
    main()
