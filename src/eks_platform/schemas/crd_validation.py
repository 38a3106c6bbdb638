"""Validate rendered custom resources against the upstream CRD schemas, offline.

The schemas are the compact JSON files in ``eks_platform/schemas/crds`` (generated from the verbatim
upstream CRDs by ``scripts/compact_crds.py``; ``INDEX.json`` maps apiVersion + kind to a file).
Nothing but those package files is read.

Validation approximates what the Kubernetes API server does on *create* with strict field validation:

1. defaults from the schema are applied to a copy of the object (so a ``required`` field that has a
   default, like NodePool ``spec.disruption.consolidateAfter``, is satisfied as in a cluster);
2. the structural schema is turned into JSON Schema draft 2020-12 ("k8sify") and checked with
   ``jsonschema``: objects with ``properties`` and without ``x-kubernetes-preserve-unknown-fields``
   reject unknown fields, ``nullable: true`` admits null, ``x-kubernetes-int-or-string`` admits an
   integer or a string, ``x-kubernetes-list-type: set`` means unique items, ``list-type: map`` means
   unique ``x-kubernetes-list-map-keys``; formats ``cidr``, ``date-time`` and ``byte`` are checked
   (``int32``/``int64`` are not range-checked); ``metadata`` is only checked to be an object;
3. ``x-kubernetes-validations`` (CEL) rules are evaluated **only if the optional ``cel-python``
   package (module ``celpy``) is importable**; it is not a dependency of eks_platform. Without it,
   CEL rules are skipped silently (``CEL_AVAILABLE`` is False). With it, every rule is evaluated
   except transition rules (those that use ``oldSelf``, which the API server evaluates on update
   only). The Kubernetes CEL extensions the shipped rules use (``find``, ``split``) are provided,
   and ``==``/``!=`` between values of different types give false/true as in Kubernetes
   (heterogeneous equality) instead of an error. A rule that fails to evaluate is reported.

``status`` is not validated where the CRD has the status subresource (the API server ignores it on
create), and not every API-server check exists here (e.g. ``metadata`` contents, ``messageExpression``
and CEL cost limits are not evaluated).
"""

from __future__ import annotations

import base64
import binascii
import copy
import functools
import importlib
import ipaddress
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker, ValidationError, validators

__all__ = [
    "CEL_AVAILABLE",
    "SchemaError",
    "UnknownKind",
    "known_kinds",
    "validate_custom_resource",
]

_PACKAGE = "eks_platform.schemas"
_CRDS_DIR = "crds"
_INDEX = "INDEX.json"
_MAX_MESSAGE = 199
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
_OLD_SELF = re.compile(r"\boldSelf\b")


@dataclass(frozen=True)
class SchemaError:
    """One validation failure: where (``spec.requirements[0].values[1]``) and what."""

    path: str
    message: str


