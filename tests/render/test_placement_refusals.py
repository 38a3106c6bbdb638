"""Placements that cannot work are refused at render time, with the exact path and message;
and the reference platform's placement is pinned: where each component runs, which Fargate
profile takes it, and the host ports of the shared add-ons node."""

from __future__ import annotations

import pytest
from tests.reference_edits import FILE, Edit, catalog, edited
from tests.render.helpers import reference_bundle

from eks_platform.errors import SpecError, SpecIssue
from eks_platform.render import render
from eks_platform.render.placement import selector_matches
from eks_platform.spec.loading import LoadedSpec, load_text
from eks_platform.spec.model import FargateSelector

LABEL_FIX = (
    "add labels {eks-platform.io/compute: fargate} so the selector picks only the pods eks-platform places on Fargate"
)
OVERLAY_UNREACHABLE = (
    "the API server cannot open connections to pods on the Calico overlay "
    "(webhook calls fail with 'Address is not allowed')"
)

CALICO_SYSTEM_SELECTOR = (
    "        - namespace: calico-system\n"
    "          labels: {eks-platform.io/compute: fargate}   # calico-kube-controllers only; typha is host-network\n"
)
MONITORING_SELECTOR = (
    "        - namespace: monitoring\n"
    "          labels: {eks-platform.io/compute: fargate}   # prometheus-operator (admission webhook)\n"
)
KARPENTER_SELECTOR = "        - namespace: karpenter                         # only Karpenter lives there\n"


def loaded(*edits: Edit) -> LoadedSpec:
    # every case here is a valid spec: the refusal comes from render, not from loading
    return load_text(edited(*edits), file=FILE, catalog=catalog())


def refusals(*edits: Edit) -> list[SpecIssue]:
    spec = loaded(*edits)
    with pytest.raises(SpecError) as raised:
        render(spec.platform, catalog=catalog())
    return list(raised.value.issues)


def refusal_texts(*edits: Edit) -> list[str]:
    return [str(issue) for issue in refusals(*edits)]


# --- refusals --------------------------------------------------------------------------------------

