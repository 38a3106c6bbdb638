"""The narrow interface between the apply engine and AWS. The engine speaks only these; the boto3
adapter (boto.py) implements them for real AWS and moto's server, and the tests use a fake.

Values are plain and frozen, so the engine never sees a boto3 response.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol


@dataclass(frozen=True)
class StackState:
    name: str
    status: str  # CloudFormation's StackStatus, e.g. CREATE_COMPLETE, ROLLBACK_COMPLETE, REVIEW_IN_PROGRESS
    outputs: Mapping[str, str] = field(default_factory=dict)
    reason: str = ""


@dataclass(frozen=True)
class ResourceChange:
    action: str  # Add, Modify, Remove, Import, Dynamic
    logical_id: str
    resource_type: str
    replacement: str = ""  # True, False, Conditional ("" when not a Modify)


@dataclass(frozen=True)
class ChangeSet:
    id: str
    status: str  # CREATE_PENDING, CREATE_IN_PROGRESS, CREATE_COMPLETE, FAILED
    reason: str = ""
    changes: tuple[ResourceChange, ...] = ()

    @property
    def empty(self) -> bool:
        """CloudFormation's way of saying "nothing to do": a FAILED change set without changes."""
        return self.status == "FAILED" and ("didn't contain changes" in self.reason or "No updates" in self.reason)


@dataclass(frozen=True)
class StackEvent:
    id: str
    timestamp: datetime
    logical_id: str
    resource_type: str
    status: str
    reason: str = ""


class CloudFormation(Protocol):
    def stack(self, name: str) -> StackState | None: ...

    def create_change_set(
        self,
        *,
        stack: str,
        name: str,
        template: str,
        parameters: Mapping[str, str],
        tags: Mapping[str, str],
        create: bool,
    ) -> str: ...

    def change_set(self, change_set_id: str) -> ChangeSet: ...

    def execute_change_set(self, change_set_id: str) -> None: ...

    def delete_change_set(self, change_set_id: str) -> None: ...

    def events(self, stack: str) -> Sequence[StackEvent]: ...  # newest first

    def delete_stack(self, stack: str) -> None: ...


@dataclass(frozen=True)
class ClusterState:
    name: str
    status: str  # CREATING, ACTIVE, DELETING, FAILED, UPDATING
    endpoint_public: bool
    endpoint_private: bool
    public_access_cidrs: tuple[str, ...] = ()
    cluster_security_group_id: str | None = None
    oidc_issuer: str | None = None
    endpoint: str | None = None
    log_types: tuple[str, ...] | None = None  # enabled control-plane log types; None: not reported
    certificate_authority: str | None = None  # base64 PEM, as EKS reports it


@dataclass(frozen=True)
class ClusterRequest:
    name: str
    version: str
    role_arn: str
    subnet_ids: tuple[str, ...]
    security_group_ids: tuple[str, ...]
    service_cidr: str
    kms_key_arn: str | None
    log_types: tuple[str, ...]
    tags: Mapping[str, str]


@dataclass(frozen=True)
class FargateProfileState:
    name: str
    status: str  # CREATING, ACTIVE, DELETING, CREATE_FAILED, DELETE_FAILED
    selectors: tuple[tuple[str, tuple[tuple[str, str], ...]], ...]  # (namespace, sorted labels)
    subnet_ids: tuple[str, ...] = ()
    pod_execution_role_arn: str = ""


class Eks(Protocol):
    def cluster(self, name: str) -> ClusterState | None: ...

    def create_cluster(self, request: ClusterRequest) -> None: ...

    def delete_cluster(self, name: str) -> None: ...

    def update_cluster(self, *, name: str, private_only: bool, log_types: Sequence[str] | None) -> None:
        """Make the endpoint private-only (when private_only) and/or set the enabled log types."""
        ...

    def fargate_profiles(self, cluster: str) -> Mapping[str, FargateProfileState]: ...

    def create_fargate_profile(
        self,
        *,
        cluster: str,
        name: str,
        role_arn: str,
        subnet_ids: Sequence[str],
        selectors: Sequence[Mapping[str, Any]],
        tags: Mapping[str, str],
    ) -> None: ...

    def delete_fargate_profile(self, *, cluster: str, name: str) -> None: ...


class Clock(Protocol):
    def now(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


@dataclass(frozen=True)
class Leftover:
    kind: str  # instance, network-interface, launch-template, ...
    id: str
    detail: str = ""


class Ec2(Protocol):
    def tag(self, resource_ids: Sequence[str], tags: Mapping[str, str]) -> None: ...

    def untag(self, resource_ids: Sequence[str], keys: Sequence[str]) -> None: ...

    def leftovers(self, cluster: str) -> Sequence[Leftover]:
        """EC2 instances (not terminated), network interfaces and launch templates that belong to the
        cluster's nodes: tagged karpenter.sh/discovery=<cluster>, eks-platform.io/cluster=<cluster> or
        kubernetes.io/cluster/<cluster>."""
        ...

    def terminate(self, leftovers: Sequence[Leftover]) -> None: ...


@dataclass(frozen=True)
class AddonState:
    name: str
    status: str
    version: str = ""
    configuration: str = ""


class EksAddons(Protocol):
    """EKS managed add-ons (not emulated by moto: the local target reports them as skipped)."""

    def addons(self, cluster: str) -> Mapping[str, AddonState]: ...

    def create_addon(
        self, *, cluster: str, name: str, version: str | None, configuration: str, role_arn: str | None
    ) -> None: ...

    def update_addon(
        self, *, cluster: str, name: str, version: str | None, configuration: str, role_arn: str | None
    ) -> None: ...


@dataclass(frozen=True)
class AccessPolicyAssociation:
    policy_arn: str
    scope: str  # "cluster" or "namespace"
    namespaces: tuple[str, ...] = ()


class EksAccess(Protocol):
    """EKS access entries (not emulated by moto: the local target reports them as skipped)."""

    def access_entries(self, cluster: str) -> Mapping[str, frozenset[AccessPolicyAssociation]]: ...

    def create_access_entry(self, *, cluster: str, principal_arn: str, tags: Mapping[str, str]) -> None: ...

    def associate_access_policy(
        self, *, cluster: str, principal_arn: str, association: AccessPolicyAssociation
    ) -> None: ...
