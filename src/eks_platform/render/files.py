"""A Bundle as files: manifests/ in apply order, helm/<release>/, aws/ (stacks/: CloudFormation templates),
and an index.
Pure: returns {relative path: text}; the CLI writes them. Output is deterministic."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import yaml

from eks_platform.render.bundle import Bundle, Obj


class _Dumper(yaml.SafeDumper):
    pass


def _str_presenter(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    style = "|" if "\n" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_Dumper.add_representer(str, _str_presenter)


def to_yaml(data: Any) -> str:
    return yaml.dump(data, Dumper=_Dumper, sort_keys=True, default_flow_style=False, width=120)


def to_json(data: Any) -> str:
    return json.dumps(data, indent=2, sort_keys=True) + "\n"


def manifest_file_name(index: int, obj: Obj) -> str:
    meta = obj["metadata"]
    namespace = f"{meta['namespace']}." if meta.get("namespace") else ""
    return f"manifests/{index:03d}-{obj['kind'].lower()}-{namespace}{meta['name']}.yaml"


def bundle_files(bundle: Bundle) -> dict[str, str]:
    files: dict[str, str] = {}
    for rank, obj in enumerate(bundle.manifests):
        files[manifest_file_name(rank, obj)] = to_yaml(obj)
    for position, release in enumerate(bundle.releases):
        base = f"helm/{position:02d}-{release.name}"
        files[f"{base}/release.yaml"] = to_yaml(
            {
                "name": release.name,
                "namespace": release.namespace,
                "chart": release.chart,
                "repo": release.repo,
                "version": release.version,
                "stage": release.stage,
                "method": release.method,
                "awsInputs": dict(release.aws_inputs),
            }
        )
        files[f"{base}/values.yaml"] = to_yaml(release.values)
    for name, data in bundle.aws.items():
        files[f"aws/{name}.json"] = to_json(data)
    for short, template in bundle.stacks.items():
        files[f"aws/stacks/{short}.json"] = to_json(template)
    files["placement.json"] = to_json(summary_rows(bundle))
    # What the charts will run, as modelled for `eksp check` (not applied; `helm template` is the real thing).
    files["modelled-workloads.yaml"] = "---\n".join(to_yaml(obj) for obj in bundle.workloads)
    index = {
        path: {"sha256": hashlib.sha256(text.encode()).hexdigest(), "bytes": len(text.encode())}
        for path, text in sorted(files.items())
    }
    files["index.json"] = to_json({"files": index})
    return files


def summary_rows(bundle: Bundle) -> list[dict[str, Any]]:
    """Every component: where it runs, its network, its ports (the `eksp render` table)."""
    rows = []
    for placement in bundle.placement.placements:
        component = placement.component
        if placement.runs_on == "fargate":
            where = f"Fargate ({placement.fargate_profile})"
        elif component.workload == "DaemonSet":
            where = "EC2, every node"
        else:
            where = f"EC2 ({','.join(placement.pools)})"
        rows.append(
            {
                "component": component.name,
                "namespace": component.namespace,
                "kind": component.workload,
                "runsOn": placement.runs_on,
                "where": where,
                "network": placement.network,
                "ports": [f"{p.number}/{p.protocol.lower()}" for p in placement.ports if not p.loopback_only],
                "calledByApiServer": [f"{c.kind} {c.name}" for c in component.api_server_calls],
            }
        )
    return rows
