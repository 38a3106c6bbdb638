"""eks_token: the same token as `aws eks get-token`, made offline from static fake credentials."""

from __future__ import annotations

import base64
from urllib.parse import parse_qs, urlsplit

import boto3
import botocore.session
import pytest
from botocore.credentials import CredentialResolver

from eks_platform.apply.eks_token import eks_token
from eks_platform.errors import UsageError

PREFIX = "k8s-aws-v1."


def session(region: str | None = "eu-central-1", *, keys: bool = True) -> boto3.session.Session:
    isolated = botocore.session.Session(session_vars={"profile": (None, None, None, None)})
    if not keys:
        return boto3.session.Session(botocore_session=isolated, region_name=region)
    return boto3.session.Session(
        botocore_session=isolated,
        aws_access_key_id="AKIAIOSFODNN7EXAMPLE",
        aws_secret_access_key="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        region_name=region,
    )


def decode(token: str) -> tuple[str, dict[str, list[str]]]:
    assert token.startswith(PREFIX)
    encoded = token.removeprefix(PREFIX)
    assert "=" not in encoded  # unpadded
    url = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
    return url, parse_qs(urlsplit(url).query)


@pytest.mark.parametrize("source", ["session", "sts client"])
def test_the_token_is_a_presigned_get_caller_identity_on_the_regional_sts(source: str) -> None:
    aws = session()
    token = eks_token(aws if source == "session" else aws.client("sts"), "platform-dev")

    url, query = decode(token)

    assert urlsplit(url).scheme == "https"
    assert urlsplit(url).hostname == "sts.eu-central-1.amazonaws.com"
    assert query["Action"] == ["GetCallerIdentity"]
    assert query["Version"] == ["2011-06-15"]
    assert query["X-Amz-Expires"] == ["60"]
    assert query["X-Amz-Credential"][0].startswith("AKIAIOSFODNN7EXAMPLE/")
    assert query["X-Amz-Credential"][0].endswith("/eu-central-1/sts/aws4_request")
    assert "x-k8s-aws-id" in query["X-Amz-SignedHeaders"][0].split(";")
    assert "x-k8s-aws-id" not in query  # a signed header, not a query parameter


def test_a_client_used_twice_signs_the_cluster_header_each_time() -> None:
    sts = session().client("sts")

    first, second = (decode(eks_token(sts, name))[1] for name in ("a", "b"))

    assert first["X-Amz-SignedHeaders"] == second["X-Amz-SignedHeaders"] == ["host;x-k8s-aws-id"]


def test_no_credentials_is_a_usage_error() -> None:
    aws = session(keys=False)
    aws._session.register_component("credential_provider", CredentialResolver(providers=[]))  # none anywhere

    with pytest.raises(UsageError, match="no usable AWS credentials"):
        eks_token(aws, "platform-dev")


def test_no_region_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="no AWS region"):
        eks_token(session(region=None), "platform-dev")
