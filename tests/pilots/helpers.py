"""The reference platform for either Karpenter API, the shop example, and small pilots for edge cases."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from tests.reference_edits import catalog

from eks_platform.checks.objects import KubeObject
from eks_platform.pilots import parse_workloads
from eks_platform.spec.loading import load_text, reference_text
from eks_platform.spec.model import Platform

SHOP = Path(__file__).parent.parent.parent / "examples" / "pilots" / "shop"


def reference_text_for(api: str) -> str:
    text = reference_text().replace("  api: v1\n", f"  api: {api}\n")
    assert f"  api: {api}\n" in text
    return text


@cache
def reference(api: str = "v1") -> Platform:
    return load_text(reference_text_for(api), file="platform.yaml", catalog=catalog()).platform


def shop() -> list[KubeObject]:
    """The example as the CLI reads it: each file parsed with its name and lines."""
    return parse_workloads({f"shop/{p.name}": p.read_text(encoding="utf-8") for p in sorted(SHOP.glob("*.yaml"))})


def deployment(name: str, *, replicas: int = 1, cpu: str | None = "100m", memory: str | None = "128Mi") -> dict:  # type: ignore[type-arg]
    requests = {k: v for k, v in (("cpu", cpu), ("memory", memory)) if v is not None}
    container: dict = {"name": name, "image": f"registry.example/{name}:1"}  # type: ignore[type-arg]
    if requests:
        container["resources"] = {"requests": requests}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [container]}},
        },
    }
