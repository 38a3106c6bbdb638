"""Every rendered custom resource validates against its upstream CRD schema; every core object
against the Kubernetes OpenAPI schema (kubernetes-validate, strict)."""

from __future__ import annotations

import kubernetes_validate
import pytest
from tests.render.helpers import reference_bundle

from eks_platform.schemas.crd_validation import known_kinds, validate_custom_resource

CORE_API_VERSIONS = {"v1", "apps/v1", "rbac.authorization.k8s.io/v1", "policy/v1", "storage.k8s.io/v1"}
# Not in ../shared/crds: applied as a partial server-side patch of the operator's own object.
NO_UPSTREAM_SCHEMA = {("projectcalico.org/v3", "KubeControllersConfiguration")}


def _objects(api: str) -> list[dict]:  # type: ignore[type-arg]
    return list(reference_bundle(api).manifests)


@pytest.mark.parametrize("api", ["v1", "v1alpha5"])
def test_every_custom_resource_matches_its_crd(api: str) -> None:
    checked = 0
    for obj in _objects(api):
        key = (obj["apiVersion"], obj["kind"])
        if obj["apiVersion"] in CORE_API_VERSIONS or key in NO_UPSTREAM_SCHEMA:
            continue
        assert key in known_kinds(), f"no CRD schema for {key}"
        errors = validate_custom_resource(obj)
        assert errors == [], f"{obj['kind']}/{obj['metadata']['name']}: {errors}"
        checked += 1
    assert checked >= 10


@pytest.mark.parametrize("api", ["v1", "v1alpha5"])
def test_every_core_object_matches_the_kubernetes_schema(api: str) -> None:
    core = [o for o in _objects(api) if o["apiVersion"] in CORE_API_VERSIONS]
    assert core, "the reference renders namespaces"
    for obj in core:
        kubernetes_validate.validate(obj, "1.33", strict=True)


def test_the_validator_would_catch_a_broken_render() -> None:
    pool = next(o for o in _objects("v1") if o["kind"] == "NodePool")
    broken = {
        **pool,
        "spec": {**pool["spec"], "disruption": {**pool["spec"]["disruption"], "consolidationPolicy": "Sometimes"}},
    }
    assert [e.path for e in validate_custom_resource(broken)] == ["spec.disruption.consolidationPolicy"]
    namespace = next(o for o in _objects("v1") if o["kind"] == "Namespace")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate({**namespace, "spec": {"finalizerz": []}}, "1.33", strict=True)
