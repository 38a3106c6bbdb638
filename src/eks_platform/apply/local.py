"""A local AWS for `eksp up --local`: moto's server, in a child process of its own, on a free loopback port.

    with LocalAws(state_dir=Path(".eksp-local")) as endpoint:
        adapters = clients(profile=None, region=endpoint.region, endpoint_url=endpoint.url,
                           credentials=endpoint.credentials)

Why a child process: moto keeps its state, its random generator and its recorder in module globals, and
its reset re-creates some backends on the spot (drawing ids from the generator). A fresh interpreter per
emulator is the only way to start from the same point every time, and it keeps moto out of our process.
The child stops when its stdin closes, so it never outlives us.

State across commands (`--state DIR`): moto keeps everything in memory, so the folder holds a recording
of every request the emulator answered (moto's own recorder: `moto-recording.jsonl`). A new emulator
replays it before answering anything else. The replay gives back the same ids (vpc-..., stack ARNs)
because moto draws every id and request id from one random generator, seeded the same at each start, and
the requests come again in the same order. `emulator.json` keeps a fingerprint of that generator after
the last run, so a replay that diverged (another moto version) is reported instead of giving other ids.

Gaps of moto 5.2.5 patched in the child when its CloudFormation is first used:
- executing a change set does not recompute the stack's Outputs (they stay as when the change set was
  made: none for a new stack); the patch rebuilds them after each execution, as AWS does;
- an AWS::KMS::Key with `Tags` fails with HTTP 500 (moto's KMS wants TagKey/TagValue where CloudFormation
  gives Key/Value); the patch converts them;
- AWS::IAM::OIDCProvider is skipped by moto's CloudFormation (so a GetAtt on it fails the change set);
  the patch adds the type, backed by moto's IAM.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import logging
import os
import selectors
import subprocess
import sys
import tempfile
import threading
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Any
from urllib.parse import urlsplit

from eks_platform.apply.boto import StaticCredentials
from eks_platform.errors import UsageError

REGION = "us-east-1"
CREDENTIALS = StaticCredentials("testing", "testing")
SEED = 20_251_124
RECORDING = "moto-recording.jsonl"
META = "emulator.json"
START_TIMEOUT_SECONDS = 60.0
STOP_TIMEOUT_SECONDS = 15.0

NOT_EMULATED: Mapping[str, str] = {
    "eks:addons": "moto does not implement EKS managed add-ons (CreateAddon, ListAddons, DescribeAddon answer 404)",
    "eks:access-entries": "moto does not implement EKS access entries or access policies (404)",
    "eks:pod-identity": "moto does not implement EKS Pod Identity associations (404)",
    "eks:identity-provider-configs": "moto does not implement EKS OIDC identity provider configs (404)",
    "eks:cluster-security-group": "moto's EKS creates no cluster security group (no clusterSecurityGroupId)",
    "cloudformation:AWS::EKS::*": "moto's CloudFormation skips AWS::EKS::* resources (the stack still completes)",
    "cloudformation:AWS::SQS::QueuePolicy": "moto's CloudFormation skips AWS::SQS::QueuePolicy",
    "cloudformation:AWS::EC2::SecurityGroupEgress": "moto's CloudFormation skips AWS::EC2::SecurityGroupEgress",
    "cloudformation:resource-events": "moto's CloudFormation writes only the stack's own events, none per resource",
    "kubernetes": "there is no Kubernetes API behind an emulated cluster: manifests and Helm releases are not applied",
}


def not_emulated(part: str) -> str | None:
    """Why the emulator cannot do `part` ("eks:addons", "cloudformation:AWS::EKS::Cluster", ...), or None."""
    if part in NOT_EMULATED:
        return NOT_EMULATED[part]
    service, _, rest = part.partition(":")
    if service == "cloudformation" and rest.startswith("AWS::EKS::"):
        return NOT_EMULATED["cloudformation:AWS::EKS::*"]
    return None


@dataclass(frozen=True)
class LocalEndpoint:
    """What to build the boto3 clients with: `clients(profile=None, region=e.region, endpoint_url=e.url,
    credentials=e.credentials)`."""

    url: str
    region: str
    credentials: StaticCredentials
    replayed: int = 0  # requests replayed from the state folder at start


class LocalAws:
    """Starts the emulator on enter, stops it on exit (saving nothing more: the recording is written as
    requests come, and the fingerprint on a clean stop)."""

    def __init__(self, *, state_dir: Path | None = None, region: str = REGION) -> None:
        self.state_dir = state_dir
        self.region = region
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def __enter__(self) -> LocalEndpoint:
        if self.state_dir is not None:
            self.state_dir.mkdir(parents=True, exist_ok=True)
        # moto reads the AWS config while loading: keep the caller's profile out of its way
        env = {k: v for k, v in os.environ.items() if k not in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE")}
        env |= {"AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull}
        args = [str(self.state_dir.resolve())] if self.state_dir is not None else []
        self._log = tempfile.TemporaryFile()
        self._process = subprocess.Popen(
            [sys.executable, "-c", "from eks_platform.apply.local import main; main()", *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            env=env,
        )
        try:
            ready = self._ready()
        except BaseException:
            self._stop()
            raise
        return LocalEndpoint(str(ready["url"]), self.region, CREDENTIALS, int(ready.get("replayed", 0)))

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop()

    def _ready(self) -> dict[str, Any]:
        assert self._process is not None and self._process.stdout is not None
        with selectors.DefaultSelector() as selector:
            selector.register(self._process.stdout, selectors.EVENT_READ)
            line = self._process.stdout.readline() if selector.select(START_TIMEOUT_SECONDS) else b""
        try:
            ready: dict[str, Any] = json.loads(line)
        except json.JSONDecodeError:
            raise UsageError(
                f"the local emulator did not start within {START_TIMEOUT_SECONDS:.0f} s: {self._log_tail()}"
            ) from None
        if "error" in ready:
            raise UsageError(str(ready["error"]))
        return ready

    def _log_tail(self) -> str:
        if self._log is None:
            return ""
        self._log.seek(0)
        lines = self._log.read().decode(errors="replace").strip().splitlines()
        return " / ".join(lines[-3:]) or "no output"

    def _stop(self) -> None:
        process, self._process = self._process, None
        if process is not None:
            if process.stdin is not None:
                process.stdin.close()  # the child's signal to save and stop
            try:
                process.wait(timeout=STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            if process.stdout is not None:
                process.stdout.close()
        if self._log is not None:
            self._log.close()
            self._log = None


# --- the child process ---------------------------------------------------------------------------


def main() -> None:
    """The emulator process: `python -c "from eks_platform.apply.local import main; main()" [STATE_DIR]`.
    Prints one JSON line ({"url": ...} or {"error": ...}), serves until stdin closes."""
    state_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else None
    sys.exit(_serve(state_dir))


def _say(message: Mapping[str, Any]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def _serve(state_dir: Path | None) -> int:  # returns only on a failed start
    for name in ("werkzeug", "moto"):
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.simplefilter("ignore")  # moto warns about each resource type its CloudFormation skips
    try:
        from moto.moto_api import recorder
        from moto.moto_api._internal import mock_random
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
        from werkzeug.serving import make_server
    except ImportError as error:
        _say({"error": f"the local emulator needs moto ({error}); fix: pip install 'eks-platform[local]'"})
        return 2

    def create_app(service: Any) -> Any:
        if service == "cloudformation":
            _patch_moto()
        return create_backend_app(service)

    mock_random.seed(SEED)  # before any request: every id from here on follows from the requests alone
    # one request at a time: the recording is replayed in order, so the order it was served in must be the
    # order it was recorded in, even when the engine sends several steps' calls at once
    server = make_server(
        "127.0.0.1", 0, DomainDispatcherApplication(create_app), threaded=False, request_handler=MotoRequestHandler
    )
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    host, port = str(server.server_address[0]), int(server.server_address[1])
    url = f"http://{host}:{port}"
    replayed = 0
    if state_dir is not None:
        try:
            replayed = _replay(state_dir, host=host, port=port, random=mock_random)
        except UsageError as error:
            _say({"error": str(error)})
            server.shutdown()
            return 2
        recorder._location = str(state_dir / RECORDING)
        recorder.start_recording()
    _say({"url": url, "replayed": replayed})
    sys.stdin.read()  # until the parent closes it (or dies)
    if state_dir is not None:
        recorder.stop_recording()
        _write_meta(state_dir, random=mock_random)
    server.shutdown()
    sys.stdout.flush()
    os._exit(0)  # everything is saved: skip tearing down moto's hundreds of modules (about 0.5 s)


def _replay(state_dir: Path, *, host: str, port: int, random: Any) -> int:
    path = state_dir / RECORDING
    if not path.exists():
        return 0
    entries = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    for entry in entries:
        _send(entry, host=host, port=port)
    meta = _read_meta(state_dir)
    if meta.get("requests") == len(entries) and meta.get("random") != _fingerprint(random):
        raise UsageError(
            f"the local state in {state_dir} did not replay identically "
            f"(recorded with moto {meta.get('moto')}); fix: remove {state_dir} and run `eksp up --local` again"
        )
    return len(entries)


def _read_meta(state_dir: Path) -> dict[str, Any]:
    path = state_dir / META
    if not path.exists():
        return {}
    try:
        meta: dict[str, Any] = json.loads(path.read_text())
    except json.JSONDecodeError:
        return {}
    return meta


def _write_meta(state_dir: Path, *, random: Any) -> None:
    from moto import __version__ as moto_version

    path = state_dir / RECORDING
    requests = len([line for line in path.read_text().splitlines() if line.strip()]) if path.exists() else 0
    meta = {"format": 1, "moto": moto_version, "seed": SEED, "requests": requests, "random": _fingerprint(random)}
    (state_dir / META).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")


def _fingerprint(random: Any) -> str:
    return hashlib.sha256(repr(random.getstate()).encode()).hexdigest()[:16]


def _send(entry: Mapping[str, Any], *, host: str, port: int) -> None:
    """Send one recorded request again, to this emulator. Its answer does not matter: a request that failed
    when recorded fails the same way now."""
    body: bytes = (
        base64.b64decode(entry["body"]) if entry.get("body_encoded") else str(entry.get("body") or "").encode()
    )
    parts = urlsplit(str(entry["url"]))
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    skip = {"host", "content-length", "transfer-encoding", "connection"}
    headers = {k: str(v) for k, v in (entry.get("headers") or {}).items() if k.lower() not in skip}
    headers["Host"] = f"{host}:{port}"
    headers["Content-Length"] = str(len(body))
    connection = http.client.HTTPConnection(host, port, timeout=60)
    try:
        connection.request(str(entry["method"]), path, body=body, headers=headers)
        connection.getresponse().read()
    finally:
        connection.close()


# --- patches for moto's gaps (in the child only) -------------------------------------------------

_patched = threading.Event()


def _patch_moto() -> None:
    if _patched.is_set():
        return
    _patched.set()
    _patch_change_set_outputs()
    _patch_kms_key_tags()
    _add_cfn_oidc_provider()


def _patch_change_set_outputs() -> None:
    """moto 5.2.5 `execute_change_set` never rebuilds the stack's output map: rebuild it afterwards."""
    from moto.cloudformation.models import CloudFormationBackend

    original = CloudFormationBackend.execute_change_set

    def execute_change_set(backend: Any, change_set_name: str, stack_name: str | None = None) -> None:
        original(backend, change_set_name, stack_name)
        change_set = backend.change_sets.get(change_set_name) or next(
            (c for c in backend.change_sets.values() if c.change_set_name == change_set_name), None
        )
        stack = backend.stacks.get(change_set.stack_id) if change_set is not None else None
        if stack is not None:
            stack._parse_template()
            stack.output_map = stack._create_output_map()

    CloudFormationBackend.execute_change_set = execute_change_set  # type: ignore[method-assign,assignment]


