"""Read a platform spec from YAML: every error found, each with file, line, key path and fix."""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from eks_platform.errors import Loc, SpecError, SpecIssue
from eks_platform.spec import defaults as d
from eks_platform.spec.defaults import complete
from eks_platform.spec.instance_catalog import InstanceCatalog, load_catalog
from eks_platform.spec.model import Platform
from eks_platform.spec.validation import validate

REFERENCE_NAME = "reference.yaml"


@dataclass(frozen=True)
class SourceMap:
    """Where each key of the YAML document was written, to point errors at a line."""

    file: str
    lines: Mapping[Loc, int] = field(default_factory=dict)

    def line_of(self, loc: Loc) -> int | None:
        for end in range(len(loc), -1, -1):
            if loc[:end] in self.lines:
                return self.lines[loc[:end]]
        return None

    def locate(self, issue: SpecIssue) -> SpecIssue:
        line = issue.line if issue.line is not None else self.line_of(issue.loc)
        return issue.located(file=self.file, line=line)


@dataclass(frozen=True)
class LoadedSpec:
    platform: Platform
    source: SourceMap


def reference_text() -> str:
    """The embedded reference platform, with its comments."""
    return resources.files("eks_platform.spec").joinpath(REFERENCE_NAME).read_text(encoding="utf-8")


def load_reference(*, catalog: InstanceCatalog | None = None) -> LoadedSpec:
    return load_text(reference_text(), file=REFERENCE_NAME, catalog=catalog)


def load_text(
    text: str, *, file: str, catalog: InstanceCatalog | None = None, karpenter_api: str | None = None
) -> LoadedSpec:
    """Parse, type-check and validate a spec; raise SpecError listing every issue.

    karpenter_api overrides karpenter.api (eksp render --karpenter-api): the same platform, another API.
    """
    document, source, issues = _parse_yaml(text, file)
    if document is None:
        raise SpecError([source.locate(issue) for issue in issues])
    if karpenter_api is not None and isinstance(document.get("karpenter"), dict):
        document["karpenter"]["api"] = karpenter_api
    try:
        platform = Platform.model_validate(document)
    except ValidationError as error:
        issues += [_issue_from_pydantic(detail) for detail in error.errors()]
        raise SpecError([source.locate(issue) for issue in issues]) from None
    platform = complete(platform)
    issues += validate(platform, catalog=catalog or load_catalog())
    if issues:
        raise SpecError([source.locate(issue) for issue in issues])
    return LoadedSpec(platform=platform, source=source)


# --- YAML ----------------------------------------------------------------------------------------


def _parse_yaml(text: str, file: str) -> tuple[dict[str, Any] | None, SourceMap, list[SpecIssue]]:
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        document = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        problem = getattr(error, "problem", None) or str(error)
        issue = SpecIssue(loc=(), message=f"not valid YAML: {problem}", fix="fix the YAML syntax at that line")
        line = mark.line + 1 if mark is not None else None
        return None, SourceMap(file=file), [issue.located(file=file, line=line)]
    lines: dict[Loc, int] = {}
    issues: list[SpecIssue] = []
    if root is not None:
        lines[()] = root.start_mark.line + 1
        _index_lines(root, (), lines, issues)
    source = SourceMap(file=file, lines=lines)
    if not isinstance(document, dict):
        issues.append(
            SpecIssue(loc=(), message="the spec must be a YAML mapping", fix="start from `eksp init platform.yaml`")
        )
        return None, source, issues
    if issues:
        return None, source, issues
    return document, source, issues


def _index_lines(node: yaml.Node, loc: Loc, lines: dict[Loc, int], issues: list[SpecIssue]) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            child = (*loc, key)
            if key in seen:
                issues.append(SpecIssue(loc=child, message=f"key '{key}' is written twice", fix="keep one of them"))
            seen.add(key)
            lines[child] = key_node.start_mark.line + 1
            _index_lines(value_node, child, lines, issues)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            child = (*loc, index)
            lines[child] = item.start_mark.line + 1
            _index_lines(item, child, lines, issues)


# --- pydantic errors -> issues with fixes --------------------------------------------------------