REFUSED = [
    # (a) hostNetwork on Fargate: a selector that takes a whole namespace holding host-network pods
    pytest.param(
        [(CALICO_SYSTEM_SELECTOR, "        - namespace: calico-system\n")],
        [
            "<spec> fargate.profiles[1].selectors[0]: selects calico-node (namespace calico-system), which must not "
            f"run on Fargate: Fargate runs no DaemonSets; {LABEL_FIX}",
            "<spec> fargate.profiles[1].selectors[0]: selects calico-typha (namespace calico-system), which must not "
            f"run on Fargate: the operator runs typha in the host network, which Fargate rejects; {LABEL_FIX}",
        ],
        id="fargate-selects-calico-system-namespace",
    ),
    pytest.param(
        [(MONITORING_SELECTOR, "        - namespace: tigera-operator\n" + MONITORING_SELECTOR)],
        [
            "<spec> fargate.profiles[1].selectors[1]: selects tigera-operator (namespace tigera-operator), which must "
            "not run on Fargate: its chart hard-codes hostNetwork: true and a hostPath volume, which Fargate "
            f"rejects; {LABEL_FIX}",
        ],
        id="fargate-selects-tigera-operator-namespace",
    ),
    pytest.param(
        [
            (
                "        - namespace: kube-system\n          labels: {k8s-app: kube-dns}                  "
                "# CoreDNS (EKS add-on, computeType Fargate)\n",
                "        - namespace: kube-system\n",
            )
        ],
        [
            "<spec> fargate.profiles[0].selectors[0]: selects kube-proxy (namespace kube-system), which must not run "
            f"on Fargate: Fargate runs no DaemonSets; {LABEL_FIX}",
            "<spec> fargate.profiles[0].selectors[0]: selects ebs-csi-node (namespace kube-system), which must not "
            f"run on Fargate: Fargate runs no DaemonSets; {LABEL_FIX}",
            "<spec> fargate.profiles[0].selectors[0]: selects efs-csi-node (namespace kube-system), which must not "
            f"run on Fargate: Fargate runs no DaemonSets; {LABEL_FIX}",
        ],
        id="fargate-selects-kube-system-namespace",
    ),
    # (b) port 10250 on Fargate
    pytest.param(
        [("  metricsServer: {runsOn: fargate, port: 10251}", "  metricsServer: {runsOn: fargate, port: 10250}")],
        [
            "<spec> addons.metricsServer.port: metrics-server would serve on 10250, the port Fargate reserves for "
            "its own kubelet; use another port, e.g. port: 10251",
        ],
        id="metrics-server-on-fargate-port-10250",
    ),
    # (c) something the API server calls, on the overlay
    pytest.param(
        [("  ingressNginx: {runsOn: hostNetwork}", "  ingressNginx: {runsOn: overlay}")],
        [
            "<spec> addons.ingressNginx.runsOn: ingress-nginx-controller cannot run on overlay: "
            f"{OVERLAY_UNREACHABLE}; NLB IP targets need a VPC IP; use runsOn: hostNetwork",
        ],
        id="ingress-nginx-webhook-on-overlay",
    ),
    pytest.param(
        [("  metricsServer: {runsOn: fargate, port: 10251}", "  metricsServer: {runsOn: overlay}")],
        [
            "<spec> addons.metricsServer.runsOn: metrics-server cannot run on overlay: "
            "the API server cannot open connections to pods on the Calico overlay, "
            "so APIService v1beta1.metrics.k8s.io would stay FailedDiscoveryCheck; "
            "use runsOn: fargate or hostNetwork",
        ],
        id="metrics-server-apiservice-on-overlay",
    ),
    pytest.param(
        [("  prometheus: {runsOn: fargate, port: 10260}", "  prometheus: {runsOn: overlay}")],
        [
            "<spec> addons.prometheus.runsOn: prometheus-operator cannot run on overlay: "
            f"{OVERLAY_UNREACHABLE}; use runsOn: fargate or hostNetwork",
        ],
        id="prometheus-operator-webhook-on-overlay",
    ),
    # something that must reach the overlay, on Fargate
    pytest.param(
        [("  grafana: {runsOn: overlay}", "  grafana: {runsOn: fargate}")],
        [
            "<spec> addons.grafana.runsOn: grafana cannot run on fargate: it must connect to pods on the Calico "
            "overlay, which a Fargate pod cannot reach (Prometheus and Loki); use runsOn: overlay",
        ],
        id="grafana-on-fargate",
    ),
    # (d) two host-network pods on one port of one node
    pytest.param(
        [("  metricsServer: {runsOn: fargate, port: 10251}", "  metricsServer: {runsOn: hostNetwork, port: 8443}")],
        [
            "<spec> addons.metricsServer.port: metrics-server needs host port 8443/TCP on pool addons, which "
            "ingress-nginx-controller already uses; choose a free port",
        ],
        id="metrics-server-host-port-clashes-with-ingress-webhook",
    ),
    # (e) placed on Fargate, but no profile selects it
    pytest.param(
        [(MONITORING_SELECTOR, "")],
        [
            "<spec> fargate.profiles: prometheus-operator is placed on Fargate, but no Fargate profile selects its "
            "pods (namespace monitoring, labels {app: kube-prometheus-stack-operator, eks-platform.io/compute: "
            "fargate}); it would stay Pending; add a selector {namespace: monitoring, labels: "
            "{eks-platform.io/compute: fargate}}",
        ],
        id="prometheus-operator-on-fargate-without-profile",
    ),
    pytest.param(
        [
            (
                "        - namespace: kube-system\n          labels: {app: ebs-csi-controller}            "
                "# EBS CSI controller (EKS add-on)\n",
                "",
            )
        ],
        [
            "<spec> fargate.profiles: ebs-csi-controller is placed on Fargate, but no Fargate profile selects its "
            "pods (namespace kube-system, labels {app: ebs-csi-controller}); it would stay Pending; add a selector "
            "{namespace: kube-system, labels: {app: ebs-csi-controller}}",
        ],
        id="ebs-csi-controller-on-fargate-without-profile",
    ),
]


@pytest.mark.parametrize(("edits", "expected"), REFUSED)
def test_forbidden_placement_is_refused(edits: list[Edit], expected: list[str]) -> None:
    assert refusal_texts(*edits) == expected


def test_refusal_is_located_on_the_line_the_user_wrote() -> None:
    spec = loaded(
        ("  metricsServer: {runsOn: fargate, port: 10251}", "  metricsServer: {runsOn: fargate, port: 10250}")
    )
    with pytest.raises(SpecError) as raised:
        render(spec.platform, catalog=catalog())
    [issue] = raised.value.issues
    assert issue.line is None  # render knows no lines; the CLI locates them
    assert str(spec.source.locate(issue)) == (
        "platform.yaml:132 addons.metricsServer.port: metrics-server would serve on 10250, the port Fargate reserves "
        "for its own kubelet; use another port, e.g. port: 10251"
    )


# --- (d) host-port clashes on the single add-ons node ------------------------------------------------

CONTROL_PLANE_REPLICAS_2 = ("  controlPlaneReplicas: 1 ", "  controlPlaneReplicas: 2 ")
TWO_APISERVERS = (
    "2 replicas of calico-apiserver use host port 5443 on the single node of pool addons: only one can start"
)


