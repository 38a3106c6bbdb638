from __future__ import annotations

from functools import cache

from eks_platform.render import Bundle, render
from eks_platform.spec.instance_catalog import InstanceCatalog, load_catalog
from eks_platform.spec.loading import load_text, reference_text


@cache
def catalog() -> InstanceCatalog:
    return load_catalog()


def reference_bundle(api: str = "v1") -> Bundle:
    text = reference_text().replace("  api: v1\n", f"  api: {api}\n")
    assert f"  api: {api}\n" in text
    return render(load_text(text, file="reference.yaml", catalog=catalog()).platform, catalog=catalog())
