from __future__ import annotations

from tests.reference_edits import catalog

from eks_platform.render import Bundle, render
from eks_platform.spec.loading import load_text, reference_text


def reference_bundle(api: str = "v1") -> Bundle:
    text = reference_text().replace("  api: v1\n", f"  api: {api}\n")
    assert f"  api: {api}\n" in text
    return render(load_text(text, file="reference.yaml", catalog=catalog()).platform, catalog=catalog())