def _issue_from_pydantic(detail: ErrorDetails) -> SpecIssue:
    loc: Loc = tuple(part for part in detail["loc"] if not _is_union_tag(part))
    kind = detail["type"]
    value = detail.get("input")
    ctx = detail.get("ctx", {})
    key = loc[-1] if loc else ""
    name = _key_name(loc)
    if kind == "extra_forbidden":
        allowed = _allowed_keys(loc[:-1])
        close = difflib.get_close_matches(str(key), allowed, n=1, cutoff=0.6)
        fix = f"did you mean '{close[0]}'?" if close else f"remove it; allowed keys: {', '.join(allowed)}"
        return SpecIssue(loc=loc, message=f"unknown key '{key}'", fix=fix)
    if kind == "missing":
        return SpecIssue(loc=loc, message="required key is missing", fix=f"add '{key}'")
    if kind == "literal_error":
        return SpecIssue(loc=loc, message=f"{value!r} is not allowed", fix=f"use one of {ctx.get('expected', '')}")
    if kind == "string_type" and key == "kubernetesVersion" and isinstance(value, float | int):
        return SpecIssue(
            loc=loc,
            message=f"{value!r} is a number, not a version",
            fix='quote it, e.g. kubernetesVersion: "1.30" (YAML reads 1.30 as the number 1.3)',
        )
    if kind == "string_pattern_mismatch":
        return SpecIssue(
            loc=loc, message=f"{value!r} has the wrong format", fix=_pattern_fix(loc, str(ctx.get("pattern", "")))
        )
    if kind.startswith("ip_v4"):
        return SpecIssue(
            loc=loc,
            message=f"{value!r} is not an IPv4 CIDR",
            fix="write a network with its host bits zero, like 10.0.0.0/16",
        )
    if kind == "too_short":
        least = ctx.get("min_length", 1)
        return SpecIssue(
            loc=loc,
            message=f"'{name}' is empty",
            fix="list at least one item" if least == 1 else f"list at least {least} items",
        )
    if kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        bound = {"greater_than_equal": ">=", "less_than_equal": "<=", "greater_than": ">", "less_than": "<"}[kind]
        limit = next(iter(ctx.values()), "")
        return SpecIssue(loc=loc, message=f"{value!r} is out of range", fix=f"use a value {bound} {limit}")
    if kind.endswith("_type"):
        expected = _TYPE_NAMES.get(kind.removesuffix("_type"), kind.removesuffix("_type"))
        got = (
            "nothing (null)"
            if value is None
            else f"{_TYPE_NAMES.get(type(value).__name__, type(value).__name__)} {value!r}"
        )
        if isinstance(key, int):
            fix = f"quote it: '{value}'" if expected == "string" else f"write each item of '{name}' as {_a(expected)}"
        else:
            fix = f"write '{name}' as {_a(expected)}"
        return SpecIssue(loc=loc, message=f"expected {_a(expected)}, got {got}", fix=fix)
    return SpecIssue(loc=loc, message=detail["msg"][0].lower() + detail["msg"][1:], fix="")


_TYPE_NAMES = {"str": "str", "model": "mapping", "dict": "mapping", "NoneType": "null"}


def _a(noun: str) -> str:
    return f"an {noun}" if noun[:1] in "aeiou" else f"a {noun}"


def _key_name(loc: Loc) -> str:
    """The nearest key the user wrote (not a list index)."""
    return next((str(part) for part in reversed(loc) if isinstance(part, str)), "")


_DNS_LABEL_FIX = "use lower-case letters, digits and '-', starting and ending with a letter or digit"
_PATTERN_FIXES: dict[Loc, str] = {
    ("cluster", "name"): (
        f"start with a letter; use letters, digits and '-', at most {d.MAX_CLUSTER_NAME} characters "
        "(the IAM role <name>-fargate-pod-execution must fit IAM's 64)"
    ),
    ("cluster", "region"): "use an AWS region name like us-east-1",
    ("cluster", "kubernetesVersion"): 'write the minor version as a string, like "1.33"',
    ("cluster", "vpc", "id"): "use a VPC id like vpc-0a1b2c3d4e5f60718",
    ("calico", "version"): "write a Calico version like v3.32.1",
    ("karpenter", "version"): "write a Karpenter version like 1.14.1 (api v1) or v0.31.5 (api v1alpha5)",
    ("karpenter", "nodeTemplate", "amiAlias"): "use bottlerocket@latest or bottlerocket@v1.26.0",
    ("registry", "prefix"): "write a registry host and path, like 123456789012.dkr.ecr.us-east-1.amazonaws.com/mirror",
}
_PATTERN_FIXES_BY_KEY = {
    "vpcId": "use a VPC id like vpc-0a1b2c3d4e5f60718",
    "privateSubnetIds": "use a subnet id like subnet-0a1b2c3d4e5f60711",
    "size": "write a whole number of GiB, like 20Gi",
    "principalArn": "use the ARN of an IAM role or user, like arn:aws:iam::123456789012:role/jenkins-tooling",
}


def _pattern_fix(loc: Loc, pattern: str) -> str:
    keys = tuple(part for part in loc if isinstance(part, str))
    if keys in _PATTERN_FIXES:
        return _PATTERN_FIXES[keys]
    if keys and keys[-1] in _PATTERN_FIXES_BY_KEY:
        return _PATTERN_FIXES_BY_KEY[keys[-1]]
    if pattern.startswith("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"):
        return _DNS_LABEL_FIX
    if keys and keys[-1] == "namespace":
        return _DNS_LABEL_FIX + " ('*' and '?' are wildcards)"
    return f"match {pattern}"


def _is_union_tag(part: str | int) -> bool:
    # pydantic puts the chosen union member into the loc ("str", "constrained-str", "literal['']" ...)
    return isinstance(part, str) and (
        part in {"str", "int", "constrained-str", "function-after", "none"} or part.startswith(("literal[", "lax-or-"))
    )


def _allowed_keys(loc: Loc) -> list[str]:
    model: Any = Platform
    for part in loc:
        if isinstance(part, int):
            continue
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            return []
        field_info = next(
            (f for name, f in model.model_fields.items() if (f.alias or name) == part),
            None,
        )
        if field_info is None:
            return []
        model = _unwrap(field_info.annotation)
    if isinstance(model, type) and issubclass(model, BaseModel):
        return sorted(f.alias or name for name, f in model.model_fields.items())
    return []


def _unwrap(annotation: Any) -> Any:
    """list[X] / X | None / Annotated[X, ...] -> X (the model a nested key belongs to)."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (list, typing.Union, types.UnionType):
            models = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
            annotation = models[0]
        else:
            return annotation
