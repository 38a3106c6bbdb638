"""The reference spec with small text edits: how the tests build broken and variant specs."""

from __future__ import annotations

from functools import cache

from eks_platform.spec.instance_catalog import InstanceCatalog, load_catalog
from eks_platform.spec.loading import reference_text

FILE = "platform.yaml"
Edit = tuple[str, str]


@cache
def catalog() -> InstanceCatalog:
    return load_catalog()


def edited(*edits: Edit) -> str:
    """The reference spec with each `old` (which must occur exactly once) replaced by `new`."""
    text = reference_text()
    for old, new in edits:
        assert text.count(old) == 1, f"edit target must occur exactly once in the reference: {old!r}"
        text = text.replace(old, new)
    return text
