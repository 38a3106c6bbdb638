"""The lightkube adapter: the Kube port (kube_ports.py) over a real API server.

lightkube reads the kubeconfig (exec credential plugins such as `aws eks get-token`, client certificates,
the cluster CA) and builds the HTTP client; the calls go through that client directly, on plain dicts.
The port takes any apiVersion/kind, so the plural and scope of a kind come from API discovery, cached per
group-version; lightkube's typed resources know only built-in kinds, its generic resources live in one
process-wide registry, and its watch reopens forever when the server closes it, where ours must end at its
timeout. Every HTTP failure becomes our error in one place: `LightkubeKube._mapped`.
"""

from __future__ import annotations

import json
import math
import os
import threading
import time
from collections.abc import Callable, Generator, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast, get_args

import httpx2
import msgspec
import yaml
from lightkube.config.client_adapter import ConnectionParams
from lightkube.config.kubeconfig import KubeConfig, SingleConfig
from lightkube.config.models import Cluster, Context, User
from lightkube.core.exceptions import ConfigError

from eks_platform.apply.kube_ports import FIELD_MANAGER, Obj, ObjectRef, WatchEvent
from eks_platform.errors import KubeError, KubeUnreachable, UsageError

TIMEOUT = httpx2.Timeout(30.0, connect=10.0)
PAGE_SIZE = 500
TOKEN_MAX_AGE = 600.0  # seconds; an EKS token is valid for 15 minutes, so fetch a new one well before
APPLY_PATCH = "application/apply-patch+yaml"
DEFAULT_KUBECONFIG = "~/.kube/config"

UNREACHABLE_FIX = (
    "a private EKS endpoint is only reachable from the VPN or a peered VPC; fix: connect to the VPN or run "
    "from the Jenkins tooling VPC, or check that KUBECONFIG/--context select the right cluster"
)
CREDENTIALS_FIX = (
    "fix: refresh the credentials: check AWS_PROFILE (the token is made from it, e.g. `aws sso login` first) "
    "and that this principal has an access entry on the cluster (cluster.accessEntries in the spec)"
)
KUBECONFIG_CREDENTIALS_FIX = (
    "fix: refresh the kubeconfig context's credentials (its token or exec plugin, e.g. `aws eks update-kubeconfig` "
    "and `aws sso login`) and check that this principal has an access entry (cluster.accessEntries in the spec)"
)
ACCESS_FIX = (
    "fix: give this principal an access policy that allows it, e.g. AmazonEKSClusterAdminPolicy "
    "(cluster-admin) through cluster.accessEntries in the spec"
)
_EVENTS = frozenset(get_args(WatchEvent))


@dataclass(frozen=True)
class _Kind:
    """One kind as API discovery describes it."""

    api_version: str
    kind: str
    plural: str
    namespaced: bool

    @property
    def resource(self) -> str:
        """ "nodepools.karpenter.sh", as RBAC and kubectl name it."""
        group = self.api_version.rpartition("/")[0]
        return f"{self.plural}.{group}" if group else self.plural

    def path(self, namespace: str | None, name: str | None = None) -> str:
        """The collection (no name) or object URL path; a namespaced collection without a namespace spans all."""
        parts = [_group_version_path(self.api_version)]
        if self.namespaced and namespace:
            parts += ["namespaces", namespace]
        parts.append(self.plural)
        if name:
            parts.append(name)
        return "/".join(parts)


@dataclass(frozen=True)
class _Call:
    """What a request is for, to name it in an error."""

    verb: str  # the Kubernetes (RBAC) verb: get, list, watch, patch, delete
    what: str  # "NodePool default", "ConfigMap objects"
    resource: str = ""  # "nodepools.karpenter.sh"
    namespace: str | None = None


class _Missing(KubeError):
    """HTTP 404: the object, or its whole kind, is not there."""


def _group_version_path(api_version: str) -> str:
    return f"/apis/{api_version}" if "/" in api_version else f"/api/{api_version}"


def _object_namespace(kind: _Kind, namespace: str | None) -> str | None:
    # like kubectl, a namespaced object without a namespace is in "default"
    return (namespace or "default") if kind.namespaced else None


def _about(verb: str, kind: _Kind, ref: ObjectRef) -> _Call:
    return _Call(verb, str(ref), kind.resource, _object_namespace(kind, ref.namespace))


