"""Wall time of loading and rendering the reference platform in a cold process (goal: < 1 s).

Runs `python -c` in fresh interpreters so imports count, as they do for a user.
    python benchmarks/render.py [runs]
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

CODE = (
    "from eks_platform.spec.instance_catalog import load_catalog;"
    "from eks_platform.spec.loading import load_reference;"
    "from eks_platform.render import render;"
    "from eks_platform.render.files import bundle_files;"
    "c = load_catalog(); bundle_files(render(load_reference(catalog=c).platform, catalog=c))"
)


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 7
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", CODE], check=True)
        times.append(time.perf_counter() - start)
    baseline = []
    for _ in range(3):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        baseline.append(time.perf_counter() - start)
    print(
        f"cold load+render of the reference platform: median {statistics.median(times):.3f} s, "
        f"max {max(times):.3f} s over {runs} runs "
        f"(bare interpreter start: {statistics.median(baseline):.3f} s; goal < 1 s)"
    )


if __name__ == "__main__":
    main()
