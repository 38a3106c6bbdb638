"""The boto3 adapter: the engine's ports (apply/ports.py) over real AWS or moto's server.

Clients are built once, at the edge, by `clients()`; every adapter takes the client it needs. Every call
goes through `_Api`, which maps boto3's errors to ours once: a missing object becomes None where the
port allows it, a denied call an ApplyError naming the IAM action to grant, missing credentials or
region a UsageError (exit 2). Throttling is retried by botocore's adaptive retry mode.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import boto3
import botocore.session
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    CredentialRetrievalError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ProfileNotFound,
)
from botocore.parsers import ResponseParserError

from eks_platform.apply.ports import (
    AccessPolicyAssociation,
    AddonState,
    ChangeSet,
    Clock,
    CloudFormation,
    ClusterRequest,
    ClusterState,
    Ec2,
    Eks,
    EksAccess,
    EksAddons,
    FargateProfileState,
    Leftover,
    ResourceChange,
    StackEvent,
    StackState,
)
from eks_platform.errors import ApplyError, UsageError

MAX_ATTEMPTS = 10
RETRIES = Config(retries={"mode": "adaptive", "total_max_attempts": MAX_ATTEMPTS})
TEMPLATE_BODY_LIMIT = 51_200  # bytes; CloudFormation wants larger templates uploaded to S3
NO_CHANGES = "eksp:no-changes:"  # the id of a change set the service refused to make: nothing changed
EVENT_PAGES = 3  # describe_stack_events pages read per call (100 events each): enough to follow one run

CREDENTIALS_FIX = (
    "set AWS_PROFILE (or pass --profile), or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY; "
    "for SSO profiles run `aws sso login` first"
)
REGION_FIX = "set AWS_REGION or pass --region"

_NOT_FOUND_CODES = frozenset({"ResourceNotFoundException", "NotFoundException", "NoSuchEntity"})
_DENIED_CODES = frozenset(
    {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "UnauthorizedException", "Forbidden"}
)
# what botocore's retry mode retries as throttling; seen here only once its attempts (RETRIES) are used up
_THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "RequestThrottled",
        "SlowDown",
        "PriorRequestNotComplete",
    }
)
_BAD_CREDENTIALS_CODES = frozenset(
    {
        "ExpiredToken",
        "ExpiredTokenException",
        "InvalidClientTokenId",
        "UnrecognizedClientException",
        "AuthFailure",
        "SignatureDoesNotMatch",
        "InvalidAccessKeyId",
    }
)

# instance states that still hold (or may still hold) capacity
_LIVE_INSTANCE_STATES = ["pending", "running", "shutting-down", "stopping", "stopped"]


@dataclass(frozen=True)
class StaticCredentials:
    """Explicit keys, e.g. the fake ones of the local emulator; None means the standard chain."""

    access_key_id: str
    secret_access_key: str
    session_token: str | None = None


# --- error mapping -------------------------------------------------------------------------------


def is_not_found(error: ClientError) -> bool:
    code, message, _ = _code_and_message(error)
    return code in _NOT_FOUND_CODES or code.endswith(".NotFound") or "does not exist" in message


def _code_and_message(error: ClientError) -> tuple[str, str, int]:
    body = error.response.get("Error", {})
    code = str(body.get("Code", ""))
    message = str(body.get("Message", "")).strip() or code
    status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
    if message.startswith("<"):  # an XML/HTML page in place of a JSON error (moto does this for some calls)
        inner_code = re.search(r"<Code>(.*?)</Code>", message, re.S)
        inner_message = re.search(r"<Message>(.*?)</Message>", message, re.S)
        if inner_code:
            code = inner_code.group(1).strip()
            message = inner_message.group(1).strip() if inner_message else code
        else:
            message = f"the endpoint answered HTTP {status or code} (it does not implement {error.operation_name})"
    return code, message, status


def map_client_error(error: ClientError, *, service: str, resource: str) -> ApplyError | UsageError:
    """One boto3 ClientError -> our error, naming the IAM action and the resource."""
    code, message, status = _code_and_message(error)
    action = f"{service}:{error.operation_name}"
    if code in _BAD_CREDENTIALS_CODES:
        return UsageError(f"AWS rejected the credentials ({code}: {message}); fix: {CREDENTIALS_FIX}")
    if code in _DENIED_CODES or status == 403:
        return ApplyError(
            f"{action} on {resource} was denied: {message}; "
            f"fix: grant {action} to the caller (AWS_PROFILE or the role in use), or use a profile that has it"
        )
    if code in _THROTTLING_CODES:
        return ApplyError(
            f"{action} on {resource} was throttled by AWS {MAX_ATTEMPTS} times in a row "
            f"({code}: {message}); fix: run `eksp up` again in a few minutes (it resumes where it stopped), "
            "or ask AWS for a higher API rate limit if other tools share this account's quota"
        )
    return ApplyError(f"{action} on {resource} failed: {message}")


def map_botocore_error(error: BotoCoreError | ResponseParserError) -> UsageError | ApplyError:
    if isinstance(error, NoCredentialsError | PartialCredentialsError | CredentialRetrievalError):
        return UsageError(f"no usable AWS credentials ({error}); fix: {CREDENTIALS_FIX}")
    if isinstance(error, NoRegionError):
        return UsageError(f"no AWS region ({error}); fix: {REGION_FIX}")
    if isinstance(error, ProfileNotFound):
        return UsageError(f"{error}; fix: name a profile from ~/.aws/config in AWS_PROFILE or --profile")
    if isinstance(error, EndpointConnectionError | ConnectTimeoutError):
        return UsageError(
            f"cannot reach AWS ({error}); fix: check the network/proxy and the region ({REGION_FIX}), "
            "or the emulator's endpoint when running --local"
        )
    return ApplyError(f"AWS call failed: {str(error).splitlines()[0]}")


@dataclass(frozen=True)
class _Api:
    """One client, every call through the same error mapping."""

    client: Any
    service: str  # the IAM prefix: cloudformation, eks, ec2

    def call(self, method: str, resource: str, **kwargs: Any) -> dict[str, Any]:
        try:
            response: dict[str, Any] = getattr(self.client, method)(**kwargs)
        except ClientError as error:
            raise map_client_error(error, service=self.service, resource=resource) from error
        except (BotoCoreError, ResponseParserError) as error:
            raise map_botocore_error(error) from error
        return response

    def find(self, method: str, resource: str, **kwargs: Any) -> dict[str, Any] | None:
        """Like call, None when the object does not exist."""
        try:
            response: dict[str, Any] = getattr(self.client, method)(**kwargs)
        except ClientError as error:
            if is_not_found(error):
                return None
            raise map_client_error(error, service=self.service, resource=resource) from error
        except (BotoCoreError, ResponseParserError) as error:
            raise map_botocore_error(error) from error
        return response

    def pages(self, method: str, resource: str, **kwargs: Any) -> Iterator[dict[str, Any]]:
        try:
            yield from self.client.get_paginator(method).paginate(**kwargs)
        except ClientError as error:
            raise map_client_error(error, service=self.service, resource=resource) from error
        except (BotoCoreError, ResponseParserError) as error:
            raise map_botocore_error(error) from error


def _tags(tags: Mapping[str, str], *, key: str = "Key", value: str = "Value") -> list[dict[str, str]]:
    return [{key: k, value: v} for k, v in sorted(tags.items())]


# --- CloudFormation ------------------------------------------------------------------------------


class BotoCloudFormation:
    def __init__(self, client: Any) -> None:
        self._api = _Api(client, "cloudformation")

    def stack(self, name: str) -> StackState | None:
        found = self._api.find("describe_stacks", f"stack {name}", StackName=name)
        if not found or not found.get("Stacks"):
            return None
        stack = found["Stacks"][0]
        return StackState(
            name=stack["StackName"],
            status=stack["StackStatus"],
            outputs={o["OutputKey"]: str(o.get("OutputValue", "")) for o in stack.get("Outputs") or []},
            reason=stack.get("StackStatusReason") or "",
        )

    def create_change_set(
        self,
        *,
        stack: str,
        name: str,
        template: str,
        parameters: Mapping[str, str],
        tags: Mapping[str, str],
        create: bool,
    ) -> str:
        size = len(template.encode())
        if size > TEMPLATE_BODY_LIMIT:
            raise ApplyError(
                f"stack {stack}: the template is {size} bytes, over CloudFormation's {TEMPLATE_BODY_LIMIT}-byte "
                "limit for an inline template; fix: split the stack (this adapter does not upload templates to S3)"
            )
        kwargs: dict[str, Any] = {
            "StackName": stack,
            "ChangeSetName": name,
            "ChangeSetType": "CREATE" if create else "UPDATE",  # always explicit: moto defaults to CREATE
            "TemplateBody": template,
            "Parameters": _tags(parameters, key="ParameterKey", value="ParameterValue"),
            "Tags": _tags(tags),
            "Capabilities": ["CAPABILITY_NAMED_IAM"],
        }
        try:
            response = self._api.client.create_change_set(**kwargs)
        except ClientError as error:
            if "No updates are to be performed" in _code_and_message(error)[1]:
                # moto answers an unchanged UPDATE with parameters this way, where AWS makes a FAILED change set
                return f"{NO_CHANGES}{stack}/{name}"
            raise map_client_error(error, service="cloudformation", resource=f"stack {stack}") from error
        except (BotoCoreError, ResponseParserError) as error:
            raise map_botocore_error(error) from error
        return str(response["Id"])

    def change_set(self, change_set_id: str) -> ChangeSet:
        if change_set_id.startswith(NO_CHANGES):
            return ChangeSet(change_set_id, "FAILED", "No updates are to be performed.")
        resource = f"change set {change_set_id}"
        response = self._api.call("describe_change_set", resource, ChangeSetName=change_set_id)
        raw = list(response.get("Changes") or [])
        while response.get("NextToken"):
            response = self._api.call(
                "describe_change_set", resource, ChangeSetName=change_set_id, NextToken=response["NextToken"]
            )
            raw += response.get("Changes") or []
        changes = tuple(
            ResourceChange(
                action=str(c["ResourceChange"].get("Action", "")),
                logical_id=str(c["ResourceChange"].get("LogicalResourceId", "")),
                resource_type=str(c["ResourceChange"].get("ResourceType", "")),
                replacement=str(c["ResourceChange"].get("Replacement", "")),
            )
            for c in raw
            if c.get("Type", "Resource") == "Resource" and "ResourceChange" in c
        )
        return ChangeSet(
            id=str(response.get("ChangeSetId", change_set_id)),
            status=str(response["Status"]),
            reason=str(response.get("StatusReason") or ""),
            changes=changes,
        )

    def execute_change_set(self, change_set_id: str) -> None:
        if change_set_id.startswith(NO_CHANGES):
            raise ApplyError(f"change set {change_set_id} has no changes to execute")
        self._api.call("execute_change_set", f"change set {change_set_id}", ChangeSetName=change_set_id)

    def delete_change_set(self, change_set_id: str) -> None:
        if change_set_id.startswith(NO_CHANGES):
            return
        self._api.find("delete_change_set", f"change set {change_set_id}", ChangeSetName=change_set_id)

    def events(self, stack: str) -> Sequence[StackEvent]:
        """Newest first (CloudFormation's own order); the first EVENT_PAGES pages."""
        events: list[StackEvent] = []
        token: str | None = None
        for _ in range(EVENT_PAGES):
            kwargs: dict[str, Any] = {"StackName": stack} | ({"NextToken": token} if token else {})
            response = self._api.find("describe_stack_events", f"stack {stack}", **kwargs)
            if response is None:
                return []
            events += [
                StackEvent(
                    id=str(e["EventId"]),
                    timestamp=e["Timestamp"],
                    logical_id=str(e.get("LogicalResourceId", "")),
                    resource_type=str(e.get("ResourceType", "")),
                    status=str(e.get("ResourceStatus", "")),
                    reason=str(e.get("ResourceStatusReason") or ""),
                )
                for e in response.get("StackEvents") or []
            ]
            token = response.get("NextToken")
            if not token:
                break
        return events

    def delete_stack(self, stack: str) -> None:
        self._api.call("delete_stack", f"stack {stack}", StackName=stack)


# --- EKS -----------------------------------------------------------------------------------------


def _enabled_logs(logging: Any) -> tuple[str, ...] | None:
    if not isinstance(logging, Mapping):
        return None
    enabled = [
        t for setup in logging.get("clusterLogging") or [] if setup.get("enabled") for t in setup.get("types") or []
    ]
    return tuple(sorted(enabled))


def _selectors(raw: Sequence[Mapping[str, Any]]) -> tuple[tuple[str, tuple[tuple[str, str], ...]], ...]:
    return tuple(
        (str(s.get("namespace", "")), tuple(sorted((str(k), str(v)) for k, v in (s.get("labels") or {}).items())))
        for s in raw
    )


class BotoEks:
    def __init__(self, client: Any) -> None:
        self._api = _Api(client, "eks")

    def cluster(self, name: str) -> ClusterState | None:
        found = self._api.find("describe_cluster", f"cluster {name}", name=name)
        if found is None:
            return None
        cluster = found["cluster"]
        vpc = cluster.get("resourcesVpcConfig") or {}
        return ClusterState(
            name=str(cluster["name"]),
            status=str(cluster.get("status", "")),
            endpoint_public=bool(vpc.get("endpointPublicAccess", False)),
            endpoint_private=bool(vpc.get("endpointPrivateAccess", False)),
            public_access_cidrs=tuple(vpc.get("publicAccessCidrs") or ()),
            cluster_security_group_id=vpc.get("clusterSecurityGroupId") or None,
            oidc_issuer=((cluster.get("identity") or {}).get("oidc") or {}).get("issuer") or None,
            endpoint=cluster.get("endpoint") or None,
            log_types=_enabled_logs(cluster.get("logging")),
            certificate_authority=(cluster.get("certificateAuthority") or {}).get("data") or None,
        )

    def update_cluster(self, *, name: str, private_only: bool, log_types: Sequence[str] | None) -> None:
        if private_only:
            self._api.call(
                "update_cluster_config",
                f"cluster {name}",
                name=name,
                resourcesVpcConfig={"endpointPublicAccess": False, "endpointPrivateAccess": True},
            )
        if log_types is not None:
            every = ["api", "audit", "authenticator", "controllerManager", "scheduler"]
            enabled = [t for t in every if t in log_types]
            disabled = [t for t in every if t not in log_types]
            setup = [{"types": enabled, "enabled": True}] if enabled else []
            setup += [{"types": disabled, "enabled": False}] if disabled else []
            self._api.call("update_cluster_config", f"cluster {name}", name=name, logging={"clusterLogging": setup})

    def create_cluster(self, request: ClusterRequest) -> None:
        kwargs: dict[str, Any] = {
            "name": request.name,
            "version": request.version,
            "roleArn": request.role_arn,
            # private-only from the first call: the API server is never reachable from the internet
            "resourcesVpcConfig": {
                "subnetIds": list(request.subnet_ids),
                "securityGroupIds": list(request.security_group_ids),
                "endpointPublicAccess": False,
                "endpointPrivateAccess": True,
            },
            "kubernetesNetworkConfig": {"serviceIpv4Cidr": request.service_cidr, "ipFamily": "ipv4"},
            "accessConfig": {"authenticationMode": "API_AND_CONFIG_MAP"},
            "bootstrapSelfManagedAddons": False,  # no VPC CNI, kube-proxy, CoreDNS: Calico and our add-ons instead
            "tags": dict(request.tags),
        }
        if request.kms_key_arn:
            kwargs["encryptionConfig"] = [{"resources": ["secrets"], "provider": {"keyArn": request.kms_key_arn}}]
        if request.log_types:
            kwargs["logging"] = {"clusterLogging": [{"types": list(request.log_types), "enabled": True}]}
        self._api.call("create_cluster", f"cluster {request.name}", **kwargs)

    def delete_cluster(self, name: str) -> None:
        """Idempotent: a cluster already gone is not an error."""
        self._api.find("delete_cluster", f"cluster {name}", name=name)

    def fargate_profiles(self, cluster: str) -> Mapping[str, FargateProfileState]:
        if self._api.find("describe_cluster", f"cluster {cluster}", name=cluster) is None:
            return {}  # (moto answers ListFargateProfiles of a missing cluster with HTTP 500, retried for ~20 s)
        names: list[str] = []
        token: str | None = None
        while True:
            kwargs: dict[str, Any] = {"clusterName": cluster} | ({"nextToken": token} if token else {})
            response = self._api.find("list_fargate_profiles", f"cluster {cluster}", **kwargs)
            if response is None:
                return {}
            names += response.get("fargateProfileNames") or []
            token = response.get("nextToken")
            if not token:
                break
        profiles: dict[str, FargateProfileState] = {}
        for name in names:
            found = self._api.find(
                "describe_fargate_profile",
                f"Fargate profile {cluster}/{name}",
                clusterName=cluster,
                fargateProfileName=name,
            )
            if found is None:  # deleted between the list and the describe
                continue
            profile = found["fargateProfile"]
            profiles[name] = FargateProfileState(
                name=name,
                status=str(profile.get("status", "")),
                selectors=_selectors(profile.get("selectors") or []),
                subnet_ids=tuple(profile.get("subnets") or ()),
                pod_execution_role_arn=str(profile.get("podExecutionRoleArn", "")),
            )
        return profiles

    def create_fargate_profile(
        self,
        *,
        cluster: str,
        name: str,
        role_arn: str,
        subnet_ids: Sequence[str],
        selectors: Sequence[Mapping[str, Any]],
        tags: Mapping[str, str],
    ) -> None:
        self._api.call(
            "create_fargate_profile",
            f"Fargate profile {cluster}/{name}",
            clusterName=cluster,
            fargateProfileName=name,
            podExecutionRoleArn=role_arn,
            subnets=list(subnet_ids),
            selectors=[
                {"namespace": str(s["namespace"])} | ({"labels": dict(s["labels"])} if s.get("labels") else {})
                for s in selectors
            ],
            tags=dict(tags),
        )

    def delete_fargate_profile(self, *, cluster: str, name: str) -> None:
        """Idempotent: a profile already gone is not an error."""
        self._api.find(
            "delete_fargate_profile",
            f"Fargate profile {cluster}/{name}",
            clusterName=cluster,
            fargateProfileName=name,
        )


class BotoEksAddons:
    def __init__(self, client: Any) -> None:
        self._api = _Api(client, "eks")

    def addons(self, cluster: str) -> Mapping[str, AddonState]:
        names: list[str] = []
        for page in self._api.pages("list_addons", f"cluster {cluster}", clusterName=cluster):
            names += page.get("addons") or []
        found: dict[str, AddonState] = {}
        for name in names:
            response = self._api.find("describe_addon", f"add-on {cluster}/{name}", clusterName=cluster, addonName=name)
            if response is None:
                continue
            addon = response["addon"]
            found[name] = AddonState(
                name=name,
                status=str(addon.get("status", "")),
                version=str(addon.get("addonVersion", "")),
                configuration=str(addon.get("configurationValues") or ""),
            )
        return found

    def create_addon(
        self, *, cluster: str, name: str, version: str | None, configuration: str, role_arn: str | None
    ) -> None:
        self._api.call(
            "create_addon", f"add-on {cluster}/{name}", **self._request(cluster, name, version, configuration, role_arn)
        )

    def update_addon(
        self, *, cluster: str, name: str, version: str | None, configuration: str, role_arn: str | None
    ) -> None:
        self._api.call(
            "update_addon", f"add-on {cluster}/{name}", **self._request(cluster, name, version, configuration, role_arn)
        )

    @staticmethod
    def _request(
        cluster: str, name: str, version: str | None, configuration: str, role_arn: str | None
    ) -> dict[str, Any]:
        if configuration:
            json.loads(configuration)  # fail here, not in EKS, on a malformed document
        return (
            {"clusterName": cluster, "addonName": name, "resolveConflicts": "OVERWRITE"}
            | ({"addonVersion": version} if version else {})
            | ({"configurationValues": configuration} if configuration else {})
            | ({"serviceAccountRoleArn": role_arn} if role_arn else {})
        )


class BotoEksAccess:
    def __init__(self, client: Any) -> None:
        self._api = _Api(client, "eks")

    def access_entries(self, cluster: str) -> Mapping[str, frozenset[AccessPolicyAssociation]]:
        principals: list[str] = []
        for page in self._api.pages("list_access_entries", f"cluster {cluster}", clusterName=cluster):
            principals += page.get("accessEntries") or []
        found: dict[str, frozenset[AccessPolicyAssociation]] = {}
        for principal in principals:
            associations = set()
            for page in self._api.pages(
                "list_associated_access_policies",
                f"access entry {principal}",
                clusterName=cluster,
                principalArn=principal,
            ):
                for policy in page.get("associatedAccessPolicies") or []:
                    scope = policy.get("accessScope") or {}
                    associations.add(
                        AccessPolicyAssociation(
                            str(policy["policyArn"]),
                            str(scope.get("type", "cluster")),
                            tuple(scope.get("namespaces") or ()),
                        )
                    )
            found[principal] = frozenset(associations)
        return found

    def create_access_entry(self, *, cluster: str, principal_arn: str, tags: Mapping[str, str]) -> None:
        self._api.call(
            "create_access_entry",
            f"access entry {principal_arn}",
            clusterName=cluster,
            principalArn=principal_arn,
            type="STANDARD",
            tags=dict(tags),
        )

    def associate_access_policy(
        self, *, cluster: str, principal_arn: str, association: AccessPolicyAssociation
    ) -> None:
        scope: dict[str, Any] = {"type": association.scope}
        if association.namespaces:
            scope["namespaces"] = list(association.namespaces)
        self._api.call(
            "associate_access_policy",
            f"access entry {principal_arn}",
            clusterName=cluster,
            principalArn=principal_arn,
            policyArn=association.policy_arn,
            accessScope=scope,
        )


# --- EC2 -----------------------------------------------------------------------------------------


def _owner_filters(cluster: str) -> list[list[dict[str, Any]]]:
    """The three ways a node's resources name their cluster; EC2 ANDs filters, so one query each."""
    return [
        [{"Name": "tag:karpenter.sh/discovery", "Values": [cluster]}],
        [{"Name": "tag:eks-platform.io/cluster", "Values": [cluster]}],
        [{"Name": "tag-key", "Values": [f"kubernetes.io/cluster/{cluster}"]}],
    ]


class BotoEc2:
    def __init__(self, client: Any) -> None:
        self._api = _Api(client, "ec2")

    def tag(self, resource_ids: Sequence[str], tags: Mapping[str, str]) -> None:
        if resource_ids and tags:
            self._api.call("create_tags", ", ".join(resource_ids), Resources=list(resource_ids), Tags=_tags(tags))

    def untag(self, resource_ids: Sequence[str], keys: Sequence[str]) -> None:
        if resource_ids and keys:
            self._api.call(
                "delete_tags", ", ".join(resource_ids), Resources=list(resource_ids), Tags=[{"Key": k} for k in keys]
            )

    def leftovers(self, cluster: str) -> Sequence[Leftover]:
        found: dict[tuple[str, str], Leftover] = {}
        resource = f"the nodes of cluster {cluster}"
        for filters in _owner_filters(cluster):
            live = [*filters, {"Name": "instance-state-name", "Values": _LIVE_INSTANCE_STATES}]
            for page in self._api.pages("describe_instances", resource, Filters=live):
                for reservation in page.get("Reservations") or []:
                    for i in reservation.get("Instances") or []:
                        detail = f"{i.get('InstanceType', '')} {i.get('State', {}).get('Name', '')}".strip()
                        found["instance", i["InstanceId"]] = Leftover("instance", i["InstanceId"], detail)
            for page in self._api.pages("describe_network_interfaces", resource, Filters=filters):
                for eni in page.get("NetworkInterfaces") or []:
                    eni_id = eni["NetworkInterfaceId"]
                    found["network-interface", eni_id] = Leftover(
                        "network-interface", eni_id, str(eni.get("Status", ""))
                    )
            for page in self._api.pages("describe_launch_templates", resource, Filters=filters):
                for lt in page.get("LaunchTemplates") or []:
                    lt_id = lt["LaunchTemplateId"]
                    found["launch-template", lt_id] = Leftover(
                        "launch-template", lt_id, str(lt.get("LaunchTemplateName", ""))
                    )
        return sorted(found.values(), key=lambda left: (left.kind, left.id))

    def terminate(self, leftovers: Sequence[Leftover]) -> None:
        """Terminate instances, delete launch templates and detached network interfaces. An interface still
        attached (detail "in-use") goes with its instance; one already gone is not an error."""
        instances = [left.id for left in leftovers if left.kind == "instance"]
        for start in range(0, len(instances), 500):
            batch = instances[start : start + 500]
            self._api.find("terminate_instances", ", ".join(batch), InstanceIds=batch)
        for left in leftovers:
            if left.kind == "launch-template":
                self._api.find("delete_launch_template", f"launch template {left.id}", LaunchTemplateId=left.id)
            elif left.kind == "network-interface" and left.detail != "in-use":
                self._api.find("delete_network_interface", f"network interface {left.id}", NetworkInterfaceId=left.id)


# --- clock and the factory -----------------------------------------------------------------------


class SystemClock:
    def now(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


@dataclass(frozen=True)
class AwsAdapters:
    """The engine's ports over one boto3 session (typed as the ports, so mypy checks the adapters fit)."""

    cloudformation: CloudFormation
    eks: Eks
    ec2: Ec2
    addons: EksAddons
    access: EksAccess
    clock: Clock
    region: str
    endpoint_url: str | None = None
    session: Any = None  # the boto3 Session, for the EKS token (eks_token.py)


def clients(
    *,
    profile: str | None,
    region: str | None,
    endpoint_url: str | None,
    credentials: StaticCredentials | None = None,
) -> AwsAdapters:
    """Build the boto3 clients once. Credentials and region come from the standard chain (AWS_PROFILE,
    AWS_REGION, ~/.aws/config, instance roles...) unless given; explicit credentials (the local
    emulator's) take the place of the profile."""
    try:
        if credentials is not None:
            # explicit keys (the local emulator's): the environment's AWS_PROFILE must not get in the way
            isolated = botocore.session.Session(session_vars={"profile": (None, None, None, None)})
            session = boto3.session.Session(
                botocore_session=isolated,
                aws_access_key_id=credentials.access_key_id,
                aws_secret_access_key=credentials.secret_access_key,
                aws_session_token=credentials.session_token,
                region_name=region,
            )
        else:
            session = boto3.session.Session(profile_name=profile, region_name=region)
        resolved = session.region_name
        if not resolved:
            raise UsageError(f"no AWS region; fix: {REGION_FIX}")

        def client(service: str) -> Any:
            return session.client(service, region_name=resolved, endpoint_url=endpoint_url, config=RETRIES)

        eks = client("eks")
        return AwsAdapters(
            cloudformation=BotoCloudFormation(client("cloudformation")),
            eks=BotoEks(eks),
            ec2=BotoEc2(client("ec2")),
            addons=BotoEksAddons(eks),
            access=BotoEksAccess(eks),
            clock=SystemClock(),
            region=str(resolved),
            endpoint_url=endpoint_url,
            session=session,
        )
    except BotoCoreError as error:
        raise map_botocore_error(error) from error
