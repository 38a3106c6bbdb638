"""Everything a rule may read, built once per run: the platform, its render, every object, and the
indexes rules share (pod templates, pools, where each pod lands, Service backends)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property

from eks_platform.checks.finding import ObjectRef
from eks_platform.checks.network import Where, classify
from eks_platform.checks.objects import KubeObject
from eks_platform.checks.pods import PodTemplate, pod_templates
from eks_platform.checks.scheduling import Pool, node_pools
from eks_platform.errors import Loc, SpecIssue
from eks_platform.render.bundle import Bundle
from eks_platform.spec.instance_catalog import InstanceCatalog
from eks_platform.spec.loading import SourceMap
from eks_platform.spec.model import Platform


@dataclass(eq=False)
class CheckContext:
    platform: Platform
    bundle: Bundle
    catalog: InstanceCatalog
    objects: Sequence[KubeObject]
    source: SourceMap = field(default_factory=lambda: SourceMap(file="platform.yaml"))
    _where: dict[int, Where] = field(default_factory=dict)

    # --- the spec ------------------------------------------------------------------------------

    def spec_ref(self, loc: Loc) -> ObjectRef:
        located = self.source.locate(SpecIssue(loc=loc, message=""))
        return ObjectRef(
            kind="Platform", name=self.platform.cluster.name, file=located.file, line=located.line, origin="spec"
        )

    # --- objects -------------------------------------------------------------------------------

    @cached_property
    def by_kind(self) -> Mapping[str, list[KubeObject]]:
        index: dict[str, list[KubeObject]] = defaultdict(list)
        for obj in self.objects:
            index[obj.kind].append(obj)
        return index

    def of_kind(self, *kinds: str) -> list[KubeObject]:
        return [obj for kind in kinds for obj in self.by_kind.get(kind, [])]

    @cached_property
    def templates(self) -> list[PodTemplate]:
        return list(pod_templates(self.objects))

    @cached_property
    def templates_by_namespace(self) -> Mapping[str, list[PodTemplate]]:
        index: dict[str, list[PodTemplate]] = defaultdict(list)
        for template in self.templates:
            index[template.namespace].append(template)
        return index

    @cached_property
    def pools(self) -> list[Pool]:
        return node_pools(self.objects, self.catalog)

    def pool(self, name: str) -> Pool | None:
        return next((pool for pool in self.pools if pool.name == name), None)

    def where(self, template: PodTemplate) -> Where:
        key = id(template)
        if key not in self._where:
            self._where[key] = classify(template, platform=self.platform, pools=self.pools)
        return self._where[key]

    @cached_property
    def services(self) -> Mapping[tuple[str, str], KubeObject]:
        return {(obj.namespace, obj.name): obj for obj in self.of_kind("Service") if obj.group == ""}

    def backends(self, namespace: str, service: str) -> list[PodTemplate] | None:
        """The pod templates behind a Service; None when the Service is not among the objects checked
        or has no selector (its endpoints are then not ours to resolve)."""
        obj = self.services.get((namespace, service))
        if obj is None:
            return None
        selector = obj.spec.get("selector")
        if not isinstance(selector, Mapping) or not selector:
            return None
        return [
            template
            for template in self.templates_by_namespace.get(namespace, [])
            if all(template.labels.get(k) == v for k, v in selector.items())
        ]
