from __future__ import annotations

from collections.abc import Iterator, Mapping

from eks_platform.checks.context import CheckContext
from eks_platform.checks.finding import Finding, Severity
from eks_platform.checks.rule import Rule
from eks_platform.checks.rules.network_common import unique
from eks_platform.errors import Loc

# The platform's block devices (render/karpenter.py) and the spec keys they come from.
SPEC_VOLUMES: dict[str, Loc] = {
    "/dev/xvda": ("karpenter", "nodeTemplate", "osVolume", "encrypted"),
    "/dev/xvdb": ("karpenter", "nodeTemplate", "dataVolume", "encrypted"),
}
NODE_CLASS_GROUP = "karpenter.k8s.aws"


class Ep602EbsEncrypted(Rule):
    """blockDeviceMappings left out: Karpenter's defaults for each AMI family are encrypted volumes."""

    id = "EP602"
    severity = Severity.error
    title = "Every EBS volume of a Karpenter node class is encrypted"
    fix = "set encrypted: true on every blockDeviceMappings[].ebs (karpenter.nodeTemplate.*Volume.encrypted)"
    url = "https://karpenter.sh/docs/concepts/nodeclasses/#specblockdevicemappings"

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        yield from unique(self._findings(ctx))

    def _findings(self, ctx: CheckContext) -> Iterator[Finding]:
        for obj in ctx.of_kind("EC2NodeClass", "AWSNodeTemplate"):
            if obj.group != NODE_CLASS_GROUP:
                continue
            devices = obj.spec.get("blockDeviceMappings")
            for index, device in enumerate(devices if isinstance(devices, list) else []):
                ebs = device.get("ebs") if isinstance(device, Mapping) else None
                if not isinstance(ebs, Mapping) or ebs.get("encrypted") is True:
                    continue
                name = str(device.get("deviceName", f"device {index}"))
                if "encrypted" in ebs:
                    state = f"encrypted: {str(ebs['encrypted']).lower()}"
                else:
                    state = "no encrypted: true (EC2 then encrypts it only if the account encrypts EBS by default)"
                message = (
                    f"{obj.kind} {obj.name}: the EBS volume {name} has {state}: node data, image layers and "
                    "emptyDir volumes are written to disk in the clear"
                )
                spec_loc = SPEC_VOLUMES.get(name)
                if obj.origin.startswith("rendered") and spec_loc is not None:
                    yield self.on_spec(ctx, spec_loc, message)
                else:
                    yield self.on_object(obj, ("spec", "blockDeviceMappings", index, "ebs", "encrypted"), message)
