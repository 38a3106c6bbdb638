from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence

from eks_platform.checks.context import CheckContext
from eks_platform.checks.finding import Finding, Severity
from eks_platform.checks.objects import get
from eks_platform.checks.rule import Rule
from eks_platform.checks.rules.karpenter_common import AWS_GROUP, effective_types, node_class_ref, node_classes
from eks_platform.checks.scheduling import Pool
from eks_platform.spec.instance_catalog import InstanceCatalog

MAX_PODS = 110  # what eks-platform renders: the kubelet's default, room enough in a /26 Calico block


class Ep406MaxPodsUnset(Rule):
    id = "EP406"
    severity = Severity.error
    title = "Nodes set maxPods explicitly: under Calico the ENI-based pod limit is wrong"
    fix = f"set maxPods (eks-platform renders {MAX_PODS})"
    url = "https://docs.tigera.io/calico/latest/getting-started/kubernetes/managed-public-cloud/eks"

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        users: dict[str, list[Pool]] = defaultdict(list)  # EC2NodeClass name -> the v1 pools that use it
        for pool in ctx.pools:
            if pool.api == "v1alpha5":
                if get(pool.obj.spec, "kubeletConfiguration", "maxPods") is None:
                    yield self.on_object(
                        pool.obj,
                        ("spec", "kubeletConfiguration", "maxPods"),
                        f"Provisioner {pool.name} sets no kubeletConfiguration.maxPods: "
                        f"{_eni_limit([pool], ctx.catalog)}",
                        f"set spec.kubeletConfiguration.maxPods: {MAX_PODS}",
                    )
            elif pool.obj.api_version == "karpenter.sh/v1beta1":  # kubelet still lived on the NodePool
                if get(pool.obj.doc, "spec", "template", "spec", "kubelet", "maxPods") is None:
                    yield self.on_object(
                        pool.obj,
                        ("spec", "template", "spec", "kubelet", "maxPods"),
                        f"NodePool {pool.name} (v1beta1) sets no kubelet.maxPods: {_eni_limit([pool], ctx.catalog)}",
                        f"set spec.template.spec.kubelet.maxPods: {MAX_PODS}",
                    )
            else:
                ref = node_class_ref(pool)
                if ref is not None and ref.name and ref.kind == "EC2NodeClass" and ref.group == AWS_GROUP:
                    users[ref.name].append(pool)
        for name, node_class in sorted(node_classes(ctx, "EC2NodeClass").items()):
            pools = users.get(name)
            if not pools or get(node_class.spec, "kubelet", "maxPods") is not None:
                continue
            names = ", ".join(pool.name for pool in pools)
            yield self.on_object(
                node_class,
                ("spec", "kubelet", "maxPods"),
                f"EC2NodeClass {name} (used by NodePool {names}) sets no kubelet.maxPods: "
                f"{_eni_limit(pools, ctx.catalog)}",
                f"set spec.kubelet.maxPods: {MAX_PODS}",
            )


def _eni_limit(pools: Sequence[Pool], catalog: InstanceCatalog) -> str:
    """Why it matters, with the lowest ENI limit among the pools' instance types."""
    types = [t for pool in pools for t in effective_types(pool, catalog) if t.eni_max_pods > 0]
    example = min(types, key=lambda t: (t.eni_max_pods, t.name), default=catalog.get("t3.2xlarge"))
    limit = f" (as low as {example.eni_max_pods} pods, on {example.name})" if example is not None else ""
    return (
        f"Karpenter and the kubelet then cap pods per node at the ENI limit{limit}, although Calico overlay "
        "pods use no ENI IPs: nodes fill up early and Karpenter launches more of them than needed"
    )
