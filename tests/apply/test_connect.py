"""How eksp reaches a cluster: the ExecCredential `eksp token` prints (run the way helm runs it, as a
credential plugin: a child process), and the private kubeconfig helm gets."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from eks_platform.apply.connect import Connector, helm_kubeconfig
from eks_platform.apply.ports import ClusterState
from eks_platform.errors import HelmError

CLUSTER = ClusterState(
    name="irtp",
    status="ACTIVE",
    endpoint_public=False,
    endpoint_private=True,
    endpoint="https://ABCDEF.gr7.eu-west-1.eks.amazonaws.com",
    certificate_authority="LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0t",
)


def test_the_helm_kubeconfig_runs_eksp_token_as_its_credential_plugin() -> None:
    config = helm_kubeconfig(CLUSTER, region="eu-west-1", profile="platform")
    assert config["clusters"][0]["cluster"] == {
        "server": CLUSTER.endpoint,
        "certificate-authority-data": CLUSTER.certificate_authority,
    }
    plugin = config["users"][0]["user"]["exec"]
    assert plugin["command"] == sys.executable
    assert plugin["args"] == ["-m", "eks_platform", "token", "--cluster", "irtp", "--region", "eu-west-1", "--profile", "platform"]
    assert config["current-context"] == "irtp"


def test_the_plugin_command_prints_an_exec_credential_with_a_signed_token() -> None:
    plugin = helm_kubeconfig(CLUSTER, region="eu-west-1", profile=None)["users"][0]["user"]["exec"]
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
        "AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE",
        "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
    }
    done = subprocess.run([plugin["command"], *plugin["args"]], capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    credential = json.loads(done.stdout)
    assert credential["kind"] == "ExecCredential" and credential["apiVersion"] == plugin["apiVersion"]
    expires = datetime.strptime(credential["status"]["expirationTimestamp"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert 13 * 60 <= (expires - datetime.now(UTC)).total_seconds() <= 14 * 60
    token = credential["status"]["token"]
    assert token.startswith("k8s-aws-v1.")
    url = base64.urlsafe_b64decode(token.removeprefix("k8s-aws-v1.") + "==").decode()
    query = parse_qs(urlsplit(url).query)
    assert urlsplit(url).netloc == "sts.eu-west-1.amazonaws.com"
    assert "x-k8s-aws-id" in query["X-Amz-SignedHeaders"][0].split(";")


def test_a_direct_connection_writes_the_kubeconfig_privately_and_removes_it_afterwards(
    helm_binary: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EKSP_HELM", helm_binary)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kubernetes")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + timedelta(hours=1))
        .sign(key, hashes.SHA256())
    )
    ca_data = base64.b64encode(certificate.public_bytes(serialization.Encoding.PEM)).decode()
    cluster = replace(CLUSTER, certificate_authority=ca_data)
    with contextlib.ExitStack() as stack:
        connector = Connector(session=object(), region="eu-west-1", profile=None, context=None, kubeconfig=None, stack=stack)
        helm = connector.helm(cluster)
        path = Path(str(helm.kubeconfig))  # type: ignore[attr-defined]
        assert oct(path.stat().st_mode & 0o777) == "0o600"
        assert yaml.safe_load(path.read_text())["clusters"][0]["cluster"] == {
            "server": CLUSTER.endpoint,
            "certificate-authority-data": ca_data,
        }
    assert not path.exists()


def test_helm_is_made_only_when_a_step_uses_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EKSP_HELM", "/nowhere/helm")  # a missing helm fails only when helm is called
    with contextlib.ExitStack() as stack:
        connector = Connector(session=object(), region="eu-west-1", profile=None, context=None, kubeconfig=None, stack=stack)
        made: list[str] = []
        connector.kube = lambda cluster: made.append("kube") or object()  # type: ignore[method-assign,assignment,func-returns-value]
        _kube, helm = connector(CLUSTER)
        assert made == ["kube"]
        with pytest.raises(HelmError, match="EKSP_HELM=/nowhere/helm"):
            helm.release("karpenter", "karpenter")