def _status_message(body: bytes) -> str:
    """The message of a Kubernetes Status body, else the start of the body."""
    try:
        status = json.loads(body)
    except ValueError:
        status = None
    if isinstance(status, dict) and status.get("message"):
        return str(status["message"])
    return body.decode(errors="replace").strip()[:200] or "no message"


class _FreshToken(httpx2.Auth):
    """A bearer token from `token()`, fetched again once it is older than TOKEN_MAX_AGE."""

    def __init__(self, token: Callable[[], str], clock: Callable[[], float]) -> None:
        self._token = token
        self._clock = clock
        self._bearer = ""
        self._fetched_at = 0.0
        self._lock = threading.Lock()  # steps run in threads: one refresh at a time

    def auth_flow(self, request: httpx2.Request) -> Generator[httpx2.Request, httpx2.Response, None]:
        with self._lock:
            now = self._clock()
            if not self._bearer or now - self._fetched_at > TOKEN_MAX_AGE:
                self._bearer, self._fetched_at = f"Bearer {self._token()}", now
            bearer = self._bearer
        request.headers["Authorization"] = bearer
        yield request


class LightkubeKube:
    """The Kube port over one API server. Build it with `connect_kubeconfig` or `connect_eks`."""

    def __init__(self, http: httpx2.Client, *, server: str, credentials_fix: str = CREDENTIALS_FIX) -> None:
        self._http = http
        self._server = server
        self._credentials_fix = credentials_fix
        self._kinds: dict[str, dict[str, _Kind]] = {}  # group-version -> kind -> _Kind

    def close(self) -> None:
        self._http.close()

    def server_version(self) -> str:
        return str(self._call(_Call("get", "the server version"), "GET", "/version").get("gitVersion", ""))

    def get(self, ref: ObjectRef) -> Obj | None:
        kind = self._kind(ref.api_version, ref.kind)
        if kind is None:
            return None
        namespace = _object_namespace(kind, ref.namespace)
        try:
            return self._call(_about("get", kind, ref), "GET", kind.path(namespace, ref.name))
        except _Missing:
            return None

    def served(self, api_version: str, kind: str) -> bool:
        return self._kind(api_version, kind) is not None

    def list(self, api_version: str, kind: str, *, namespace: str | None = None, labels: str = "") -> list[Obj]:
        found = self._kind(api_version, kind)
        if found is None:
            return []
        call = _Call("list", f"{kind} objects", found.resource, namespace)
        params = {"limit": str(PAGE_SIZE)} | ({"labelSelector": labels} if labels else {})
        items: list[Obj] = []
        while True:
            page = self._call(call, "GET", found.path(namespace), params=params)
            # list items come without apiVersion and kind
            items += [{"apiVersion": api_version, "kind": kind, **item} for item in page.get("items") or []]
            token = (page.get("metadata") or {}).get("continue")
            if not token:
                return items
            params["continue"] = token

    def apply(self, obj: Obj, *, dry_run: bool = False) -> Obj:
        ref = ObjectRef.of(obj)
        kind = self._kind(ref.api_version, ref.kind)
        if kind is None:
            raise KubeError(
                f"cannot apply {ref}: the API server at {self._server} does not know the kind {ref.kind} "
                f"({ref.api_version}): its CRD is not installed yet; fix: install the CRD (or the chart that "
                "ships it) before this object"
            )
        params = {"fieldManager": FIELD_MANAGER, "force": "true"} | ({"dryRun": "All"} if dry_run else {})
        path = kind.path(_object_namespace(kind, ref.namespace), ref.name)
        return self._call(_about("patch", kind, ref), "PATCH", path, params=params, body=obj)

    def delete(self, ref: ObjectRef) -> bool:
        kind = self._kind(ref.api_version, ref.kind)
        if kind is None:
            return False
        path = kind.path(_object_namespace(kind, ref.namespace), ref.name)
        try:
            self._call(_about("delete", kind, ref), "DELETE", path, params={"propagationPolicy": "Background"})
        except _Missing:
            return False
        return True

    def watch(
        self, api_version: str, kind: str, *, namespace: str | None = None, labels: str = "", timeout_seconds: float
    ) -> Iterator[tuple[WatchEvent, Obj]]:
        """An unknown kind has nothing to watch: the iterator ends at once."""
        found = self._kind(api_version, kind)
        if found is None:
            return
        call = _Call("watch", f"{kind} objects", found.resource, namespace)
        path = found.path(namespace)
        deadline = time.monotonic() + timeout_seconds
        version = ""  # none: the server starts with an ADDED event per existing object
        while (left := deadline - time.monotonic()) > 0:
            params = {"watch": "true", "timeoutSeconds": str(math.ceil(left))}
            params |= ({"labelSelector": labels} if labels else {}) | ({"resourceVersion": version} if version else {})
            # the read timeout ends the watch at the deadline even when the server sends nothing
            timeout = httpx2.Timeout(TIMEOUT.connect, read=left)
            with self._mapped(call), self._http.stream("GET", path, params=params, timeout=timeout) as response:
                if response.is_error:
                    self._check(response.status_code, response.read(), call)
                try:
                    for line in response.iter_lines():
                        event = json.loads(line) if line.strip() else {}
                        kind_of_event, obj = event.get("type"), event.get("object") or {}
                        if kind_of_event == "ERROR":
                            if obj.get("code") == 410:  # our resourceVersion is too old: start over
                                version = ""
                                break
                            self._check(int(obj.get("code") or 500), json.dumps(obj).encode(), call)
                        if kind_of_event not in _EVENTS:
                            continue  # BOOKMARK
                        version = str((obj.get("metadata") or {}).get("resourceVersion") or version)
                        yield cast(WatchEvent, kind_of_event), {"apiVersion": api_version, "kind": kind, **obj}
                        if time.monotonic() >= deadline:
                            return
                except httpx2.ReadTimeout:
                    return

    # --- helpers -------------------------------------------------------------------------------------

    def _kind(self, api_version: str, kind: str) -> _Kind | None:
        """The kind as discovery describes it; None when the API server does not serve it. A miss asks
        again, since a CRD applied a moment ago adds kinds to a group-version already cached."""
        known = self._kinds.get(api_version)
        if known is None or kind not in known:
            known = self._kinds[api_version] = self._discover(api_version)
        return known.get(kind)

    def _discover(self, api_version: str) -> dict[str, _Kind]:
        call = _Call("get", f"the API discovery of {api_version}")
        try:
            listing = self._call(call, "GET", _group_version_path(api_version))
        except _Missing:
            return {}
        return {
            entry["kind"]: _Kind(api_version, entry["kind"], entry["name"], bool(entry.get("namespaced")))
            for entry in listing.get("resources") or []
            if "/" not in entry["name"]  # subresources: pods/log, nodepools/status
        }

    def _call(
        self,
        call: _Call,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Obj | None = None,
    ) -> Obj:
        content = None if body is None else json.dumps(body).encode()  # JSON is YAML: fine for apply-patch+yaml
        headers = {"Content-Type": APPLY_PATCH if method == "PATCH" else "application/json"}
        with self._mapped(call):
            response = self._http.request(method, path, params=params, content=content, headers=headers)
            self._check(response.status_code, response.content, call)
            return cast(Obj, response.json())

    def _check(self, status: int, body: bytes, call: _Call) -> None:
        """Raise our error for an HTTP error status; `body` is the Status the server sent with it."""
        if status < 400:
            return
        message = _status_message(body)
        where = f"in namespace {call.namespace}" if call.namespace else "cluster-wide"
        if status == 404 or (status == 503 and call.what.startswith("the API discovery")):
            # 503 on discovery: an aggregated API (Calico's) registered but not Available: not served now
            raise _Missing(f"{call.what} not found: {message}")
        if status == 401:
            raise KubeError(
                f"the API server at {self._server} rejected the credentials (401 Unauthorized) for {call.verb} "
                f"{call.what}; {self._credentials_fix}"
            )
        if status == 403:
            raise KubeError(
                f"the API server at {self._server} forbids {call.verb} on {call.resource or call.what} {where} "
                f"({message}); {ACCESS_FIX}"
            )
        if status in (409, 422):
            raise KubeError(f"the API server refused to {call.verb} {call.what} (HTTP {status}): {message}")
        raise KubeError(f"{call.verb} {call.what} failed at {self._server}: HTTP {status}: {message}")

    @contextmanager
    def _mapped(self, call: _Call) -> Iterator[None]:
        """lightkube's and httpx's exceptions -> ours; the one place they are caught."""
        try:
            yield
        except httpx2.TransportError as error:  # refused, timed out, DNS, TLS
            reason = str(error) or type(error).__name__
            raise KubeUnreachable(
                f"cannot reach the Kubernetes API server at {self._server} ({reason}); {UNREACHABLE_FIX}"
            ) from error
        except (ConfigError, OSError) as error:  # the kubeconfig's credential plugin failed or is missing
            raise KubeError(
                f"no credentials for {self._server} from the kubeconfig ({error}); {CREDENTIALS_FIX}"
            ) from error
        except ValueError as error:  # JSONDecodeError: not a Kubernetes API answer
            raise KubeError(f"{call.verb} {call.what}: {self._server} did not answer with JSON ({error})") from error
        except (httpx2.HTTPError, httpx2.InvalidURL, httpx2.StreamError) as error:
            raise KubeError(f"{call.verb} {call.what} at {self._server} failed: {error}") from error


