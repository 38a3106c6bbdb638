"""Upstream CRD schemas shipped with eks_platform, and validation of custom resources against them."""
