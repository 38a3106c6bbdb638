"""Every rule eksp check runs, in one explicit tuple (one file per rule; ids never change)."""

from __future__ import annotations

from eks_platform.checks.rule import Rule
from eks_platform.checks.rules.ep100_placement_refusals import Ep100PlacementRefusals
from eks_platform.checks.rules.ep101_ippool_overlaps_network import Ep101IppoolOverlapsNetwork
from eks_platform.checks.rules.ep102_ippool_capacity import Ep102IppoolCapacity
from eks_platform.checks.rules.ep103_public_endpoint import Ep103PublicEndpoint
from eks_platform.checks.rules.ep104_endpoint_access_cidrs import Ep104EndpointAccessCidrs
from eks_platform.checks.rules.ep105_private_vpc_endpoints import Ep105PrivateVpcEndpoints
from eks_platform.checks.rules.ep106_node_sg_allows_api_server_ports import Ep106NodeSgAllowsApiServerPorts
from eks_platform.checks.rules.ep201_fargate_inadmissible_pod import Ep201FargateInadmissiblePod
from eks_platform.checks.rules.ep202_fargate_daemonset import Ep202FargateDaemonset
from eks_platform.checks.rules.ep203_fargate_kubelet_port import Ep203FargateKubeletPort
from eks_platform.checks.rules.ep204_network_policy_on_fargate import Ep204NetworkPolicyOnFargate
from eks_platform.checks.rules.ep301_webhook_backends_on_vpc import Ep301WebhookBackendsOnVpc
from eks_platform.checks.rules.ep302_conversion_webhook_backends_on_vpc import Ep302ConversionWebhookBackendsOnVpc
from eks_platform.checks.rules.ep303_apiservice_backends_on_vpc import Ep303ApiserviceBackendsOnVpc
from eks_platform.checks.rules.ep304_load_balancer_targets_on_vpc import Ep304LoadBalancerTargetsOnVpc
from eks_platform.checks.rules.ep305_host_port_clash import Ep305HostPortClash
from eks_platform.checks.rules.ep306_fargate_client_to_overlay_service import Ep306FargateClientToOverlayService
from eks_platform.checks.rules.ep307_overlay_egress_needs_nat_outgoing import Ep307OverlayEgressNeedsNatOutgoing
from eks_platform.checks.rules.ep401_requirement_unknown_value import Ep401RequirementUnknownValue
from eks_platform.checks.rules.ep402_requirement_duplicate_value import Ep402RequirementDuplicateValue
from eks_platform.checks.rules.ep403_requirements_match_nothing import Ep403RequirementsMatchNothing
from eks_platform.checks.rules.ep404_numeric_operator_on_non_numeric_key import Ep404NumericOperatorOnNonNumericKey
from eks_platform.checks.rules.ep405_node_class_ref import Ep405NodeClassRef
from eks_platform.checks.rules.ep406_max_pods_unset import Ep406MaxPodsUnset
from eks_platform.checks.rules.ep407_single_node_pool_limits import Ep407SingleNodePoolLimits
from eks_platform.checks.rules.ep408_ttl_empty_with_consolidation import Ep408TtlEmptyWithConsolidation
from eks_platform.checks.rules.ep409_deprecated_v1alpha5 import Ep409DeprecatedV1alpha5
from eks_platform.checks.rules.ep410_karpenter_supports_kubernetes import Ep410KarpenterSupportsKubernetes
from eks_platform.checks.rules.ep411_pod_matches_no_pool import Ep411PodMatchesNoPool
from eks_platform.checks.rules.ep501_single_node_pool_fit import Ep501SingleNodePoolFit
from eks_platform.checks.rules.ep502_single_node_pool_headroom import Ep502SingleNodePoolHeadroom
from eks_platform.checks.rules.ep503_requests_on_single_node_pool import Ep503RequestsOnSingleNodePool
from eks_platform.checks.rules.ep601_imdsv2_required import Ep601Imdsv2Required
from eks_platform.checks.rules.ep602_ebs_encrypted import Ep602EbsEncrypted
from eks_platform.checks.rules.ep603_secrets_encryption import Ep603SecretsEncryption
from eks_platform.checks.rules.ep604_control_plane_logging import Ep604ControlPlaneLogging
from eks_platform.checks.rules.ep605_default_deny_per_namespace import Ep605DefaultDenyPerNamespace

RULES: tuple[Rule, ...] = (
    Ep100PlacementRefusals(),
    Ep101IppoolOverlapsNetwork(),
    Ep102IppoolCapacity(),
    Ep103PublicEndpoint(),
    Ep104EndpointAccessCidrs(),
    Ep105PrivateVpcEndpoints(),
    Ep106NodeSgAllowsApiServerPorts(),
    Ep201FargateInadmissiblePod(),
    Ep202FargateDaemonset(),
    Ep203FargateKubeletPort(),
    Ep204NetworkPolicyOnFargate(),
    Ep301WebhookBackendsOnVpc(),
    Ep302ConversionWebhookBackendsOnVpc(),
    Ep303ApiserviceBackendsOnVpc(),
    Ep304LoadBalancerTargetsOnVpc(),
    Ep305HostPortClash(),
    Ep306FargateClientToOverlayService(),
    Ep307OverlayEgressNeedsNatOutgoing(),
    Ep401RequirementUnknownValue(),
    Ep402RequirementDuplicateValue(),
    Ep403RequirementsMatchNothing(),
    Ep404NumericOperatorOnNonNumericKey(),
    Ep405NodeClassRef(),
    Ep406MaxPodsUnset(),
    Ep407SingleNodePoolLimits(),
    Ep408TtlEmptyWithConsolidation(),
    Ep409DeprecatedV1alpha5(),
    Ep410KarpenterSupportsKubernetes(),
    Ep411PodMatchesNoPool(),
    Ep501SingleNodePoolFit(),
    Ep502SingleNodePoolHeadroom(),
    Ep503RequestsOnSingleNodePool(),
    Ep601Imdsv2Required(),
    Ep602EbsEncrypted(),
    Ep603SecretsEncryption(),
    Ep604ControlPlaneLogging(),
    Ep605DefaultDenyPerNamespace(),
)