# --- constructors ------------------------------------------------------------------------------------


def connect_kubeconfig(path: str | None = None, context: str | None = None) -> LightkubeKube:
    """Connect as kubectl would: `path`, else the files in KUBECONFIG (merged, the first to set a value
    wins), else ~/.kube/config; `context`, else the current context. Relative file paths inside a
    kubeconfig resolve against the first file."""
    named = [path] if path else [p for p in os.environ.get("KUBECONFIG", "").split(os.pathsep) if p]
    files = [Path(name).expanduser() for name in named or [DEFAULT_KUBECONFIG]]
    existing = [file for file in files if file.is_file()]
    fix = "fix: run `aws eks update-kubeconfig --name <cluster>`, or point KUBECONFIG (or --kubeconfig) at one"
    if not existing:
        raise UsageError(f"no kubeconfig: {', '.join(map(str, files))} not found; {fix}")
    where = ", ".join(map(str, existing))
    try:
        merged = _merge([yaml.safe_load(file.read_text()) or {} for file in existing])
    except (yaml.YAMLError, OSError, AttributeError) as error:
        raise UsageError(f"kubeconfig {where} is not readable YAML: {error}; {fix}") from error
    try:
        config = KubeConfig.from_dict(merged, fname=existing[0]).get(context)
    except (ConfigError, msgspec.ValidationError, KeyError, TypeError) as error:
        contexts = ", ".join(str(entry.get("name")) for entry in merged["contexts"]) or "(none)"
        raise UsageError(f"kubeconfig {where}: {error}; fix: pass --context with one of: {contexts}") from error
    if config is None:
        raise UsageError(f"kubeconfig {where} selects no context; {fix}")
    return _connect(config, credentials_fix=KUBECONFIG_CREDENTIALS_FIX)


