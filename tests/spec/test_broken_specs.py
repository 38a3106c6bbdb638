"""A corpus of broken specs: each one is a small, readable edit of the reference spec, and each
asserts the exact messages a user would read (file:line path: message; fix).

Edits are text replacements on reference_text(), so the line numbers in the expected messages
are the lines of the edited file (the reference's own numbering where no line was inserted).
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from tests.reference_edits import FILE, Edit, catalog, edited

from eks_platform.errors import SpecError
from eks_platform.spec.loading import load_text, reference_text


def issues_of(text: str) -> list[str]:
    with pytest.raises(SpecError) as raised:
        load_text(text, file=FILE, catalog=catalog())
    return [str(issue) for issue in raised.value.issues]


def issue_objects(text: str) -> list:  # type: ignore[type-arg]
    with pytest.raises(SpecError) as raised:
        load_text(text, file=FILE, catalog=catalog())
    return list(raised.value.issues)


@dataclass(frozen=True)
class Broken:
    edits: tuple[Edit, ...]
    expected: tuple[str, ...]


def case(id: str, edits: list[Edit] | Edit, *expected: str):  # type: ignore[no-untyped-def]
    edit_list = tuple(edits) if isinstance(edits, list) else (edits,)
    return pytest.param(Broken(edit_list, expected), id=id)


OVERLAP_FIX = "choose ranges that do not overlap: traffic to the overlap would be routed to the wrong network"

CORPUS = [
    # --- wrong types -----------------------------------------------------------------------------
    case(
        "string-for-int",
        ("      maxPods: 110                     #", "      maxPods: many                     #"),
        "platform.yaml:108 karpenter.provisioners[0].maxPods: expected an int, got str 'many'; "
        "write 'maxPods' as an int"
    ),
    case(
        "int-for-bool",
        ("  secretsEncryption: true", "  secretsEncryption: 1"),
        "platform.yaml:40 cluster.secretsEncryption: expected a bool, got int 1; write 'secretsEncryption' as a bool",
    ),
    case(
        "list-for-mapping",
        ("  tags:\n    team: platform\n    cost-center: irtp", "  tags:\n    - team\n    - platform"),
        "platform.yaml:42 cluster.tags: expected a mapping, got list ['team', 'platform']; write 'tags' as a mapping",
    ),
    case(
        "mapping-for-list",
        (
            "pilots:\n  - name: alpha\n    instanceType: m6a.4xlarge\n  - name: beta\n    instanceType: t3.2xlarge\n",
            "pilots:\n  alpha: m6a.4xlarge\n",
        ),
        "platform.yaml:138 pilots: expected a list, got mapping {'alpha': 'm6a.4xlarge'}; write 'pilots' as a list",
    ),
    case(
        "int-for-string-in-mapping",
        ("    team: platform\n", "    team: 42\n"),
        "platform.yaml:43 cluster.tags.team: expected a string, got int 42; write 'team' as a string",
    ),
    case(
        "kubernetes-version-as-float-1.30",
        ('  kubernetesVersion: "1.33"', "  kubernetesVersion: 1.30"),
        "platform.yaml:16 cluster.kubernetesVersion: 1.3 is a number, not a version; "
        'quote it, e.g. kubernetesVersion: "1.30" (YAML reads 1.30 as the number 1.3)',
    ),
    case(
        "kubernetes-version-wrong-format",
        ('  kubernetesVersion: "1.33"', '  kubernetesVersion: "v1.33"'),
        "platform.yaml:16 cluster.kubernetesVersion: 'v1.33' has the wrong format; "
        'write the minor version as a string, like "1.33"',
    ),
    # --- unknown keys ----------------------------------------------------------------------------
    case(
        "unknown-top-level-key",
        ("pilots:\n", "pilot:\n"),
        "platform.yaml:138 pilot: unknown key 'pilot'; did you mean 'pilots'?",
    ),
    case(
        "unknown-nested-key",
        ("  secretsEncryption: true", "  secretEncryption: true"),
        "platform.yaml:40 cluster.secretEncryption: unknown key 'secretEncryption'; did you mean 'secretsEncryption'?",
    ),
    case(
        "unknown-key-in-list-item",
        ("      maxPods: 110                     #", "      maxPod: 110                     #"),
        "platform.yaml:108 karpenter.provisioners[0].maxPod: unknown key 'maxPod'; did you mean 'maxPods'?",
    ),
    case(
        "unknown-key-deep-in-list",
        ("        cidr: 10.50.0.0/16", "        cidr: 10.50.0.0/16\n        vpcID: vpc-0a1b2c3d4e5f6071"),
        "platform.yaml:33 cluster.endpointAccess.peeredVpcs[0].vpcID: unknown key 'vpcID'; did you mean 'vpcId'?",
    ),
    case(
        "unknown-addon",
        ("  grafana: {runsOn: overlay}", "  grafanna: {runsOn: overlay}"),
        "platform.yaml:134 addons.grafanna: unknown key 'grafanna'; did you mean 'grafana'?",
    ),
    case(
        "unknown-key-no-close-match",
        ("  secretsEncryption: true", "  secretsEncryption: true\n  flavour: vanilla"),
        "platform.yaml:41 cluster.flavour: unknown key 'flavour'; remove it; allowed keys: accessEntries, apiServerNodePorts, endpointAccess, "
        "kubernetesVersion, logging, name, region, secretsEncryption, serviceCidr, tags, vpc",
    ),
    # --- missing keys ----------------------------------------------------------------------------
    case(
        "missing-cluster-name",
        ("  name: irtp\n  region", "  region"),
        "platform.yaml:11 cluster.name: required key is missing; add 'name'",
    ),
    case(
        "missing-karpenter-provisioners",
        (reference_text()[reference_text().index("  provisioners:\n") : reference_text().index("# Add-ons")], ""),
        "platform.yaml:85 karpenter.provisioners: required key is missing; add 'provisioners'",
    ),
    case(
        "missing-requirement-key",
        ("        - key: karpenter.sh/capacity-type\n          operator: In", "        - operator: In"),
        "platform.yaml:116 karpenter.provisioners[1].requirements[1].key: required key is missing; add 'key'",
    ),
    # --- networks --------------------------------------------------------------------------------
    case(
        "invalid-cidr-host-bits",
        ("    cidr: 10.20.0.0/22 ", "    cidr: 10.20.0.1/22 "),
        "platform.yaml:19 cluster.vpc.cidr: '10.20.0.1/22' is not an IPv4 CIDR; "
        "write a network with its host bits zero, like 10.0.0.0/16",
    ),
    case(
        "invalid-cidr-not-an-address",
        ("  serviceCidr: 172.20.0.0/16", "  serviceCidr: banana"),
        "platform.yaml:26 cluster.serviceCidr: 'banana' is not an IPv4 CIDR; "
        "write a network with its host bits zero, like 10.0.0.0/16",
    ),
    case(
        "ippool-overlaps-vpc",
        ("    cidr: 172.16.0.0/16 ", "    cidr: 10.20.0.0/16 "),
        f"platform.yaml:79 calico.ipPool.cidr: 10.20.0.0/16 overlaps 10.20.0.0/22 (cluster.vpc.cidr); {OVERLAP_FIX}",
    ),
    case(
        "service-cidr-overlaps-vpn",
        ("  serviceCidr: 172.20.0.0/16", "  serviceCidr: 10.8.0.0/16"),
        "platform.yaml:26 cluster.serviceCidr: 10.8.0.0/16 overlaps 10.8.0.0/16 "
        f"(cluster.endpointAccess.vpnCidrs[0]); {OVERLAP_FIX}",
    ),
    case(
        "peered-vpc-overlaps-vpc",
        ("        cidr: 10.50.0.0/16", "        cidr: 10.20.2.0/24"),
        "platform.yaml:19 cluster.vpc.cidr: 10.20.0.0/22 overlaps 10.20.2.0/24 "
        f"(cluster.endpointAccess.peeredVpcs[0].cidr); {OVERLAP_FIX}",
    ),
    case(
        "cluster-name-too-long-for-its-iam-roles",
        ("  name: irtp\n", "  name: " + "p" * 43 + "\n"),
        f"platform.yaml:12 cluster.name: '{'p' * 43}' has the wrong format; start with a letter; use letters, "
        "digits and '-', at most 42 characters (the IAM role <name>-fargate-pod-execution must fit IAM's 64)",
    ),
    case(
        "bad-region-format",
        ("  region: us-east-1\n", "  region: us-east1\n"),
        "platform.yaml:13 cluster.region: 'us-east1' has the wrong format; use an AWS region name like us-east-1",
    ),
    case(
        "new-vpc-and-existing-vpc",
        ("    id: vpc-0a1b2c3d4e5f60718\n", "    id: vpc-0a1b2c3d4e5f60718\n    create: true\n"),
        "platform.yaml:17 cluster.vpc: asks for a new VPC (create: true) and also names an existing one; "
        "remove id and privateSubnetIds, or remove create",
    ),
    # --- karpenter requirements ------------------------------------------------------------------
    case(
        "seed-family-m6",
        ("values: [t3, m6a, c5]", "values: [t3, m6, c5]"),
        "platform.yaml:101 karpenter.provisioners[0].requirements[0].values[1]: "
        "'m6' is not an EC2 instance family; did you mean m6i or m6a?",
    ),
    case(
        "unknown-instance-size",
        ("values: [medium, large, xlarge, 2xlarge, 4xlarge]", "values: [medium, larg, xlarge, 2xlarge, 4xlarge]"),
        "platform.yaml:105 karpenter.provisioners[0].requirements[1].values[1]: "
        "'larg' is not an EC2 instance size; did you mean large or xlarge?",
    ),
    case(
        "unknown-instance-type-in-requirement",
        ("values: [t3.2xlarge]\n", "values: [t3.2xlarg]\n"),
        "platform.yaml:115 karpenter.provisioners[1].requirements[0].values[0]: "
        "'t3.2xlarg' is not an EC2 instance type; did you mean t3.2xlarge or t3a.2xlarge?",
    ),
    case(
        "seed-xlarge-twice",
        (
            "values: [medium, large, xlarge, 2xlarge, 4xlarge]",
            "values: [medium, large, xlarge, xlarge, 2xlarge, 4xlarge]",
        ),
        "platform.yaml:105 karpenter.provisioners[0].requirements[1].values[3]: "
        "'xlarge' is listed twice; remove the second 'xlarge'",
    ),
    case(
        "gt-with-non-integer",
        (
            "        - key: karpenter.sh/capacity-type\n",
            "        - key: karpenter.k8s.aws/instance-generation\n          operator: Gt\n          values: ['five']\n"
            "        - key: karpenter.sh/capacity-type\n",
        ),
        "platform.yaml:118 karpenter.provisioners[1].requirements[1].values: "
        "operator Gt takes exactly one integer value; write one whole number, e.g. ['2']",
    ),
    case(
        "in-without-values",
        ("          operator: In\n          values: [on-demand]\n", "          operator: In\n"),
        "platform.yaml:116 karpenter.provisioners[1].requirements[1].values: "
        "operator In needs at least one value; list the values",
    ),
    case(
        "exists-with-values",
        (
            "          operator: In\n          values: [on-demand]",
            "          operator: Exists\n          values: [on-demand]",
        ),
        "platform.yaml:118 karpenter.provisioners[1].requirements[1].values: operator Exists takes no values; "
        "remove values",
    ),
    case(
        "zone-of-another-region",
        (
            "values: [on-demand]",
            "values: [on-demand]\n        - key: topology.kubernetes.io/zone\n          operator: In\n"
            "          values: [us-east-1a, us-west-2a]",
        ),
        "platform.yaml:121 karpenter.provisioners[1].requirements[2].values[1]: "
        "'us-west-2a' is not an availability zone of us-east-1; use a zone like us-east-1a",
    ),
    case(
        "invalid-enum-operator",
        (
            "          operator: In\n          values: [t3, m6a, c5]",
            "          operator: Inn\n          values: [t3, m6a, c5]",
        ),
        "platform.yaml:100 karpenter.provisioners[0].requirements[0].operator: 'Inn' is not allowed; "
        "use one of 'In', 'NotIn', 'Exists', 'DoesNotExist', 'Gt' or 'Lt'",
    ),
    case(
        "invalid-enum-taint-effect",
        ("effect: NoSchedule}", "effect: NoScheduleX}"),
        "platform.yaml:121 karpenter.provisioners[1].taints[0].effect: 'NoScheduleX' is not allowed; "
        "use one of 'NoSchedule', 'PreferNoSchedule' or 'NoExecute'",
    ),
    case(
        "invalid-enum-runs-on",
        ("  runsOn: fargate\n", "  runsOn: overlay\n"),
        "platform.yaml:89 karpenter.runsOn: 'overlay' is not allowed; use one of 'fargate' or 'hostNetwork'",
    ),
    # --- karpenter provisioners and versions -----------------------------------------------------
    case(
        "duplicate-provisioner-name",
        (
            "      maxPods: 110\n\n# Add-ons",
            "      maxPods: 110\n    - name: default\n      requirements:\n"
            "        - key: karpenter.sh/capacity-type\n          operator: In\n          values: [spot]\n\n# Add-ons",
        ),
        "platform.yaml:123 karpenter.provisioners[2].name: name 'default' is used twice; give each a unique name",
    ),
    case(
        "single-node-without-pinned-type",
        (
            "        - key: node.kubernetes.io/instance-type\n          operator: In\n          values: [t3.2xlarge]\n",
            "        - key: karpenter.k8s.aws/instance-family\n          operator: In\n          values: [t3]\n",
        ),
        "platform.yaml:112 karpenter.provisioners[1].requirements: a single-node provisioner must allow exactly one "
        "instance type; add a requirement {key: node.kubernetes.io/instance-type, operator: In, values: [t3.2xlarge]}",
    ),
    case(
        "empty-ttl-and-consolidation",
        ("      ttlSecondsAfterEmpty: 60", "      ttlSecondsAfterEmpty: 60\n      consolidation: true"),
        "platform.yaml:107 karpenter.provisioners[0].ttlSecondsAfterEmpty: set together with consolidation: true, which "
        "already removes empty nodes (Karpenter rejects a Provisioner with both); remove ttlSecondsAfterEmpty, or "
        "consolidation",
    ),
    case(
        "access-entry-not-an-arn",
        ("    - principalArn: arn:aws:iam::123456789012:role/jenkins-tooling", "    - principalArn: jenkins-tooling"),
        "platform.yaml:36 cluster.accessEntries[0].principalArn: 'jenkins-tooling' has the wrong format; use the ARN "
        "of an IAM role or user, like arn:aws:iam::123456789012:role/jenkins-tooling",
    ),
    case(
        "access-entry-unknown-policy",
        ("      policy: edit", "      policy: deploy"),
        "platform.yaml:37 cluster.accessEntries[0].policy: 'deploy' is not allowed; use one of 'cluster-admin', "
        "'admin', 'edit' or 'view'",
    ),
    case(
        "addon-pool-names-missing-provisioner",
        ("  grafana: {runsOn: overlay}", "  grafana: {runsOn: overlay, pool: monitoring}"),
        "platform.yaml:134 addons.grafana.pool: no provisioner named 'monitoring'; "
        "use one of addons, default, or add that provisioner",
    ),
    case(
        "karpenter-v1alpha5-with-1.14.1",
        ("  api: v1\n", "  api: v1alpha5\n  version: 1.14.1\n"),
        "platform.yaml:89 karpenter.version: Karpenter 1.14.1 does not serve the v1alpha5 API (Provisioner); "
        "v0.32 was the last; set version to v0.31.5 or api to v1",
    ),
    case(
        "karpenter-v1-with-0.31.5",
        ("  api: v1\n", "  api: v1\n  version: v0.31.5\n"),
        "platform.yaml:89 karpenter.version: Karpenter v0.31.5 does not serve the v1 API (NodePool); "
        "set version to 1.14.1 or leave it unset",
    ),
    # --- pilots and namespaces -------------------------------------------------------------------
    case(
        "duplicate-pilot-name",
        ("  - name: beta\n", "  - name: alpha\n"),
        # the second issue follows from the first: both pilots get the default namespace pilot-alpha
        "platform.yaml:141 pilots[1].name: name 'alpha' is used twice; give each a unique name",
        "platform.yaml:141 pilots[1].namespace: namespace 'pilot-alpha' is used twice; "
        "give every pilot a namespace of its own",
    ),
    case(
        "pilot-unknown-instance-type",
        ("    instanceType: m6a.4xlarge", "    instanceType: m6a.4xlarg"),
        "platform.yaml:140 pilots[0].instanceType: 'm6a.4xlarg' is not an EC2 instance type; "
        "did you mean m6a.4xlarge or m6a.48xlarge?",
    ),
    case(
        "pilot-namespace-is-an-application-namespace",
        ("    instanceType: t3.2xlarge\n", "    instanceType: t3.2xlarge\n    namespace: irtp\n"),
        "platform.yaml:143 pilots[1].namespace: namespace 'irtp' is already an application namespace; give every pilot a namespace of its own",
    ),
    case(
        "system-namespace-in-namespaces",
        ("  - name: irtp\n", "  - name: irtp\n  - name: kube-system\n"),
        "platform.yaml:147 namespaces[1].name: 'kube-system' is a system namespace; "
        "a default-deny policy there would cut off the cluster; list only application namespaces",
    ),
    # --- fargate ---------------------------------------------------------------------------------
    case(
        "fargate-profile-with-6-selectors",
        (
            "          labels: {eks-platform.io/compute: fargate}   # prometheus-operator (admission webhook)\n",
            "          labels: {eks-platform.io/compute: fargate}   # prometheus-operator (admission webhook)\n"
            "        - namespace: team-a\n        - namespace: team-b\n        - namespace: team-c\n"
            "        - namespace: team-d\n",
        ),
        "platform.yaml:68 fargate.profiles[1].selectors: 6 selectors; EKS allows 5 per profile; "
        "split them into a second profile",
    ),
    # --- YAML itself -----------------------------------------------------------------------------
    case(
        "yaml-syntax-error",
        ("kind: Platform\n", "kind: Platform: x\n"),
        "platform.yaml:9: not valid YAML: mapping values are not allowed here; fix the YAML syntax at that line"
    ),
    case(
        "yaml-duplicate-key",
        ("  region: us-east-1\n", "  region: us-east-1\n  region: us-west-2\n"),
        "platform.yaml:14 cluster.region: key 'region' is written twice; keep one of them",
    ),
]


@pytest.mark.parametrize("broken", CORPUS)
def test_broken_spec_reports_exact_issues(broken: Broken) -> None:
    assert issues_of(edited(*broken.edits)) == list(broken.expected)


def test_corpus_is_large_enough() -> None:
    assert len(CORPUS) >= 24


def test_reference_spec_itself_is_valid() -> None:
    loaded = load_text(reference_text(), file=FILE, catalog=catalog())
    assert loaded.platform.cluster.name == "irtp"


# --- documents that are not a spec at all ------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "- apiVersion: eks-platform.io/v1alpha1\n  kind: Platform\n",
            "platform.yaml:1: the spec must be a YAML mapping; start from `eksp init platform.yaml`",
            id="list-document",
        ),
        pytest.param(
            "hello\n",
            "platform.yaml:1: the spec must be a YAML mapping; start from `eksp init platform.yaml`",
            id="scalar-document",
        ),
        pytest.param(
            "",
            "platform.yaml: the spec must be a YAML mapping; start from `eksp init platform.yaml`",
            id="empty-document",
        ),
    ],
)
def test_document_that_is_not_a_mapping(text: str, expected: str) -> None:
    assert issues_of(text) == [expected]


def test_yaml_syntax_error_keeps_its_line_on_a_later_line() -> None:
    # the tab on line 13 cannot start a token
    text = edited(("  name: irtp\n  region", "  name: irtp\n\tregion"))
    [issue] = issue_objects(text)
    assert issue.line == 13
    assert str(issue) == (
        "platform.yaml:13: not valid YAML: found character '\\t' that cannot start any token; "
        "fix the YAML syntax at that line"
    )


# --- every issue, not only the first ---------------------------------------------------------------


def test_every_independent_rule_violation_is_reported() -> None:
    text = edited(
        ("    cidr: 172.16.0.0/16 ", "    cidr: 10.20.0.0/16 "),
        ("values: [t3, m6a, c5]", "values: [t3, m6, c5]"),
        (
            "values: [medium, large, xlarge, 2xlarge, 4xlarge]",
            "values: [medium, large, xlarge, xlarge, 2xlarge, 4xlarge]",
        ),
        ("  grafana: {runsOn: overlay}", "  grafana: {runsOn: overlay, pool: monitoring}"),
        ("    instanceType: m6a.4xlarge", "    instanceType: m6a.4xlarg"),
        ("  - name: irtp\n", "  - name: irtp\n  - name: default\n"),
    )
    issues = issue_objects(text)
    assert [issue.path for issue in issues] == [
        "calico.ipPool.cidr",
        "namespaces[1].name",
        "karpenter.provisioners[0].requirements[0].values[1]",
        "karpenter.provisioners[0].requirements[1].values[3]",
        "addons.grafana.pool",
        "pilots[0].instanceType",
    ]
    assert [issue.line for issue in issues] == [79, 147, 101, 105, 134, 140]
    assert str(issues[1]) == (
        "platform.yaml:147 namespaces[1].name: 'default' is a system namespace; "
        "a default-deny policy there would cut off the cluster; list only application namespaces"
    )


def test_every_independent_type_error_is_reported() -> None:
    text = edited(
        ("  region: us-east-1\n", "  region: us-east1\n"),
        ("  secretsEncryption: true", "  secretEncryption: true"),
        (
            "          operator: In\n          values: [t3, m6a, c5]",
            "          operator: Inn\n          values: [t3, m6a, c5]",
        ),
        ("effect: NoSchedule}", "effect: NoScheduleX}"),
        ("  grafana: {runsOn: overlay}", "  grafana: {runsOn: Overlay}"),
    )
    issues = issue_objects(text)
    assert [issue.path for issue in issues] == [
        "cluster.region",
        "cluster.secretEncryption",
        "karpenter.provisioners[0].requirements[0].operator",
        "karpenter.provisioners[1].taints[0].effect",
        "addons.grafana.runsOn",
    ]
    assert [issue.line for issue in issues] == [13, 40, 100, 121, 134]


# --- src bugs found while writing the corpus ---------------------------------------------------------


def test_malformed_karpenter_version_is_a_spec_error_not_a_crash() -> None:
    text = edited(("  api: v1\n", "  api: v1alpha5\n  version: v0.3a.1\n"))
    issues = issue_objects(text)
    assert [issue.path for issue in issues] == ["karpenter.version"]
    assert issues[0].line == 89


def test_number_in_requirement_values_names_the_values_key() -> None:
    text = edited(
        (
            "        - key: karpenter.sh/capacity-type\n",
            "        - key: karpenter.k8s.aws/instance-generation\n          operator: Gt\n          values: [5]\n"
            "        - key: karpenter.sh/capacity-type\n",
        )
    )
    [issue] = issue_objects(text)
    assert issue.path == "karpenter.provisioners[1].requirements[1].values[0]"
    assert issue.message == "expected a string, got int 5"
    assert "'0'" not in issue.fix


# --- messages that once fell through to pydantic's wording ------------------------------------------

READABLE = [
    case(
        "empty-provisioner-list",
        ("  provisioners:\n    - name: default", "  provisioners: []\n  oldProvisioners:\n    - name: default"),
        "platform.yaml:95 karpenter.provisioners: 'provisioners' is empty; list at least one item",
        "platform.yaml:96 karpenter.oldProvisioners: unknown key 'oldProvisioners'; did you mean 'provisioners'?",
    ),
    case(
        "port-out-of-range",
        ("metricsServer: {runsOn: fargate, port: 10251}", "metricsServer: {runsOn: fargate, port: 70000}"),
        "platform.yaml:132 addons.metricsServer.port: 70000 is out of range; use a value <= 65535",
    ),
    case(
        "null-section",
        ("cluster:\n  name: irtp", "cluster: ~\nclusterX:\n  name: irtp"),
        "platform.yaml:11 cluster: expected a mapping, got nothing (null); write 'cluster' as a mapping",
        "platform.yaml:12 clusterX: unknown key 'clusterX'; did you mean 'cluster'?",
    ),
    case(
        "pilot-namespace-upper-case",
        ("  - name: beta\n", "  - name: beta\n    namespace: Beta\n"),
        "platform.yaml:142 pilots[1].namespace: 'Beta' has the wrong format; "
        "use lower-case letters, digits and '-', starting and ending with a letter or digit",
    ),
    case(
        "default-pilot-namespace-taken",
        ("  - name: irtp\n", "  - name: irtp\n  - name: pilot-alpha\n"),
        "platform.yaml:139 pilots[0].namespace: namespace 'pilot-alpha' (the default pilot-alpha) is already "
        "an application namespace; give every pilot a namespace of its own",
    ),
]


@pytest.mark.parametrize("broken", READABLE)
def test_broken_spec_messages_say_what_to_do(broken: Broken) -> None:
    assert issues_of(edited(*broken.edits)) == list(broken.expected)
