"""The cluster's default StorageClass: encrypted gp3 through the EBS CSI driver (the managed add-on).

EKS creates no default class on new clusters (the in-tree gp2 one is gone), so without this a volume
claim that names no class (Loki's, a pilot's database) would stay Pending."""

from __future__ import annotations

from eks_platform.render.bundle import Obj
from eks_platform.spec import defaults as d
from eks_platform.spec.model import Platform

DEFAULT_STORAGE_CLASS = "gp3"


def render_storage_classes(platform: Platform) -> list[Obj]:
    """The EBS CSI driver is always installed (managed add-on), so the class always has its provisioner."""
    del platform  # one class for every platform, for now
    return [
        {
            "apiVersion": "storage.k8s.io/v1",
            "kind": "StorageClass",
            "metadata": {
                "name": DEFAULT_STORAGE_CLASS,
                "annotations": {"storageclass.kubernetes.io/is-default-class": "true"},
                "labels": {d.MANAGED_BY_LABEL: d.MANAGED_BY_VALUE},
            },
            "provisioner": "ebs.csi.aws.com",
            "parameters": {"type": "gp3", "encrypted": "true", "csi.storage.k8s.io/fstype": "ext4"},
            "reclaimPolicy": "Delete",
            # bound where the pod lands: an EBS volume lives in one zone, Karpenter picks the node's
            "volumeBindingMode": "WaitForFirstConsumer",
            "allowVolumeExpansion": True,
        }
    ]