def test_two_calico_apiservers_on_the_single_addons_node_are_refused() -> None:
    [issue] = refusals(CONTROL_PLANE_REPLICAS_2)
    assert issue.message == TWO_APISERVERS


def test_two_calico_apiservers_point_at_control_plane_replicas() -> None:
    spec = loaded(CONTROL_PLANE_REPLICAS_2)
    with pytest.raises(SpecError) as raised:
        render(spec.platform, catalog=catalog())
    [issue] = raised.value.issues
    assert issue.path == "calico.controlPlaneReplicas"
    assert spec.source.locate(issue).line == 83
    assert "Fargate" not in issue.fix


def test_calico_apiserver_on_the_kubelet_port_is_refused() -> None:
    [issue] = refusals(("  controlPlaneReplicas: 1 ", "  apiServerPort: 10250\n  controlPlaneReplicas: 1 "))
    assert issue.message == "calico-apiserver needs host port 10250/TCP on pool addons, which kubelet already uses"
    assert issue.fix == "choose a free port"


def test_calico_apiserver_on_the_kubelet_port_points_at_api_server_port() -> None:
    assert refusal_texts(("  controlPlaneReplicas: 1 ", "  apiServerPort: 10250\n  controlPlaneReplicas: 1 ")) == [
        "<spec> calico.apiServerPort: calico-apiserver needs host port 10250/TCP on pool addons, which kubelet "
        "already uses; choose a free port",
    ]


KARPENTER_ON_HOST_NETWORK = [("  runsOn: fargate\n", "  runsOn: hostNetwork\n"), (KARPENTER_SELECTOR, "")]


def test_karpenter_on_host_network_runs_two_replicas_on_one_node() -> None:
    [issue] = refusals(*KARPENTER_ON_HOST_NETWORK)
    assert issue.path == "karpenter.runsOn"
    assert issue.message == (
        "2 replicas of karpenter use host port 8080 on the single node of pool addons: only one can start"
    )


def test_karpenter_v1alpha5_on_host_network_also_takes_the_ingress_webhook_port() -> None:
    issues = refusals(*KARPENTER_ON_HOST_NETWORK, ("  api: v1\n", "  api: v1alpha5\n"))
    assert [issue.path for issue in issues] == ["karpenter.runsOn", "addons.ingressNginx.port"]
    assert issues[0].message == (
        "2 replicas of karpenter use host port 8000 on the single node of pool addons: only one can start"
    )
    assert str(issues[1]) == (
        "<spec> addons.ingressNginx.port: ingress-nginx-controller needs host port 8443/TCP on pool addons, which "
        "karpenter already uses; choose a free port"
    )


def test_karpenter_on_host_network_still_selected_by_fargate_is_refused() -> None:
    issues = refusals(("  runsOn: fargate\n", "  runsOn: hostNetwork\n"))
    assert [issue.path for issue in issues] == ["fargate.profiles[0].selectors[4]", "karpenter.runsOn"]
    assert str(issues[0]) == (
        "<spec> fargate.profiles[0].selectors[4]: selects karpenter (namespace karpenter), which must not run on "
        f"Fargate: it is placed on hostNetwork; {LABEL_FIX}"
    )


def test_karpenter_two_replicas_fix_does_not_point_at_calico() -> None:
    [issue] = refusals(*KARPENTER_ON_HOST_NETWORK)
    assert "calico" not in issue.fix


# --- the reference's placement ----------------------------------------------------------------------


def test_reference_places_every_component() -> None:
    plan = reference_bundle().placement
    assert {p.name: p.runs_on for p in plan.placements} == {
        "coredns": "fargate",
        "kube-proxy": "hostNetwork",
        "ebs-csi-controller": "fargate",
        "ebs-csi-node": "overlay",
        "karpenter": "fargate",
        "tigera-operator": "hostNetwork",
        "calico-node": "hostNetwork",
        "calico-typha": "hostNetwork",
        "calico-kube-controllers": "fargate",
        "calico-apiserver": "hostNetwork",
        "efs-csi-controller": "fargate",
        "efs-csi-node": "hostNetwork",
        "ingress-nginx-controller": "hostNetwork",
        "kubernetes-replicator": "overlay",
        "kubecost": "overlay",
        "metrics-server": "fargate",
        "prometheus-operator": "fargate",
        "prometheus": "overlay",
        "alertmanager": "overlay",
        "kube-state-metrics": "overlay",
        "node-exporter": "hostNetwork",
        "grafana": "overlay",
        "loki": "overlay",
    }


