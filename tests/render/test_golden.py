"""The reference platform, rendered for both Karpenter APIs, against reviewed golden files.

Rewrite them with `pytest --update-golden` and read the diff before committing."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.render.helpers import reference_bundle

from eks_platform.render.files import bundle_files

GOLDEN = Path(__file__).parent.parent / "golden"


@pytest.mark.parametrize("api", ["v1", "v1alpha5"])
def test_reference_platform_matches_golden_files(api: str, update_golden: bool) -> None:
    files = bundle_files(reference_bundle(api))
    root = GOLDEN / f"reference-{api}"
    if update_golden:
        for old in sorted(root.rglob("*"), reverse=True):
            old.unlink() if old.is_file() else old.rmdir()
        for relative, text in files.items():
            (root / relative).parent.mkdir(parents=True, exist_ok=True)
            (root / relative).write_text(text, encoding="utf-8")
    on_disk = {str(p.relative_to(root)): p.read_text(encoding="utf-8") for p in root.rglob("*") if p.is_file()}
    assert sorted(on_disk) == sorted(files), "files added or removed: run pytest --update-golden and review"
    for relative, text in files.items():
        assert on_disk[relative] == text, f"{relative} differs from the golden file"


def test_render_is_deterministic() -> None:
    assert bundle_files(reference_bundle("v1")) == bundle_files(reference_bundle("v1"))


def test_the_two_apis_render_different_karpenter_objects() -> None:
    kinds_v1 = {o["kind"] for o in reference_bundle("v1").manifests}
    kinds_old = {o["kind"] for o in reference_bundle("v1alpha5").manifests}
    assert {"EC2NodeClass", "NodePool"} <= kinds_v1 and not {"AWSNodeTemplate", "Provisioner"} & kinds_v1
    assert {"AWSNodeTemplate", "Provisioner"} <= kinds_old and not {"EC2NodeClass", "NodePool"} & kinds_old