class UnknownKind(KeyError):
    """No schema is shipped for this apiVersion and kind."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "unknown kind"


# --------------------------------------------------------------------------- optional CEL

_celpy: Any
try:
    _celpy = importlib.import_module("celpy")
    _celtypes: Any = importlib.import_module("celpy.celtypes")
    _celeval: Any = importlib.import_module("celpy.evaluation")
except ImportError:  # cel-python is optional
    _celpy = None
    _celtypes = None
    _celeval = None

CEL_AVAILABLE: bool = _celpy is not None
"""True when ``cel-python`` is importable and CEL rules are evaluated."""


# --------------------------------------------------------------------------- package data


def _read_json(name: str) -> Any:
    data = resources.files(_PACKAGE).joinpath(_CRDS_DIR).joinpath(name).read_text(encoding="utf-8")
    return json.loads(data)


@functools.lru_cache(maxsize=1)
def _index() -> dict[tuple[str, str], str]:
    entries: list[dict[str, str]] = _read_json(_INDEX)
    return {(e["apiVersion"], e["kind"]): e["file"] for e in entries}


def known_kinds() -> frozenset[tuple[str, str]]:
    """Every (apiVersion, kind) that has a shipped schema."""
    return frozenset(_index())


@functools.lru_cache(maxsize=64)
def _raw_schema(api_version: str, kind: str) -> dict[str, Any]:
    try:
        file_name = _index()[(api_version, kind)]
    except KeyError:
        raise UnknownKind(f"no CRD schema for apiVersion={api_version!r} kind={kind!r}") from None
    doc: dict[str, Any] = _read_json(file_name)
    schema: dict[str, Any] = doc["schema"]
    return schema


# --------------------------------------------------------------------------- k8sify


def _k8sify_node(node: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "properties":
            out[key] = {name: _k8sify_node(sub) for name, sub in value.items()}
        elif key in ("items", "not") or (key == "additionalProperties" and isinstance(value, dict)):
            out[key] = _k8sify_node(value)
        elif key in ("anyOf", "allOf", "oneOf"):
            out[key] = [_k8sify_node(sub) for sub in value]
        elif key == "x-kubernetes-validations" and not CEL_AVAILABLE:
            continue
        else:
            out[key] = copy.deepcopy(value)

    if out.get("x-kubernetes-int-or-string") and "type" not in out and "anyOf" not in out:
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if out.get("x-kubernetes-embedded-resource"):
        props = out.setdefault("properties", {})
        props.setdefault("apiVersion", {"type": "string"})
        props.setdefault("kind", {"type": "string"})
        props.setdefault("metadata", {"type": "object"})
    if (
        out.get("type") == "object"
        and not out.get("x-kubernetes-preserve-unknown-fields")
        and "additionalProperties" not in out
    ):
        out["additionalProperties"] = False
    if out.get("nullable"):
        if isinstance(out.get("type"), str):
            out["type"] = [out["type"], "null"]
        elif "anyOf" in out:
            out["anyOf"] = [*out["anyOf"], {"type": "null"}]
        if "enum" in out and None not in out["enum"]:
            out["enum"] = [*out["enum"], None]
    if out.get("x-kubernetes-list-type") == "set":
        out["uniqueItems"] = True
    if out.get("x-kubernetes-list-type") != "map":
        out.pop("x-kubernetes-list-map-keys", None)
    return out


def k8sify(schema: Mapping[str, Any]) -> dict[str, Any]:
    """Turn a (compact) CRD structural schema into JSON Schema 2020-12 with API-server semantics."""
    out = _k8sify_node(schema)
    props = out.setdefault("properties", {})
    props["apiVersion"] = {"type": "string"}
    props["kind"] = {"type": "string"}
    props["metadata"] = {"type": "object"}
    out["type"] = "object"
    out.setdefault("additionalProperties", False)
    return out


# --------------------------------------------------------------------------- defaulting


def _plain(value: Any) -> Any:
    """Deep copy into plain dict/list/scalars (tuples become lists)."""
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _apply_defaults(value: Any, schema: Mapping[str, Any]) -> None:
    """Apply ``default`` values in place, top-down, like the API server's structural defaulting."""
    if isinstance(value, dict):
        props: Mapping[str, Any] = schema.get("properties") or {}
        for name, sub in props.items():
            if "default" in sub and (name not in value or (value[name] is None and not sub.get("nullable"))):
                value[name] = copy.deepcopy(sub["default"])
        extra = schema.get("additionalProperties")
        for name, item in value.items():
            if name in props:
                _apply_defaults(item, props[name])
            elif isinstance(extra, Mapping):
                _apply_defaults(item, extra)
    elif isinstance(value, list):
        items = schema.get("items")
        if isinstance(items, Mapping):
            for item in value:
                _apply_defaults(item, items)


# --------------------------------------------------------------------------- CEL (optional)


def _same_kind(a: Any, b: Any) -> bool:
    numbers = (_celtypes.IntType, _celtypes.UintType, _celtypes.DoubleType)
    if isinstance(a, numbers) and isinstance(b, numbers):
        return True
    if isinstance(a, _celtypes.BoolType) or isinstance(b, _celtypes.BoolType):
        return isinstance(a, _celtypes.BoolType) and isinstance(b, _celtypes.BoolType)
    return type(a) is type(b) or a is None or b is None


