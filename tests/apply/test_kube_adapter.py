"""LightkubeKube over real HTTP: kmock's Kubernetes emulator, served on a local port from a background thread
(kmock is aiohttp-based; its pytest fixture is async, so a sync test would block the loop it runs on).

What kmock does: API discovery of declared resources (/api/v1, /apis/<group>/<version>), /version, get,
list, delete and watch of stored objects, canned error responses, and a record of every request.
What kmock does not do, and how these tests cope:
- server-side apply: it merges a PATCH into a stored object and answers 404 for a missing one, so
  `_ServerSideApply` creates the object first; dryRun is ignored (stored anyway), so dry runs are checked
  on the request the server received, not on the stored state;
- label selectors: ignored (every object of the namespace is listed), so they too are checked on the request;
- a watch's timeoutSeconds: ignored (the stream never ends), which is what makes the client-side deadline
  of `watch` observable.
TLS with the CA from DescribeCluster and the EKS token's refresh are tested against a tiny hand-written
HTTPS `http.server`, since kmock's server has no TLS option.
"""

from __future__ import annotations

import asyncio
import base64
import datetime
import http.server
import ipaddress
import json
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import kmock
import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from eks_platform.apply.kube import LightkubeKube, connect_eks, connect_kubeconfig
from eks_platform.apply.kube_ports import ObjectRef
from eks_platform.errors import KubeError, KubeUnreachable, UsageError

APPLY_PATCH = "application/apply-patch+yaml"
CONFIGMAP = ("v1", "ConfigMap")
NODEPOOL = ("karpenter.sh/v1", "NodePool")
CALICO_POLICY = ("projectcalico.org/v3", "NetworkPolicy")


class _ServerSideApply(kmock.KubernetesEmulator):
    """kmock, plus the one thing of server-side apply it lacks: a PATCH to a missing object creates it."""

    async def _handle(self, request: kmock.Request) -> Any:
        if request.method == kmock.method.PATCH and request.headers.get("Content-Type") == APPLY_PATCH:
            key = (request.resource, request.namespace, request.name)
            if key not in self.objects:
                self.objects[key] = {}  # kmock then merges the applied object into it
            elif self.objects[key].deleted:
                self.objects[key].create({})
        return await super()._handle(request)


@dataclass
class FakeApi:
    handler: _ServerSideApply
    url: str

    def declare(self, api_version: str, plural: str, kind: str, *, namespaced: bool) -> None:
        self.handler.resources[f"{api_version}/{plural}"] = kmock.ResourceInfo(
            kind=kind, namespaced=namespaced, verbs={"get", "list", "watch", "patch", "delete"}
        )

    def store(self, api_version: str, plural: str, namespace: str | None, obj: dict[str, Any]) -> None:
        group, _, version = api_version.rpartition("/")
        self.handler.objects[kmock.resource(group, version, plural), namespace, obj["metadata"]["name"]] = obj

    def stored(self, api_version: str, plural: str, namespace: str | None, name: str) -> dict[str, Any] | None:
        group, _, version = api_version.rpartition("/")
        key = (kmock.resource(group, version, plural), namespace, name)
        if key not in self.handler.objects or self.handler.objects[key].deleted:  # kmock's view has no .get()
            return None
        return dict(self.handler.objects[key].raw)

    def requests(self, method: str | None = None) -> list[kmock.Request]:
        return [request for request in list(self.handler) if method is None or request.method == method]


@pytest.fixture
def api() -> Iterator[FakeApi]:
    started = threading.Event()
    box: dict[str, Any] = {}

    async def serve() -> None:
        async with _ServerSideApply() as handler, kmock.Server(handler) as server:
            box.update(api=FakeApi(handler, str(server.url).rstrip("/")), loop=asyncio.get_running_loop())
            box["stop"] = asyncio.Event()
            started.set()
            await box["stop"].wait()

    thread = threading.Thread(target=asyncio.run, args=(serve(),), daemon=True)
    thread.start()
    assert started.wait(10), "kmock did not start"
    yield box["api"]
    box["loop"].call_soon_threadsafe(box["stop"].set)
    thread.join(10)


