"""Throttling, through the production path: the adapters built by `clients()` talk to a proxy in front of
moto's server that answers the first call of each service with that service's own throttling error
(CloudFormation's query protocol, EKS's REST-JSON 429, EC2's RequestLimitExceeded). botocore's retry
mode, as `clients()` configures it, must carry each call through; nothing in the adapter is patched."""

from __future__ import annotations

import http.client
import re
import threading
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest
from botocore.exceptions import ClientError
from tests.apply.conftest import KEYS, REGION, Moto

from eks_platform.apply.boto import clients, map_client_error
from eks_platform.errors import ApplyError

THROTTLED = {
    "cloudformation": (
        400,
        "text/xml",
        b"<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message>"
        b"</Error><RequestId>t</RequestId></ErrorResponse>",
    ),
    "eks": (429, "application/json", b'{"message": "Too Many Requests"}'),
    "ec2": (
        503,
        "text/xml",
        b"<Response><Errors><Error><Code>RequestLimitExceeded</Code><Message>Request limit exceeded.</Message>"
        b"</Error></Errors><RequestID>t</RequestID></Response>",
    ),
}
EXTRA_HEADERS = {"eks": {"x-amzn-ErrorType": "ThrottlingException"}}


class ThrottlingProxy:
    """Forwards to `upstream`, except that the first `throttle` requests of each service are refused."""

    def __init__(self, upstream: str, throttle: int) -> None:
        self.seen: Counter[str] = Counter()
        self.throttled: Counter[str] = Counter()
        target = urlsplit(upstream)
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args: object) -> None:
                pass

            def do_GET(self) -> None:
                self.forward()

            def do_POST(self) -> None:
                self.forward()

            def do_DELETE(self) -> None:
                self.forward()

            def forward(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                found = re.search(r"Credential=[^/]+/[^/]+/[^/]+/([^/]+)/", self.headers.get("Authorization", ""))
                service = found.group(1) if found else "?"
                with lock:
                    proxy.seen[service] += 1
                    refuse = service in THROTTLED and proxy.throttled[service] < throttle
                    if refuse:
                        proxy.throttled[service] += 1
                if refuse:
                    status, content_type, payload = THROTTLED[service]
                    self.send_response(status)
                    self.send_header("Content-Type", content_type)
                    for key, value in EXTRA_HEADERS.get(service, {}).items():
                        self.send_header(key, value)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                upstream_connection = http.client.HTTPConnection(target.hostname, target.port, timeout=30)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("connection", "host")}
                headers["Host"] = f"{target.hostname}:{target.port}"
                upstream_connection.request(self.command, self.path, body=body, headers=headers)
                answer = upstream_connection.getresponse()
                payload = answer.read()
                self.send_response(answer.status)
                for key, value in answer.getheaders():
                    if key.lower() not in ("content-length", "transfer-encoding", "connection", "server", "date"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
                upstream_connection.close()

        lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def proxy(moto: Moto) -> Iterator[ThrottlingProxy]:
    server = ThrottlingProxy(moto.url, throttle=1)
    yield server
    server.close()


def test_each_service_is_throttled_and_every_call_still_succeeds(moto: Moto, proxy: ThrottlingProxy) -> None:
    raw = moto.client("ec2")
    vpc_id = raw.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet = raw.create_subnet(VpcId=vpc_id, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    adapters = clients(profile=None, region=REGION, endpoint_url=proxy.url, credentials=KEYS)

    assert adapters.cloudformation.stack("irtp-kms") is None  # describe_stacks: throttled, retried, answered
    assert adapters.eks.cluster("irtp") is None
    adapters.ec2.tag([subnet], {"karpenter.sh/discovery": "irtp"})

    assert proxy.throttled == Counter({"cloudformation": 1, "eks": 1, "ec2": 1})
    assert proxy.seen["cloudformation"] == 2 and proxy.seen["eks"] == 2 and proxy.seen["ec2"] == 2
    tags = raw.describe_tags(Filters=[{"Name": "resource-id", "Values": [subnet]}])["Tags"]
    assert [(t["Key"], t["Value"]) for t in tags] == [("karpenter.sh/discovery", "irtp")]


@pytest.mark.parametrize(
    ("code", "status"),
    [("Throttling", 400), ("ThrottlingException", 429), ("RequestLimitExceeded", 503), ("TooManyRequestsException", 429)],
)
def test_throttling_that_outlasts_the_retries_says_to_run_again(code: str, status: int) -> None:
    error = ClientError(
        {"Error": {"Code": code, "Message": "Rate exceeded"}, "ResponseMetadata": {"HTTPStatusCode": status}},
        "DescribeStacks",
    )
    mapped = map_client_error(error, service="cloudformation", resource="stack irtp-kms")
    assert isinstance(mapped, ApplyError)
    assert str(mapped).startswith("cloudformation:DescribeStacks on stack irtp-kms was throttled by AWS")
    assert "run `eksp up` again" in str(mapped)