def _patch_kms_key_tags() -> None:
    """moto 5.2.5 passes AWS::KMS::Key `Tags` ({Key, Value}) to KMS as if they were {TagKey, TagValue}."""
    from moto.kms.models import Key

    original = Key.__dict__["create_from_cloudformation_json"]

    def create_from_cloudformation_json(
        cls: Any, /, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
    ) -> Any:
        properties = dict(cloudformation_json.get("Properties") or {})
        if properties.get("Tags"):
            properties["Tags"] = [
                {"TagKey": t.get("Key", t.get("TagKey")), "TagValue": t.get("Value", t.get("TagValue", ""))}
                for t in properties["Tags"]
            ]
        body = dict(cloudformation_json) | {"Properties": properties}
        return original.__func__(cls, resource_name, body, account_id, region_name, **kwargs)

    Key.create_from_cloudformation_json = classmethod(create_from_cloudformation_json)  # type: ignore[method-assign,assignment]


def _add_cfn_oidc_provider() -> None:
    """AWS::IAM::OIDCProvider for moto's CloudFormation (Ref and GetAtt Arn give the provider's ARN)."""
    from moto.cloudformation import parsing
    from moto.core.common_models import CloudFormationModel
    from moto.iam.models import iam_backends
    from moto.utilities.utils import get_partition

    if "AWS::IAM::OIDCProvider" in parsing.get_model_map():
        return

    def backend(account_id: str, region_name: str) -> Any:
        return iam_backends[account_id][get_partition(region_name)]

    class CfnOidcProvider(CloudFormationModel):
        def __init__(self, arn: str) -> None:
            self.arn = arn

        @staticmethod
        def cloudformation_name_type() -> str:
            return ""

        @staticmethod
        def cloudformation_type() -> str:
            return "AWS::IAM::OIDCProvider"

        @classmethod
        def has_cfn_attr(cls, attr: str) -> bool:
            return attr == "Arn"

        @classmethod
        def create_from_cloudformation_json(
            cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
        ) -> CfnOidcProvider:
            properties = cloudformation_json.get("Properties") or {}
            provider = backend(account_id, region_name).create_open_id_connect_provider(
                url=properties["Url"],
                thumbprint_list=list(properties.get("ThumbprintList") or []),
                client_id_list=list(properties.get("ClientIdList") or []),
                tags=list(properties.get("Tags") or []),
            )
            return cls(provider.arn)

        @classmethod
        def update_from_cloudformation_json(
            cls,
            original_resource: Any,
            new_resource_name: str,
            cloudformation_json: Any,
            account_id: str,
            region_name: str,
        ) -> CfnOidcProvider:
            original_resource.delete(account_id, region_name)
            return cls.create_from_cloudformation_json(new_resource_name, cloudformation_json, account_id, region_name)

        @classmethod
        def delete_from_cloudformation_json(
            cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str
        ) -> None:
            backend(account_id, region_name).delete_open_id_connect_provider(resource_name)

        def delete(self, account_id: str, region_name: str) -> None:
            backend(account_id, region_name).delete_open_id_connect_provider(self.arn)

        @property
        def physical_resource_id(self) -> str:
            return self.arn

        def get_cfn_attribute(self, attribute_name: str) -> str:
            return self.arn

        def is_created(self) -> bool:
            return True

    CfnOidcProvider.__module__ = "moto.iam.cfn_models"  # moto names the service after the module path
    for cached in (parsing.get_model_list, parsing.get_model_map, parsing.get_name_type_map):
        cached.cache_clear()
