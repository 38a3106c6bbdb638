"""One run of up, diff or down: the ports it uses (AWS, and the cluster side), what earlier steps
produced (stack outputs, the cluster), and the Step every part of the task tree is."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from eks_platform.apply.eks import EksReconciler
from eks_platform.apply.kube_ports import Helm, Kube
from eks_platform.apply.ports import Clock, ClusterState, Ec2, EksAccess, EksAddons
from eks_platform.apply.stacks import StackDeployer
from eks_platform.checks.objects import KubeObject
from eks_platform.errors import ApplyError
from eks_platform.render.bundle import Bundle
from eks_platform.spec.instance_catalog import InstanceCatalog
from eks_platform.spec.model import Platform

CLUSTER_TAG = "eks-platform.io/cluster"
DISCOVERY_TAG = "karpenter.sh/discovery"
BEFORE_CLUSTER = ("vpc", "kms", "iam")

Progress = Callable[[str], None]


@dataclass
class Aws:
    """The ports one run uses, built once at the edge (cli.py)."""

    stacks: StackDeployer
    eks: EksReconciler
    ec2: Ec2
    addons: EksAddons | None  # None: not available (the local emulator does not implement them)
    access: EksAccess | None = None  # None: not available (the local emulator does not implement them)
    not_emulated: Mapping[str, str] = field(default_factory=dict)
    id_map: Mapping[str, str] = field(default_factory=dict)  # the spec's ids -> the emulator's stand-ins


@dataclass
class ClusterSide:
    """How the cluster steps reach Kubernetes and Helm, built at the edge (cli.py). `connect` is called
    once the EKS cluster is known (its endpoint and CA), at most once per run."""

    connect: Callable[[ClusterState], tuple[Kube, Helm]]
    clock: Clock
    poll_seconds: float = 5.0
    api_timeout_seconds: float = 600.0  # a new cluster's endpoint answers a few minutes after ACTIVE
    ready_timeout_seconds: float = 900.0  # releases (helm --wait) and the Calico API server
    _ports: tuple[Kube, Helm] | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def ports(self, cluster: ClusterState | None) -> tuple[Kube, Helm] | None:
        """The cluster's Kubernetes and Helm ports; None while the cluster does not exist yet."""
        if cluster is None or cluster.status != "ACTIVE":
            return None
        with self._lock:
            if self._ports is None:
                self._ports = self.connect(cluster)
            return self._ports


@dataclass
class Run:
    platform: Platform
    bundle: Bundle
    aws: Aws
    progress: Progress
    outputs: dict[str, dict[str, str]] = field(default_factory=dict)  # stack short name -> outputs
    cluster: ClusterState | None = None
    workers: int = 4  # steps run at once; CloudFormation and EKS take calls on different resources in parallel
    # the cluster side (Kubernetes objects, Helm releases, pilots); None: skipped, for this reason
    cluster_side: ClusterSide | None = None
    no_cluster_side: str = "no Kubernetes access configured"
    api_ready: bool = False  # set by the "kubernetes api" step once the API server answers
    # the workloads of the spec's pilots that name `manifests`, read by the CLI (pilot name -> objects)
    pilot_workloads: Mapping[str, Sequence[KubeObject]] = field(default_factory=dict)
    catalog: InstanceCatalog | None = None  # for the pilots' fit
    _outputs_lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def name(self) -> str:
        return self.platform.cluster.name

    def stack_name(self, short: str) -> str:
        return f"{self.name}-{short}"

    @property
    def tags(self) -> dict[str, str]:
        return {**self.platform.cluster.tags, CLUSTER_TAG: self.name}

    def real_id(self, spec_id: str) -> str:
        return self.aws.id_map.get(spec_id, spec_id)

    def record(self, short: str, outputs: Mapping[str, str]) -> None:
        """A stack's outputs, for the steps after it (steps run in threads)."""
        with self._outputs_lock:
            self.outputs[short] = dict(outputs)

    def output(self, name: str, *, needed_by: str) -> str:
        with self._outputs_lock:
            found = [outputs[name] for outputs in self.outputs.values() if name in outputs]
        if found:
            return found[0]
        raise ApplyError(f"{needed_by} needs {name}, which no stack applied so far gives")

    def vpc_id(self) -> str:
        vpc = self.platform.cluster.vpc
        return self.real_id(vpc.id) if vpc.id else self.output("VpcId", needed_by="the VPC id")

    def subnet_ids(self) -> list[str]:
        vpc = self.platform.cluster.vpc
        if vpc.private_subnet_ids:
            return [self.real_id(s) for s in vpc.private_subnet_ids]
        return self.output("PrivateSubnetIds", needed_by="the private subnets").split(",")


class Step:
    after: frozenset[str] = frozenset()  # the names of the steps this one waits for; set by up_steps

    @property
    def name(self) -> str:
        raise NotImplementedError

    @property
    def changes(self) -> bool:
        """Whether the last plan found anything to do (tagging the subnets again is not a change)."""
        return False

    def plan(self, run: Run, *, dry_run: bool) -> list[str]:
        raise NotImplementedError

    def apply(self, run: Run) -> None:
        raise NotImplementedError