def _cel_eq(a: Any, b: Any) -> Any:
    if not _same_kind(a, b):
        return _celtypes.BoolType(False)
    return _celeval.bool_eq(a, b)


def _cel_ne(a: Any, b: Any) -> Any:
    if not _same_kind(a, b):
        return _celtypes.BoolType(True)
    return _celeval.bool_ne(a, b)


def _cel_find(text: Any, pattern: Any) -> Any:
    match = re.search(str(pattern), str(text))
    return _celtypes.StringType(match.group(0) if match else "")


def _cel_split(text: Any, separator: Any, limit: Any = None) -> Any:
    value, sep = str(text), str(separator)
    if limit is None or int(limit) < 0:
        parts = value.split(sep)
    elif int(limit) == 0:
        parts = []
    else:
        parts = value.split(sep, int(limit) - 1)
    return _celtypes.ListType([_celtypes.StringType(p) for p in parts])


def _cel_lower(text: Any) -> Any:
    return _celtypes.StringType(str(text).lower())


def _cel_upper(text: Any) -> Any:
    return _celtypes.StringType(str(text).upper())


@functools.lru_cache(maxsize=1024)
def _cel_program(rule: str) -> Any:
    env = _celpy.Environment()
    functions = {
        "_==_": _cel_eq,
        "_!=_": _cel_ne,
        "find": _cel_find,
        "split": _cel_split,
        "lowerAscii": _cel_lower,
        "upperAscii": _cel_upper,
    }
    return env.program(env.compile(rule), functions=functions)


_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "boolean": (bool,),
    "number": (int, float),
    "integer": (int,),
}


def _matches_type(instance: Any, schema: Mapping[str, Any]) -> bool:
    declared = schema.get("type")
    if not isinstance(declared, str):
        return True
    if declared in ("number", "integer") and isinstance(instance, bool):
        return False
    return isinstance(instance, _JSON_TYPES.get(declared, (object,)))


def _field_path(field_path: Any) -> list[str | int]:
    """Parse a rule's simple ``fieldPath`` (``.a.b`` / ``.a['b']`` / ``.a[0]``) into steps."""
    steps: list[str | int] = []
    if not isinstance(field_path, str):
        return steps
    for name, key, index in re.findall(r"\.([A-Za-z_][A-Za-z0-9_-]*)|\['([^']*)'\]|\[(\d+)\]", field_path):
        steps.append(int(index) if index else (name or key))
    return steps


def _x_validations(validator: Any, rules: Any, instance: Any, schema: Mapping[str, Any]) -> Iterator[Any]:
    if not CEL_AVAILABLE or not _matches_type(instance, schema):
        return
    activation: dict[str, Any] | None = None
    for rule in rules:
        expr = rule.get("rule", "")
        if not expr or _OLD_SELF.search(expr):
            continue  # transition rules only run on update
        message = rule.get("message") or f"failed rule: {expr}"
        where = _field_path(rule.get("fieldPath"))
        if activation is None:
            activation = {"self": _celpy.json_to_cel(instance)}
        try:
            result = _cel_program(expr).evaluate(activation)
        except Exception as exc:  # any evaluation failure is a rule failure, as in the API server
            yield ValidationError(f"{message} (CEL evaluation error: {_first_line(exc)})", path=where)
            continue
        if not isinstance(result, _celtypes.BoolType):
            yield ValidationError(f"{message} (CEL evaluation error: {_first_line(result)})", path=where)
        elif not bool(result):
            yield ValidationError(message, path=where)


def _first_line(value: object) -> str:
    text = str(value).strip().splitlines()
    return text[0] if text else type(value).__name__


# --------------------------------------------------------------------------- list-map keys, formats


