"""eks-platform: one declarative spec for a fully private Amazon EKS platform."""

__version__ = "0.1.0"
