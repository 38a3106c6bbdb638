#!/usr/bin/env python3
"""Compact the upstream CRDs in shared/crds into small JSON schemas shipped with eks_platform.

For every served version of every CustomResourceDefinition in ``<crds>/{karpenter,calico}/*.yaml``
this writes ``src/eks_platform/schemas/crds/<group>_<version>_<kind>.json``::

    {"group": ..., "version": ..., "kind": ..., "scope": ..., "source": "<file> (from SOURCES.md: repo@tag)",
     "schema": <openAPIV3Schema, compacted>}

and ``INDEX.json`` (apiVersion + kind -> file). Compacting keeps everything that affects validation
(types, properties, items, required, enums, patterns, formats, bounds, defaults, anyOf/allOf,
x-kubernetes-preserve-unknown-fields, -int-or-string, -list-type set/map, -list-map-keys,
-embedded-resource and the CEL rules of x-kubernetes-validations) and drops documentation
(description, title, example, externalDocs), x-kubernetes-map-type, list-type atomic (the default)
and the ``reason`` of CEL rules. When a version has the status subresource, the ``status`` schema is
replaced by an open object: the API server ignores ``status`` written through the main endpoint, and
the operator's ``status.computed`` alone is a copy of the whole Installation spec.

A schema keyword the script does not know makes it fail rather than silently drop a constraint.
Output is deterministic (sorted keys, no indentation, stale JSON files in the output folder removed).

Usage: python scripts/compact_crds.py [--crds DIR] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CRDS = REPO_ROOT.parent / "shared" / "crds"
DEFAULT_OUT = REPO_ROOT / "src" / "eks_platform" / "schemas" / "crds"
SUBDIRS = ("karpenter", "calico")
# Same (group, version, kind) as karpenter.sh_nodepools.yaml; that one (the AWS provider's copy) wins.
EXCLUDED_FILES = frozenset({"karpenter.sh_nodepools.core-upstream.yaml"})
INDEX_NAME = "INDEX.json"
_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present: ~10x faster

# Schema keywords copied as they are (values are data, not sub-schemas, except where walked below).
_KEEP_PLAIN = frozenset(
    {
        "type",
        "required",
        "enum",
        "pattern",
        "format",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "multipleOf",
        "minLength",
        "maxLength",
        "minItems",
        "maxItems",
        "uniqueItems",
        "minProperties",
        "maxProperties",
        "default",
        "nullable",
        "x-kubernetes-list-map-keys",
    }
)
_DROP = frozenset({"description", "title", "example", "externalDocs", "x-kubernetes-map-type"})
_TRUE_FLAGS = frozenset(
    {"x-kubernetes-preserve-unknown-fields", "x-kubernetes-int-or-string", "x-kubernetes-embedded-resource"}
)
_RULE_KEYS = ("rule", "message", "messageExpression", "fieldPath", "optionalOldSelf")
_OPEN_STATUS: dict[str, Any] = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}


class CompactError(Exception):
    """The input CRDs are not what this script understands."""


def compact_schema(node: Any, where: str = "") -> dict[str, Any]:
    """Return a compacted copy of one structural-schema node."""
    if not isinstance(node, dict):
        raise CompactError(f"{where or '<root>'}: schema node is not a mapping")
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _DROP:
            continue
        if key in _KEEP_PLAIN:
            out[key] = value
        elif key in _TRUE_FLAGS:
            if value:
                out[key] = True
        elif key == "x-kubernetes-list-type":
            if value in ("set", "map"):
                out[key] = value
            elif value != "atomic":
                raise CompactError(f"{where}: unknown x-kubernetes-list-type {value!r}")
        elif key == "x-kubernetes-validations":
            rules = [{k: r[k] for k in _RULE_KEYS if k in r} for r in value]
            if rules:
                out[key] = rules
        elif key == "properties":
            out[key] = {name: compact_schema(sub, f"{where}.{name}") for name, sub in value.items()}
        elif key in ("items", "not"):
            out[key] = compact_schema(value, f"{where}[]" if key == "items" else f"{where}<not>")
        elif key == "additionalProperties":
            out[key] = value if isinstance(value, bool) else compact_schema(value, f"{where}{{}}")
        elif key in ("anyOf", "allOf", "oneOf"):
            out[key] = [compact_schema(sub, f"{where}<{key}>") for sub in value]
        else:
            raise CompactError(f"{where or '<root>'}: unknown schema keyword {key!r}")
    return out


_REPO_AT_TAG = re.compile(r"([A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+)\s*@\s*(v[0-9][A-Za-z0-9_.+-]*)")
_REPO_TAG_BOLD = re.compile(r"([A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+)\s+tag\s+\*\*(v[0-9][A-Za-z0-9_.+-]*)\*\*")


def parse_sources(sources_md: str) -> dict[str, str]:
    """Map file name -> "owner/repo@tag" from one SOURCES.md.

    Rows either name ``owner/repo @ tag`` themselves, say "same tag" (the previous row's), or
    inherit a folder-wide "owner/repo tag **vX**" stated above the table.
    """
    default = None
    m = _REPO_TAG_BOLD.search(sources_md)
    if m:
        default = f"{m.group(1)}@{m.group(2)}"
    result: dict[str, str] = {}
    previous = default
    for line in sources_md.splitlines():
        if not line.startswith("|"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if not cells or not cells[0].endswith(".yaml"):
            continue
        row = " | ".join(cells[1:])
        m = _REPO_AT_TAG.search(row)
        if m:
            ref = f"{m.group(1)}@{m.group(2)}"
        elif "same tag" in row and previous:
            ref = previous
        elif default:
            ref = default
        else:
            raise CompactError(f"SOURCES.md: no repository@tag for {cells[0]}")
        result[cells[0]] = ref
        previous = ref
    return result


def _dump(obj: Any) -> bytes:
    return (json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False) + "\n").encode("utf-8")


def build(crds_dir: Path) -> dict[str, bytes]:
    """Return {file name: bytes} for every compacted schema plus INDEX.json."""
    files: dict[str, bytes] = {}
    index: list[dict[str, str]] = []
    seen: dict[tuple[str, str, str], str] = {}
    for sub in SUBDIRS:
        folder = crds_dir / sub
        if not folder.is_dir():
            raise CompactError(f"missing folder {folder}")
        sources_path = folder / "SOURCES.md"
        sources = parse_sources(sources_path.read_text(encoding="utf-8")) if sources_path.exists() else {}
        for path in sorted(folder.glob("*.yaml")):
            if path.name in EXCLUDED_FILES:
                continue
            rel = f"{sub}/{path.name}"
            if path.name not in sources:
                raise CompactError(f"{rel} is not listed in {sub}/SOURCES.md")
            with path.open(encoding="utf-8") as fh:
                docs = [d for d in yaml.load_all(fh, Loader=_LOADER) if d]
            for doc in docs:
                if doc.get("kind") != "CustomResourceDefinition":
                    continue
                spec = doc["spec"]
                group, kind, scope = spec["group"], spec["names"]["kind"], spec["scope"]
                for version in spec["versions"]:
                    if not version.get("served", False):
                        continue
                    name = version["name"]
                    gvk = (group, name, kind)
                    if gvk in seen:
                        raise CompactError(f"{group}/{name} {kind} defined by both {seen[gvk]} and {rel}")
                    seen[gvk] = rel
                    raw = version["schema"]["openAPIV3Schema"]
                    schema = compact_schema(raw)
                    props = schema.get("properties", {})
                    if "status" in (version.get("subresources") or {}) and "status" in props:
                        props["status"] = dict(_OPEN_STATUS)
                    out_name = f"{group}_{name}_{kind}.json"
                    source = f"{rel} (from SOURCES.md: {sources[path.name]})"
                    files[out_name] = _dump(
                        {
                            "group": group,
                            "version": name,
                            "kind": kind,
                            "scope": scope,
                            "source": source,
                            "schema": schema,
                        }
                    )
                    index.append({"apiVersion": f"{group}/{name}", "kind": kind, "file": out_name, "source": source})
    index.sort(key=lambda e: (e["apiVersion"], e["kind"]))
    files[INDEX_NAME] = _dump(index)
    return files


def write(files: dict[str, bytes], out_dir: Path) -> None:
    """Write the files and remove stale *.json files in out_dir."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for stale in out_dir.glob("*.json"):
        if stale.name not in files:
            stale.unlink()
    for name in sorted(files):
        target = out_dir / name
        if not target.exists() or target.read_bytes() != files[name]:
            target.write_bytes(files[name])


def compact_crds(crds_dir: Path, out_dir: Path) -> dict[str, int]:
    """Compact every CRD under crds_dir into out_dir; return {file name: size in bytes}."""
    files = build(crds_dir)
    write(files, out_dir)
    return {name: len(data) for name, data in sorted(files.items())}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--crds",
        type=Path,
        default=DEFAULT_CRDS,
        help="folder with karpenter/ and calico/ (default: %(default)s)",
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder (default: %(default)s)")
    args = parser.parse_args(argv)
    try:
        sizes = compact_crds(args.crds, args.out)
    except (CompactError, OSError, KeyError, yaml.YAMLError) as exc:
        print(f"compact_crds: {exc}", file=sys.stderr)
        return 1
    for name, size in sizes.items():
        print(f"{size:>9}  {name}")
    print(f"{sum(sizes.values()):>9}  total ({len(sizes)} files) in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