def _list_map_keys(validator: Any, keys: Any, instance: Any, schema: Mapping[str, Any]) -> Iterator[Any]:
    if not isinstance(instance, list) or not isinstance(keys, list):
        return
    seen: dict[str, int] = {}
    for index, item in enumerate(instance):
        if not isinstance(item, dict):
            continue
        ident = json.dumps([item.get(k) for k in keys], sort_keys=True)
        if ident in seen:
            described = ", ".join(f"{k}={item.get(k)!r}" for k in keys)
            message = f"Duplicate value: {{{described}}} (same keys as [{seen[ident]}])"
            yield ValidationError(message, path=[index])
        else:
            seen[ident] = index


_FORMATS: Any = FormatChecker(formats=())


def _is_cidr(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if "/" not in value:
        return False
    ipaddress.ip_network(value, strict=False)
    return True


def _is_date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if len(value) < 20 or value[10] not in "Tt":
        return False
    datetime.fromisoformat(value.replace("z", "Z"))
    return True


def _is_byte(value: object) -> bool:
    if not isinstance(value, str):
        return True
    base64.b64decode(value, validate=True)
    return True


_FORMATS.checks("cidr", raises=ValueError)(_is_cidr)
_FORMATS.checks("date-time", raises=ValueError)(_is_date_time)
_FORMATS.checks("byte", raises=(binascii.Error, ValueError))(_is_byte)

_Validator: Any = validators.extend(
    Draft202012Validator,
    {"x-kubernetes-validations": _x_validations, "x-kubernetes-list-map-keys": _list_map_keys},
)


@functools.lru_cache(maxsize=64)
def _validator(api_version: str, kind: str) -> Any:
    return _Validator(k8sify(_raw_schema(api_version, kind)), format_checker=_FORMATS)


# --------------------------------------------------------------------------- errors


def format_path(steps: Sequence[str | int]) -> str:
    """``["spec", "requirements", 0, "values", 1]`` -> ``spec.requirements[0].values[1]``."""
    out = ""
    for step in steps:
        if isinstance(step, int):
            out += f"[{step}]"
        elif _IDENT.match(step):
            out += f".{step}" if out else step
        else:
            out += f"[{step}]"
    return out


def _shorten(message: str) -> str:
    message = " ".join(message.split())
    if len(message) <= _MAX_MESSAGE:
        return message
    return message[: _MAX_MESSAGE - 3] + "..."


def _convert(error: Any) -> Iterator[SchemaError]:
    steps: list[str | int] = list(error.absolute_path)
    instance = error.instance
    if error.validator == "required" and isinstance(instance, dict):
        for name in error.validator_value:
            if name not in instance:
                yield SchemaError(format_path([*steps, name]), "Required value")
        return
    closed = error.validator == "additionalProperties" and error.validator_value is False
    if closed and isinstance(instance, dict):
        known = error.schema.get("properties") or {}
        for name in instance:
            if name not in known:
                yield SchemaError(format_path([*steps, name]), f'unknown field "{name}"')
        return
    yield SchemaError(format_path(steps), _shorten(error.message))


def validate_custom_resource(obj: Mapping[str, Any]) -> list[SchemaError]:
    """Validate a custom resource against its shipped CRD schema; return the errors (empty if valid).

    Raises ``UnknownKind`` (a ``KeyError``) when no schema is shipped for ``obj["apiVersion"]``,
    ``obj["kind"]``.
    """
    api_version = obj.get("apiVersion")
    kind = obj.get("kind")
    if not isinstance(api_version, str) or not isinstance(kind, str):
        raise UnknownKind(f"object has no string apiVersion/kind: apiVersion={api_version!r} kind={kind!r}")
    validator = _validator(api_version, kind)
    instance = _plain(obj)
    _apply_defaults(instance, _raw_schema(api_version, kind))
    found: dict[SchemaError, bool] = {}  # error -> is a type error
    for error in validator.iter_errors(instance):
        for item in _convert(error):
            found[item] = found.get(item, False) or error.validator == "type"
    # A value of the wrong type also fails its enum/pattern/...: report only the type error there.
    mistyped = {e.path for e, is_type in found.items() if is_type}
    kept = [e for e, is_type in found.items() if is_type or e.path not in mistyped]
    return sorted(kept, key=lambda e: (e.path, e.message))
