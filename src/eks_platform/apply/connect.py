"""How eksp reaches a cluster, for up, diff, down, status and pilots.

By default straight from AWS, as `aws eks update-kubeconfig` would set it up but without touching the
user's kubeconfig: the endpoint and CA from DescribeCluster, a bearer token signed with the caller's AWS
credentials (eks_token.py), and for helm a private kubeconfig whose user runs `eksp token` (an exec
credential plugin, so helm's long --wait never outlives a token). With --context, kubectl's way instead:
that context of KUBECONFIG (or ~/.kube/config), for helm too.
"""

from __future__ import annotations

import contextlib
import json
import sys
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from eks_platform.apply.boto import clients
from eks_platform.apply.eks_token import eks_token
from eks_platform.apply.helm import HelmCli
from eks_platform.apply.kube import connect_eks, connect_kubeconfig
from eks_platform.apply.kube_ports import ChartRef, Helm, Kube, Obj, ReleaseState
from eks_platform.apply.ports import ClusterState
from eks_platform.errors import ApplyError

TOKEN_LIFETIME = timedelta(minutes=14)  # EKS accepts a token for 15 minutes
EXEC_API = "client.authentication.k8s.io/v1beta1"


def exec_credential(session: Any, cluster: str, *, now: datetime | None = None) -> dict[str, Any]:
    """What `eksp token` prints: a Kubernetes ExecCredential, as `aws eks get-token` prints it."""
    expires = (now or datetime.now(UTC)) + TOKEN_LIFETIME
    return {
        "kind": "ExecCredential",
        "apiVersion": EXEC_API,
        "spec": {},
        "status": {"expirationTimestamp": expires.strftime("%Y-%m-%dT%H:%M:%SZ"), "token": eks_token(session, cluster)},
    }


def helm_kubeconfig(cluster: ClusterState, *, region: str, profile: str | None) -> dict[str, Any]:
    """A kubeconfig for helm alone: the cluster's endpoint and CA, and `eksp token` as the credential plugin."""
    args = ["-m", "eks_platform", "token", "--cluster", cluster.name, "--region", region]
    if profile:
        args += ["--profile", profile]
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": cluster.name,
                "cluster": {"server": cluster.endpoint, "certificate-authority-data": cluster.certificate_authority},
            }
        ],
        "users": [
            {
                "name": "eksp",
                "user": {
                    "exec": {
                        "apiVersion": EXEC_API,
                        "command": sys.executable,
                        "args": args,
                        "interactiveMode": "Never",
                    }
                },
            }
        ],
        "contexts": [{"name": cluster.name, "context": {"cluster": cluster.name, "user": "eksp"}}],
        "current-context": cluster.name,
    }


class LazyHelm:
    """The Helm port, made on first use: `down`, `diff` of objects and pilots need no helm binary."""

    def __init__(self, make: Callable[[], Helm]) -> None:
        self._make = make
        self._helm: Helm | None = None
        self._lock = threading.Lock()

    def _port(self) -> Helm:
        with self._lock:
            if self._helm is None:
                self._helm = self._make()
            return self._helm

    def release(self, name: str, namespace: str) -> ReleaseState | None:
        return self._port().release(name, namespace)

    def upgrade_install(self, chart: ChartRef, values: Obj, *, timeout_seconds: int) -> ReleaseState:
        return self._port().upgrade_install(chart, values, timeout_seconds=timeout_seconds)

    def template(self, chart: ChartRef, values: Obj) -> list[Obj]:
        return self._port().template(chart, values)

    def uninstall(self, name: str, namespace: str, *, timeout_seconds: int) -> bool:
        return self._port().uninstall(name, namespace, timeout_seconds=timeout_seconds)


@dataclass
class Connector:
    """Builds the Kube and Helm ports for a cluster; the temp kubeconfig lives as long as `stack`."""

    session: Any
    region: str
    profile: str | None
    context: str | None
    kubeconfig: str | None
    stack: contextlib.ExitStack

    def __call__(self, cluster: ClusterState) -> tuple[Kube, Helm]:
        return self.kube(cluster), LazyHelm(lambda: self.helm(cluster))

    def kube(self, cluster: ClusterState) -> Kube:
        if self.context or self.kubeconfig:
            return connect_kubeconfig(self.kubeconfig, self.context)
        endpoint, ca = self._endpoint(cluster)
        return connect_eks(endpoint, ca, lambda: eks_token(self.session, cluster.name))

    def helm(self, cluster: ClusterState) -> Helm:
        if self.context or self.kubeconfig:
            return HelmCli(kubeconfig=self.kubeconfig, context=self.context)
        self._endpoint(cluster)
        folder = Path(self.stack.enter_context(tempfile.TemporaryDirectory(prefix="eksp-")))
        path = folder / "kubeconfig"
        path.write_text(yaml.safe_dump(helm_kubeconfig(cluster, region=self.region, profile=self.profile)))
        path.chmod(0o600)
        return HelmCli(kubeconfig=str(path))

    @staticmethod
    def _endpoint(cluster: ClusterState) -> tuple[str, str]:
        if not cluster.endpoint or not cluster.certificate_authority:
            raise ApplyError(f"EKS reports no endpoint or CA for cluster {cluster.name} yet; run the command again")
        return cluster.endpoint, cluster.certificate_authority


def credential_json(session: Any, cluster: str) -> str:
    return json.dumps(exec_credential(session, cluster))


def connector_for(
    cluster_name: str,
    stack: contextlib.ExitStack,
    *,
    profile: str | None,
    region: str | None,
    context: str | None,
    kubeconfig: str | None,
) -> tuple[Connector, ClusterState]:
    """How to reach a cluster that exists, and the cluster: through the kubeconfig context when one is named
    (no AWS call), else straight from AWS (DescribeCluster, then a signed token). `connector(cluster)` gives
    Kubernetes and Helm, `connector.kube(cluster)` Kubernetes alone (pilots need no helm)."""
    if context or kubeconfig:
        named = ClusterState(name=cluster_name, status="ACTIVE", endpoint_public=False, endpoint_private=True)
        return Connector(None, region or "", profile, context, kubeconfig, stack), named
    adapters = clients(profile=profile, region=region, endpoint_url=None)
    cluster = adapters.eks.cluster(cluster_name)
    if cluster is None:
        raise ApplyError(f"EKS cluster {cluster_name} does not exist in {adapters.region}; fix: run `eksp up` first")
    if cluster.status != "ACTIVE":
        raise ApplyError(f"EKS cluster {cluster_name} is {cluster.status}, not ACTIVE; run the command again later")
    return Connector(adapters.session, adapters.region, profile, context, kubeconfig, stack), cluster