def write_kubeconfig(path: Path, server: str, *, context: str = "test", token: str = "t0ken") -> Path:
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": context,
                "clusters": [{"name": f"{context}-cluster", "cluster": {"server": server}}],
                "contexts": [
                    {"name": context, "context": {"cluster": f"{context}-cluster", "user": f"{context}-user"}}
                ],
                "users": [{"name": f"{context}-user", "user": {"token": token}}],
            }
        )
    )
    return path


@pytest.fixture
def kube(api: FakeApi, tmp_path: Path) -> Iterator[LightkubeKube]:
    client = connect_kubeconfig(str(write_kubeconfig(tmp_path / "config", api.url)))
    yield client
    client.close()


def configmap(name: str, namespace: str, **data: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": namespace}, "data": data}


# --- discovery -----------------------------------------------------------------------------------


def test_discovery_gives_the_plural_and_scope_of_crd_kinds(api: FakeApi, kube: LightkubeKube) -> None:
    api.declare("karpenter.sh/v1", "nodepools", "NodePool", namespaced=False)
    api.declare("projectcalico.org/v3", "networkpolicies", "NetworkPolicy", namespaced=True)
    api.store("karpenter.sh/v1", "nodepools", None, {"metadata": {"name": "pilot-a"}, "spec": {"weight": 10}})
    api.store("projectcalico.org/v3", "networkpolicies", "calico-system", {"metadata": {"name": "deny"}})

    pool = kube.get(ObjectRef(*NODEPOOL, "pilot-a"))
    policy = kube.get(ObjectRef(*CALICO_POLICY, "deny", "calico-system"))
    kube.get(ObjectRef(*NODEPOOL, "pilot-b"))

    assert pool is not None and pool["spec"] == {"weight": 10}
    assert policy is not None and policy["metadata"]["name"] == "deny"
    paths = [request.url.path for request in api.requests("GET")]
    assert paths == [
        "/apis/karpenter.sh/v1",  # once: cached per group-version
        "/apis/karpenter.sh/v1/nodepools/pilot-a",  # cluster-scoped: no namespace in the path
        "/apis/projectcalico.org/v3",
        "/apis/projectcalico.org/v3/namespaces/calico-system/networkpolicies/deny",
        "/apis/karpenter.sh/v1/nodepools/pilot-b",
    ]


def test_an_unknown_kind_is_absent_and_cannot_be_applied(api: FakeApi, kube: LightkubeKube) -> None:
    ref = ObjectRef(*NODEPOOL, "pilot-a")

    assert kube.get(ref) is None
    assert not kube.served(*NODEPOOL)
    assert kube.list(*NODEPOOL) == []
    assert kube.delete(ref) is False
    assert list(kube.watch(*NODEPOOL, timeout_seconds=5)) == []
    with pytest.raises(
        KubeError, match=r"does not know the kind NodePool \(karpenter.sh/v1\): its CRD is not installed"
    ):
        kube.apply({"apiVersion": "karpenter.sh/v1", "kind": "NodePool", "metadata": {"name": "pilot-a"}})


def test_a_kind_installed_after_a_miss_is_found(api: FakeApi, kube: LightkubeKube) -> None:
    assert kube.get(ObjectRef(*NODEPOOL, "pilot-a")) is None

    api.declare("karpenter.sh/v1", "nodepools", "NodePool", namespaced=False)  # the CRD gets installed
    api.store("karpenter.sh/v1", "nodepools", None, {"metadata": {"name": "pilot-a"}})

    assert kube.get(ObjectRef(*NODEPOOL, "pilot-a")) is not None
    assert kube.served(*NODEPOOL)


# --- apply, get, list, delete --------------------------------------------------------------------


def test_apply_is_a_forced_server_side_apply_that_creates_then_updates(api: FakeApi, kube: LightkubeKube) -> None:
    api.declare("v1", "configmaps", "ConfigMap", namespaced=True)

    created = kube.apply(configmap("settings", "apps", mode="a"))
    updated = kube.apply(configmap("settings", "apps", mode="b"))

    assert created["data"] == {"mode": "a"}
    assert updated["data"] == {"mode": "b"}
    assert api.stored("v1", "configmaps", "apps", "settings") == configmap("settings", "apps", mode="b")
    patches = api.requests("PATCH")
    assert [request.url.path for request in patches] == ["/api/v1/namespaces/apps/configmaps/settings"] * 2
    for request in patches:
        assert request.headers["Content-Type"] == APPLY_PATCH
        assert request.params == {"fieldManager": "eks-platform", "force": "true"}
    assert patches[0].data == configmap("settings", "apps", mode="a")


def test_a_dry_run_apply_asks_the_server_not_to_store(api: FakeApi, kube: LightkubeKube) -> None:
    api.declare("karpenter.sh/v1", "nodepools", "NodePool", namespaced=False)

    kube.apply({"apiVersion": "karpenter.sh/v1", "kind": "NodePool", "metadata": {"name": "p"}}, dry_run=True)

    (request,) = api.requests("PATCH")
    assert request.url.path == "/apis/karpenter.sh/v1/nodepools/p"
    assert request.params == {"fieldManager": "eks-platform", "force": "true", "dryRun": "All"}


def test_get_of_a_missing_object_is_none(api: FakeApi, kube: LightkubeKube) -> None:
    api.declare("v1", "configmaps", "ConfigMap", namespaced=True)
    api.store("v1", "configmaps", "apps", configmap("other", "apps"))

    assert kube.get(ObjectRef(*CONFIGMAP, "settings", "apps")) is None
    assert kube.get(ObjectRef(*CONFIGMAP, "other", "apps")) == configmap("other", "apps")


def test_list_sends_the_label_selector_and_names_the_kind_of_each_item(api: FakeApi, kube: LightkubeKube) -> None:
    api.declare("v1", "configmaps", "ConfigMap", namespaced=True)
    for name, namespace in [("a", "apps"), ("b", "apps"), ("c", "kube-system")]:
        # as a real API server lists them: items without apiVersion and kind
        api.store("v1", "configmaps", namespace, {"metadata": {"name": name, "namespace": namespace}})

    in_apps = kube.list(*CONFIGMAP, namespace="apps", labels="app.kubernetes.io/managed-by=eks-platform")
    everywhere = kube.list(*CONFIGMAP)

    assert sorted(item["metadata"]["name"] for item in in_apps) == ["a", "b"]
    assert sorted(item["metadata"]["name"] for item in everywhere) == ["a", "b", "c"]
    assert {(item["apiVersion"], item["kind"]) for item in everywhere} == {CONFIGMAP}
    first, second = [request for request in api.requests("GET") if request.url.path.endswith("/configmaps")]
    assert first.url.path == "/api/v1/namespaces/apps/configmaps"
    assert first.params["labelSelector"] == "app.kubernetes.io/managed-by=eks-platform"
    assert second.url.path == "/api/v1/configmaps" and "labelSelector" not in second.params


def test_list_follows_continue_tokens(api: FakeApi, kube: LightkubeKube) -> None:
    api.declare("v1", "configmaps", "ConfigMap", namespaced=True)
    pages = {
        "": {"metadata": {"continue": "page-2"}, "items": [{"metadata": {"name": "a"}}]},
        "page-2": {"metadata": {}, "items": [{"metadata": {"name": "b"}}]},
    }
    api.handler["get /api/v1/configmaps"] << (lambda request: pages[request.params.get("continue", "")])

    assert [item["metadata"]["name"] for item in kube.list(*CONFIGMAP)] == ["a", "b"]


def test_delete_is_true_then_false_with_background_propagation(api: FakeApi, kube: LightkubeKube) -> None:
    api.declare("v1", "configmaps", "ConfigMap", namespaced=True)
    api.store("v1", "configmaps", "apps", configmap("settings", "apps"))
    ref = ObjectRef(*CONFIGMAP, "settings", "apps")

    assert kube.delete(ref) is True
    assert kube.delete(ref) is False
    assert api.stored("v1", "configmaps", "apps", "settings") is None
    assert [request.params for request in api.requests("DELETE")] == [{"propagationPolicy": "Background"}] * 2


def test_server_version(api: FakeApi, kube: LightkubeKube) -> None:
    assert kube.server_version() == "v1.26.4+k3s1"
    (request,) = api.requests("GET")
    assert request.headers["Authorization"] == "Bearer t0ken"  # the kubeconfig's credentials


# --- watch -----------------------------------------------------------------------------------------


def test_watch_yields_added_modified_deleted(api: FakeApi, kube: LightkubeKube) -> None:
    api.declare("v1", "configmaps", "ConfigMap", namespaced=True)
    api.store("v1", "configmaps", "apps", configmap("settings", "apps", mode="a"))
    ref = ObjectRef(*CONFIGMAP, "settings", "apps")

    events = kube.watch(*CONFIGMAP, namespace="apps", labels="team=platform", timeout_seconds=10)
    added = next(events)
    kube.apply(configmap("settings", "apps", mode="b"))
    modified = next(events)
    kube.delete(ref)
    deleted = next(events)
    events.close()

    assert [added[0], modified[0], deleted[0]] == ["ADDED", "MODIFIED", "DELETED"]
    assert [added[1]["data"], modified[1]["data"]] == [{"mode": "a"}, {"mode": "b"}]
    assert ObjectRef.of(deleted[1]) == ref
    (request,) = [request for request in api.requests("GET") if request.params.get("watch") == "true"]
    assert request.url.path == "/api/v1/namespaces/apps/configmaps"
    assert request.params["labelSelector"] == "team=platform"
    assert request.params["timeoutSeconds"] == "10"


def test_watch_ends_at_its_timeout_when_nothing_happens(api: FakeApi, kube: LightkubeKube) -> None:
    api.declare("v1", "configmaps", "ConfigMap", namespaced=True)
    api.store("v1", "configmaps", "apps", configmap("settings", "apps"))

    started = time.monotonic()
    events = list(kube.watch(*CONFIGMAP, timeout_seconds=0.3))
    elapsed = time.monotonic() - started

    assert [(event, obj["metadata"]["name"]) for event, obj in events] == [("ADDED", "settings")]
    assert 0.3 <= elapsed < 2  # kmock never closes the stream: the client's deadline ended it


# --- errors ----------------------------------------------------------------------------------------


def status(code: int, reason: str, message: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Status",
        "status": "Failure",
        "code": code,
        "reason": reason,
        "message": message,
    }


def test_a_refused_connection_is_unreachable_naming_the_server(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{probe.getsockname()[1]}"
    kube = connect_kubeconfig(str(write_kubeconfig(tmp_path / "config", url)))

    with pytest.raises(KubeUnreachable) as caught:
        kube.server_version()

    message = str(caught.value)
    assert url in message
    assert "only reachable from the VPN or a peered VPC" in message
    assert "KUBECONFIG/--context" in message


def test_401_tells_to_refresh_the_credentials(api: FakeApi, kube: LightkubeKube) -> None:
    api.handler["get /version"] << 401 << status(401, "Unauthorized", "Unauthorized")

    with pytest.raises(KubeError) as caught:
        kube.server_version()

    assert not isinstance(caught.value, KubeUnreachable)
    assert "401 Unauthorized" in str(caught.value)
    # reached through a kubeconfig context: the fix is that context's credentials, not AWS_PROFILE
    assert "refresh the kubeconfig context's credentials" in str(caught.value)
    assert "AWS_PROFILE" not in str(caught.value) and "cluster.accessEntries" in str(caught.value)


def test_403_names_the_verb_resource_and_namespace(api: FakeApi, kube: LightkubeKube) -> None:
    api.declare("karpenter.sh/v1", "nodepools", "NodePool", namespaced=False)
    api.declare("v1", "configmaps", "ConfigMap", namespaced=True)
    denied = 'configmaps "settings" is forbidden: User "jenkins" cannot patch resource "configmaps"'
    api.handler["patch /api/v1/namespaces/apps/configmaps/settings"] << 403 << status(403, "Forbidden", denied)
    api.handler["get /apis/karpenter.sh/v1/nodepools"] << 403 << status(403, "Forbidden", "no")

    with pytest.raises(KubeError) as patching:
        kube.apply(configmap("settings", "apps"))
    with pytest.raises(KubeError) as listing:
        kube.list(*NODEPOOL)

    assert f"forbids patch on configmaps in namespace apps ({denied})" in str(patching.value)
    assert "AmazonEKSClusterAdminPolicy (cluster-admin) through cluster.accessEntries" in str(patching.value)
    assert "forbids list on nodepools.karpenter.sh cluster-wide" in str(listing.value)


def test_422_carries_the_server_message_and_the_object(api: FakeApi, kube: LightkubeKube) -> None:
    api.declare("v1", "configmaps", "ConfigMap", namespaced=True)
    invalid = 'ConfigMap "settings" is invalid: data[bad key]: Invalid value'
    api.handler["patch /api/v1/namespaces/apps/configmaps/settings"] << 422 << status(422, "Invalid", invalid)

    with pytest.raises(KubeError, match=r"refused to patch ConfigMap apps/settings \(HTTP 422\): ") as caught:
        kube.apply(configmap("settings", "apps"))

    assert invalid in str(caught.value)


# --- kubeconfig ------------------------------------------------------------------------------------


def test_kubeconfig_files_in_kubeconfig_are_merged_and_context_selects(
    api: FakeApi, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = write_kubeconfig(tmp_path / "first", "http://127.0.0.1:9", context="elsewhere")
    second = write_kubeconfig(tmp_path / "second", api.url, context="fake", token="second-token")
    monkeypatch.setenv("KUBECONFIG", f"{first}:{tmp_path / 'absent'}:{second}")

    kube = connect_kubeconfig(context="fake")
    try:
        assert kube.server_version() == "v1.26.4+k3s1"
    finally:
        kube.close()

    assert api.requests("GET")[0].headers["Authorization"] == "Bearer second-token"
    with pytest.raises(UsageError, match="fix: pass --context with one of: elsewhere, fake"):
        connect_kubeconfig(context="nope")


def test_a_missing_kubeconfig_is_a_usage_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "absent"))

    with pytest.raises(UsageError, match=r"no kubeconfig: .*absent not found; fix: run `aws eks update-kubeconfig"):
        connect_kubeconfig()


# --- connect_eks: TLS with the cluster's CA, and a token fetched again after 10 minutes --------------


@dataclass
class _Https:
    url: str
    ca_data: str  # base64 PEM, as DescribeCluster returns certificateAuthority.data
    authorizations: list[str] = field(default_factory=list)


def _self_signed() -> tuple[bytes, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kubernetes")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


@pytest.fixture
def https(tmp_path: Path) -> Iterator[_Https]:
    cert, key = _self_signed()
    (tmp_path / "cert.pem").write_bytes(cert)
    (tmp_path / "key.pem").write_bytes(key)
    seen: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.headers.get("Authorization", ""))
            body = json.dumps({"gitVersion": "v1.33.2-eks-1"}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield _Https(f"https://127.0.0.1:{server.server_address[1]}", base64.b64encode(cert).decode(), seen)
    server.shutdown()
    server.server_close()


def test_connect_eks_trusts_the_cluster_ca_and_refreshes_the_token(https: _Https) -> None:
    now = [0.0]
    made: list[str] = []

    def token() -> str:
        made.append(f"k8s-aws-v1.token-{len(made) + 1}")
        return made[-1]

    kube = connect_eks(https.url, https.ca_data, token, clock=lambda: now[0])
    try:
        kube.server_version()
        now[0] += 9 * 60
        kube.server_version()
        now[0] += 2 * 60  # 11 minutes after the first token
        assert kube.server_version() == "v1.33.2-eks-1"
    finally:
        kube.close()

    assert https.authorizations == [
        "Bearer k8s-aws-v1.token-1",
        "Bearer k8s-aws-v1.token-1",
        "Bearer k8s-aws-v1.token-2",
    ]


def test_connect_eks_refuses_a_server_not_signed_by_the_cluster_ca(https: _Https) -> None:
    other_ca = base64.b64encode(_self_signed()[0]).decode()
    kube = connect_eks(https.url, other_ca, lambda: "token")

    with pytest.raises(KubeUnreachable, match="CERTIFICATE_VERIFY_FAILED"):
        kube.server_version()
    assert https.authorizations == []