def connect_eks(
    endpoint: str, ca_data: str, token: Callable[[], str], *, clock: Callable[[], float] = time.monotonic
) -> LightkubeKube:
    """Connect to an EKS cluster from what DescribeCluster returns (endpoint, certificateAuthority.data);
    `token()` makes a bearer token (eks_token.py), called at the first request and again every 10 minutes."""
    cluster = Cluster(server=endpoint, certificate_auth_data=ca_data)
    config = SingleConfig(context_name="eks", context=Context(cluster="eks"), cluster=cluster, user=User())
    return _connect(config, auth=_FreshToken(token, clock))


def _merge(documents: list[dict[str, Any]]) -> dict[str, Any]:
    merged: dict[str, Any] = {"clusters": [], "contexts": [], "users": [], "current-context": None}
    for document in documents:
        merged["current-context"] = merged["current-context"] or document.get("current-context")
        for section in ("clusters", "contexts", "users"):
            seen = {entry.get("name") for entry in merged[section]}
            merged[section] += [entry for entry in document.get(section) or [] if entry.get("name") not in seen]
    return merged


def _connect(
    config: SingleConfig, auth: httpx2.Auth | None = None, *, credentials_fix: str = CREDENTIALS_FIX
) -> LightkubeKube:
    # a context without a user is allowed (kubectl asks interactively); lightkube insists on one
    config = config if config.user is not None else config._replace(user=User())
    try:
        params = ConnectionParams(timeout=TIMEOUT).httpx_params(config)
    except (ConfigError, OSError, ValueError) as error:  # unreadable CA or client certificate, bad base64
        raise UsageError(f"cannot use the credentials of kubeconfig context {config.context_name}: {error}") from error
    if auth is not None:
        params["auth"] = auth
    return LightkubeKube(httpx2.Client(**params), server=config.cluster.server, credentials_fix=credentials_fix)