def test_reference_fargate_profile_of_each_fargate_component() -> None:
    plan = reference_bundle().placement
    assert {p.name: p.fargate_profile for p in plan.placements if p.runs_on == "fargate"} == {
        "coredns": "core",
        "ebs-csi-controller": "core",
        "karpenter": "core",
        "calico-kube-controllers": "platform",
        "efs-csi-controller": "core",
        "metrics-server": "core",
        "prometheus-operator": "platform",
    }
    assert all(p.fargate_profile is None for p in plan.placements if p.runs_on != "fargate")


def test_reference_host_ports_of_the_addons_pool() -> None:
    uses = reference_bundle().placement.ports_by_pool["addons"]
    ports = [(use.port.number, use.owner) for use in uses]
    assert ports == sorted(ports)
    assert ports == [
        (80, "ingress-nginx-controller"),
        (443, "ingress-nginx-controller"),
        (4789, "calico-node"),
        (5443, "calico-apiserver"),
        (5473, "calico-typha"),
        (8443, "ingress-nginx-controller"),
        (9098, "calico-typha"),
        (9099, "calico-node"),
        (9100, "node-exporter"),
        (9809, "efs-csi-node"),
        (10249, "kube-proxy"),
        (10250, "kubelet"),
        (10254, "ingress-nginx-controller"),
        (10256, "kube-proxy"),
    ]
    assert {use.port.number for use in uses if use.port.protocol == "UDP"} == {4789}


# --- EKS Fargate selector rules -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("namespace_pattern", "selector_labels", "namespace", "pod_labels", "matches"),
    [
        pytest.param("kube-system", {}, "kube-system", {"any": "thing"}, True, id="exact-namespace-no-labels"),
        pytest.param("kube-system", {}, "kube-public", {}, False, id="other-namespace"),
        pytest.param("kube-*", {}, "kube-system", {}, True, id="star-in-namespace"),
        pytest.param("kube-*", {}, "kube-", {}, True, id="star-matches-empty"),
        pytest.param("kube-*", {}, "my-kube-system", {}, False, id="namespace-anchored-at-start"),
        pytest.param("*-system", {}, "calico-system", {}, True, id="leading-star"),
        pytest.param("team-?", {}, "team-a", {}, True, id="question-mark-one-char"),
        pytest.param("team-?", {}, "team-ab", {}, False, id="question-mark-not-two-chars"),
        pytest.param("team-?", {}, "team-", {}, False, id="question-mark-not-zero-chars"),
        pytest.param("apps", {"app": "a.b"}, "apps", {"app": "axb"}, False, id="dot-is-literal"),
        pytest.param("apps", {"app": "web"}, "apps", {"app": "web", "tier": "front"}, True, id="label-subset"),
        pytest.param("apps", {"app": "web"}, "apps", {"app": "api"}, False, id="label-value-differs"),
        pytest.param("apps", {"app": "web"}, "apps", {}, False, id="label-missing"),
        pytest.param("apps", {"app": "web", "tier": "front"}, "apps", {"app": "web"}, False, id="all-labels-required"),
        pytest.param(
            "apps", {"app": "web", "tier": "front"}, "apps", {"tier": "front", "app": "web"}, True, id="all-labels"
        ),
        pytest.param("apps", {"app": "web-*"}, "apps", {"app": "web-1"}, True, id="star-in-label-value"),
        pytest.param("apps", {"app": "web-?"}, "apps", {"app": "web-12"}, False, id="question-in-label-value"),
        pytest.param("apps", {"team.io/*": "x"}, "apps", {"team.io/name": "x"}, True, id="star-in-label-key"),
        pytest.param("apps", {"app?": "x"}, "apps", {"apps": "x"}, True, id="question-in-label-key"),
        pytest.param("apps", {"app?": "x"}, "apps", {"app": "x"}, False, id="question-in-label-key-needs-a-char"),
        pytest.param("apps", {"app": "web"}, "apps", {"application": "web"}, False, id="label-key-anchored"),
        pytest.param("apps", {"a*": "1", "b*": "2"}, "apps", {"ax": "1", "bx": "3"}, False, id="each-label-matched"),
    ],
)
def test_selector_matches_follows_eks_wildcard_rules(
    namespace_pattern: str, selector_labels: dict[str, str], namespace: str, pod_labels: dict[str, str], matches: bool
) -> None:
    selector = FargateSelector(namespace=namespace_pattern, labels=selector_labels)
    assert selector_matches(selector, namespace=namespace, labels=pod_labels) is matches


def test_port_10250_on_fargate_suggests_the_components_own_port() -> None:
    [issue] = refusals(("prometheus: {runsOn: fargate, port: 10260}", "prometheus: {runsOn: fargate, port: 10250}"))
    assert issue.path == "addons.prometheus.port"
    assert issue.fix == "use another port, e.g. port: 10260"
