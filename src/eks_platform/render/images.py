"""The private registry: every image is pulled as <prefix>/<upstream host>/<path>, so one mirror
job (ECR pull-through cache, or crane/skopeo copy by digest) keeps upstream paths and digests."""

from __future__ import annotations

from eks_platform.spec.model import Platform


def registry_for(platform: Platform, upstream_host: str) -> str:
    """The registry host (and path) to pull an image of upstream_host from."""
    if platform.registry is None:
        return upstream_host
    return f"{platform.registry.prefix}/{upstream_host}"


def repository_for(platform: Platform, upstream: str) -> str:
    """A full repository (host/path) rewritten to the mirror."""
    host, _, path = upstream.partition("/")
    return f"{registry_for(platform, host)}/{path}"
