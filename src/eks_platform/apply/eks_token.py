"""The bearer token EKS accepts, made as `aws eks get-token` makes it (awscli customizations/eks/get_token.py).

The token is `k8s-aws-v1.` + base64url (unpadded) of a presigned STS GetCallerIdentity URL whose signature
covers the header `x-k8s-aws-id: <cluster>`. The cluster calls that URL to learn who we are; nothing is
sent to AWS here. A token is valid for 15 minutes.
"""

from __future__ import annotations

import base64
from typing import Any

from botocore.exceptions import BotoCoreError

from eks_platform.apply.boto import REGION_FIX, map_botocore_error
from eks_platform.errors import UsageError

TOKEN_PREFIX = "k8s-aws-v1."
CLUSTER_HEADER = "x-k8s-aws-id"
URL_EXPIRES = 60  # seconds, as aws-iam-authenticator and awscli sign it; EKS still honours the token for 15 minutes
_HANDLER_ID = "eks-platform-k8s-aws-id"  # one per handler: botocore ignores a second handler with the same id


def eks_token(session_or_sts_client: Any, cluster_name: str) -> str:
    """A token for `cluster_name`, signed with the credentials of a boto3 Session (its region's STS
    endpoint) or of an STS client."""
    try:
        sts = session_or_sts_client
        if not hasattr(sts, "generate_presigned_url"):  # a Session: botocore picks its region's STS endpoint
            if not sts.region_name:
                raise UsageError(f"no AWS region for the EKS token; fix: {REGION_FIX}")
            sts = sts.client("sts", region_name=sts.region_name)
        # GetCallerIdentity has no parameter for the header: move it from the params to the request context,
        # then into the headers just before signing
        events = sts.meta.events
        events.register(
            "provide-client-params.sts.GetCallerIdentity", _cluster_to_context, unique_id=f"{_HANDLER_ID}:params"
        )
        events.register("before-sign.sts.GetCallerIdentity", _context_to_header, unique_id=f"{_HANDLER_ID}:sign")
        url = sts.generate_presigned_url(
            "get_caller_identity", Params={CLUSTER_HEADER: cluster_name}, ExpiresIn=URL_EXPIRES, HttpMethod="GET"
        )
    except BotoCoreError as error:
        raise map_botocore_error(error) from error
    return TOKEN_PREFIX + base64.urlsafe_b64encode(str(url).encode()).decode().rstrip("=")


def _cluster_to_context(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
    if CLUSTER_HEADER in params:
        context[CLUSTER_HEADER] = params.pop(CLUSTER_HEADER)


def _context_to_header(request: Any, **_: Any) -> None:
    if CLUSTER_HEADER in request.context:
        request.headers[CLUSTER_HEADER] = request.context[CLUSTER_HEADER]
