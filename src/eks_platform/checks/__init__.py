"""`eksp check`: the linter of this architecture, for eks-platform's own render and for any user's
manifests. Library entry point: check(); rules live in checks/rules/, one file per rule."""

from __future__ import annotations

from collections.abc import Sequence

from eks_platform.checks.context import CheckContext
from eks_platform.checks.engine import Report, run
from eks_platform.checks.objects import KubeObject
from eks_platform.checks.rule import Rule
from eks_platform.checks.rules import RULES
from eks_platform.render import render
from eks_platform.render.bundle import Obj
from eks_platform.render.files import manifest_file_name
from eks_platform.render.workloads import MODELLED_FROM
from eks_platform.spec.instance_catalog import InstanceCatalog
from eks_platform.spec.loading import LoadedSpec


def platform_objects(manifests: Sequence[Obj], workloads: Sequence[Obj]) -> list[KubeObject]:
    objects = [
        KubeObject(doc=obj, origin=f"rendered {manifest_file_name(rank, obj)}") for rank, obj in enumerate(manifests)
    ]
    objects += [
        KubeObject(doc=obj, origin=f"modelled: {obj['metadata']['annotations'][MODELLED_FROM]}") for obj in workloads
    ]
    return objects


def check(
    loaded: LoadedSpec,
    *,
    catalog: InstanceCatalog,
    manifests: Sequence[KubeObject] = (),
    rules: Sequence[Rule] = RULES,
) -> Report:
    """Check the platform (its render and what its charts will run) together with the user's manifests.

    A user's object with the same group, kind, namespace and name as a platform object replaces it
    (e.g. the `helm template` output of a release replaces what eks-platform modelled of it)."""
    bundle = render(loaded.platform, catalog=catalog, strict=False)
    users = {obj.key for obj in manifests}
    objects = [obj for obj in platform_objects(bundle.manifests, bundle.workloads) if obj.key not in users]
    objects += list(manifests)
    ctx = CheckContext(platform=loaded.platform, bundle=bundle, catalog=catalog, objects=objects, source=loaded.source)
    return run(ctx, rules)


__all__ = ["RULES", "CheckContext", "KubeObject", "Report", "Rule", "check"]
