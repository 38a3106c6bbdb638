"""Custom resources are checked against the shipped (compacted) upstream CRD schemas."""

from __future__ import annotations

import copy
import importlib.util
import json
import sys
from importlib import resources
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator

from eks_platform.schemas import crd_validation
from eks_platform.schemas.crd_validation import (
    CEL_AVAILABLE,
    SchemaError,
    UnknownKind,
    k8sify,
    known_kinds,
    validate_custom_resource,
)

REPO = Path(__file__).resolve().parents[2]
SHARED_CRDS = REPO.parent / "shared" / "crds"
needs_cel = pytest.mark.skipif(not CEL_AVAILABLE, reason="cel-python (celpy) is not installed")


def _load(text: str) -> dict[str, Any]:
    obj: dict[str, Any] = yaml.safe_load(text)
    return obj


def _paths(obj: dict[str, Any]) -> list[str]:
    return [e.path for e in validate_custom_resource(obj)]


PROVISIONER = _load("""
apiVersion: karpenter.sh/v1alpha5
kind: Provisioner
metadata:
  name: default-provisioner
spec:
  requirements:
    - key: karpenter.k8s.aws/instance-family
      operator: In
      values: [t3, m6a, c5]
    - key: karpenter.k8s.aws/instance-size
      operator: In
      values: [medium, large, xlarge, 2xlarge, 4xlarge]
  limits:
    resources:
      cpu: 64
      memory: 256Gi
  ttlSecondsUntilExpired: 604800
  ttlSecondsAfterEmpty: 60
  providerRef:
    name: bottlerocket-nt
""")

AWS_NODE_TEMPLATE = _load("""
apiVersion: karpenter.k8s.aws/v1alpha1
kind: AWSNodeTemplate
metadata:
  name: bottlerocket-nt
spec:
  amiFamily: Bottlerocket
  subnetSelector:
    karpenter.sh/discovery: my-cluster
  securityGroupSelector:
    karpenter.sh/discovery: my-cluster
  blockDeviceMappings:
    - deviceName: /dev/xvdb
      ebs:
        volumeSize: 20Gi
        volumeType: gp3
        deleteOnTermination: true
""")

NODE_POOL = _load("""
apiVersion: karpenter.sh/v1
kind: NodePool
metadata:
  name: default
spec:
  template:
    metadata:
      labels:
        team: platform
    spec:
      nodeClassRef:
        group: karpenter.k8s.aws
        kind: EC2NodeClass
        name: bottlerocket
      requirements:
        - key: karpenter.k8s.aws/instance-family
          operator: In
          values: [t3, m6a, c5]
        - key: karpenter.sh/capacity-type
          operator: In
          values: [on-demand]
      expireAfter: 168h
  disruption:
    consolidationPolicy: WhenEmpty
    consolidateAfter: 60s
  limits:
    cpu: 64
    memory: 256Gi
""")

EC2_NODE_CLASS = _load("""
apiVersion: karpenter.k8s.aws/v1
kind: EC2NodeClass
metadata:
  name: bottlerocket
spec:
  role: KarpenterNodeRole-my-cluster
  amiSelectorTerms:
    - alias: bottlerocket@latest
  subnetSelectorTerms:
    - tags:
        karpenter.sh/discovery: my-cluster
  securityGroupSelectorTerms:
    - tags:
        karpenter.sh/discovery: my-cluster
""")

INSTALLATION = _load("""
apiVersion: operator.tigera.io/v1
kind: Installation
metadata:
  name: default
spec:
  kubernetesProvider: EKS
  cni:
    type: Calico
  calicoNetwork:
    bgp: Disabled
    ipPools:
      - cidr: 172.16.0.0/16
        encapsulation: VXLAN
        natOutgoing: Enabled
        nodeSelector: all()
""")

NETWORK_POLICY = _load("""
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata:
  name: allow-ingress-nginx
  namespace: apps
spec:
  selector: app == 'web'
  types: [Ingress, Egress]
  ingress:
    - action: Allow
      protocol: TCP
      source:
        namespaceSelector: kubernetes.io/metadata.name == 'ingress-nginx'
      destination:
        ports: [8080, "9000:9100"]
  egress:
    - action: Allow
      protocol: UDP
      destination:
        selector: k8s-app == 'kube-dns'
        ports: [53]
""")

IP_POOL = _load("""
apiVersion: projectcalico.org/v3
kind: IPPool
metadata:
  name: pods
spec:
  cidr: 172.16.0.0/16
  blockSize: 26
  vxlanMode: Always
  ipipMode: Never
  natOutgoing: true
  nodeSelector: all()
""")


def _with(obj: dict[str, Any], dotted: str, value: Any) -> dict[str, Any]:
    """Deep copy of obj with one field set (path like "spec.a.0.b"; value DELETE removes it)."""
    out = copy.deepcopy(obj)
    node: Any = out
    *parents, last = dotted.split(".")
    for step in parents:
        node = node[int(step)] if isinstance(node, list) else node.setdefault(step, {})
    if value is DELETE:
        del node[last]
    elif isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return out


DELETE = object()


# --------------------------------------------------------------------------- valid objects


@pytest.mark.parametrize(
    "obj",
    [PROVISIONER, AWS_NODE_TEMPLATE, NODE_POOL, EC2_NODE_CLASS, INSTALLATION, NETWORK_POLICY, IP_POOL],
    ids=lambda o: f"{o['apiVersion']}/{o['kind']}",
)
def test_valid_objects_pass(obj: dict[str, Any]) -> None:
    assert validate_custom_resource(obj) == []


def test_calico_storage_group_network_policy_passes() -> None:
    policy = {**NETWORK_POLICY, "apiVersion": "crd.projectcalico.org/v1"}
    assert validate_custom_resource(policy) == []
    assert validate_custom_resource({**policy, "kind": "GlobalNetworkPolicy", "metadata": {"name": "g"}}) == []


def test_input_is_not_mutated_and_tuples_count_as_lists() -> None:
    pool = copy.deepcopy(NODE_POOL)
    del pool["spec"]["disruption"]
    pool["spec"]["template"]["spec"]["requirements"] = tuple(pool["spec"]["template"]["spec"]["requirements"])
    before = copy.deepcopy(pool)
    assert validate_custom_resource(pool) == []
    assert pool == before  # defaults were applied to a copy only


def test_seed_verbatim_passes_because_the_v1alpha5_crd_is_loose() -> None:
    """The seed's Provisioner names a non-existent family (m6) and repeats "xlarge": the v1alpha5
    CRD has no enum for families, no list-type set and no CEL rules (its webhook did the checks)."""
    seed = _with(PROVISIONER, "spec.requirements.0.values", ["t3", "m6", "c5"])
    seed = _with(seed, "spec.requirements.1.values", ["medium", "large", "xlarge", "xlarge", "2xlarge"])
    assert validate_custom_resource(seed) == []


# --------------------------------------------------------------------------- failures and their paths


def test_unknown_field_fails_with_its_exact_path() -> None:
    typo = _with(PROVISIONER, "spec.ttlSecondsAfterEmptyy", 60)
    assert validate_custom_resource(typo) == [
        SchemaError("spec.ttlSecondsAfterEmptyy", 'unknown field "ttlSecondsAfterEmptyy"')
    ]


def test_unknown_nested_field_and_unknown_top_level_field() -> None:
    nested = _with(PROVISIONER, "spec.requirements.1.valuez", ["large"])
    assert _paths(nested) == ["spec.requirements[1].valuez"]
    assert _paths({**PROVISIONER, "specs": {}}) == ["specs"]


def test_preserve_unknown_fields_subtree_accepts_anything() -> None:
    legacy = _with(PROVISIONER, "spec.provider", {"anything": {"goes": [1, 2]}})
    assert validate_custom_resource(legacy) == []


def test_wrong_type_is_reported_at_the_field() -> None:
    errors = validate_custom_resource(_with(PROVISIONER, "spec.ttlSecondsAfterEmpty", "60"))
    assert [e.path for e in errors] == ["spec.ttlSecondsAfterEmpty"]
    assert "integer" in errors[0].message


def test_wrong_enum_fails_with_its_path() -> None:
    errors = validate_custom_resource(_with(NODE_POOL, "spec.disruption.consolidationPolicy", "Sometimes"))
    assert [e.path for e in errors] == ["spec.disruption.consolidationPolicy"]
    assert "Sometimes" in errors[0].message and "WhenEmpty" in errors[0].message


def test_missing_required_field_fails() -> None:
    missing = _with(NODE_POOL, "spec.template.spec.nodeClassRef", DELETE)
    assert validate_custom_resource(missing) == [SchemaError("spec.template.spec.nodeClassRef", "Required value")]


def test_defaults_are_applied_before_required_checks() -> None:
    # spec.disruption has a default ({consolidateAfter: 0s}) that satisfies its own required field ...
    assert validate_custom_resource(_with(NODE_POOL, "spec.disruption", DELETE)) == []
    # ... but a disruption block that is present must carry consolidateAfter itself.
    partial = _with(NODE_POOL, "spec.disruption", {"consolidationPolicy": "WhenEmpty"})
    assert _paths(partial) == ["spec.disruption.consolidateAfter"]


def test_installation_nat_outgoing_must_be_enabled_or_disabled() -> None:
    wrong = _with(INSTALLATION, "spec.calicoNetwork.ipPools.0.natOutgoing", True)
    assert _paths(wrong) == ["spec.calicoNetwork.ipPools[0].natOutgoing"]
    assert validate_custom_resource(_with(INSTALLATION, "spec.calicoNetwork.ipPools.0.natOutgoing", "Enabled")) == []
    # whereas the projectcalico.org/v3 IPPool wants a boolean there:
    assert _paths(_with(IP_POOL, "spec.natOutgoing", "Enabled")) == ["spec.natOutgoing"]


@pytest.mark.parametrize("cpu", [8, "8", "500m", "1.5"])
def test_int_or_string_quantities_pass(cpu: object) -> None:
    assert validate_custom_resource(_with(NODE_POOL, "spec.limits.cpu", cpu)) == []
    assert validate_custom_resource(_with(PROVISIONER, "spec.limits.resources.cpu", cpu)) == []


@pytest.mark.parametrize("cpu", ["8 cores", True, 1.5, None])
def test_bad_quantities_fail(cpu: object) -> None:
    assert _paths(_with(NODE_POOL, "spec.limits.cpu", cpu)) == ["spec.limits.cpu"]


def test_list_type_set_rejects_duplicates() -> None:
    assert _paths(_with(NETWORK_POLICY, "spec.types", ["Ingress", "Ingress"])) == ["spec.types"]


def test_list_type_map_rejects_duplicate_keys() -> None:
    claims = [{"name": "gpu"}, {"name": "gpu"}]
    container = {"name": "calico-node", "resources": {"claims": claims}}
    installation = _with(
        INSTALLATION, "spec.calicoNodeDaemonSet", {"spec": {"template": {"spec": {"containers": [container]}}}}
    )
    errors = validate_custom_resource(installation)
    assert [e.path for e in errors] == ["spec.calicoNodeDaemonSet.spec.template.spec.containers[0].resources.claims[1]"]
    assert "Duplicate" in errors[0].message


def test_cidr_format_is_checked() -> None:
    assert _paths(_with(IP_POOL, "spec.cidr", "172.16.0.0")) == ["spec.cidr"]
    assert _paths(_with(IP_POOL, "spec.cidr", "fd00:10::/64")) == []


def test_map_keys_with_dots_are_bracketed_in_paths() -> None:
    bad = _with(AWS_NODE_TEMPLATE, "spec.subnetSelector", {"karpenter.sh/discovery": 5})
    assert _paths(bad) == ["spec.subnetSelector[karpenter.sh/discovery]"]


def test_several_errors_are_all_reported_sorted_and_short() -> None:
    bad = _with(NODE_POOL, "spec.weight", 1000)
    bad = _with(bad, "spec.template.spec.requirements.0.operator", "Maybe")
    bad = _with(bad, "spec.template.spec.bogus", {"x" * 500: "y" * 500})
    errors = validate_custom_resource(bad)
    assert [e.path for e in errors] == [
        "spec.template.spec.bogus",
        "spec.template.spec.requirements[0].operator",
        "spec.weight",
    ]
    assert all(len(e.message) < 200 for e in errors)


def test_metadata_must_be_an_object_and_unknown_kinds_raise() -> None:
    assert _paths({**PROVISIONER, "metadata": "x"}) == ["metadata"]
    with pytest.raises(UnknownKind):
        validate_custom_resource({"apiVersion": "karpenter.sh/v1alpha4", "kind": "Provisioner"})
    with pytest.raises(KeyError):
        validate_custom_resource({"apiVersion": "v1", "kind": "ConfigMap"})
    with pytest.raises(LookupError):
        validate_custom_resource({"kind": "Provisioner"})


def test_known_kinds_cover_what_the_platform_renders() -> None:
    kinds = known_kinds()
    for key in [
        ("karpenter.sh/v1alpha5", "Provisioner"),
        ("karpenter.k8s.aws/v1alpha1", "AWSNodeTemplate"),
        ("karpenter.sh/v1", "NodePool"),
        ("karpenter.k8s.aws/v1", "EC2NodeClass"),
        ("operator.tigera.io/v1", "Installation"),
        ("operator.tigera.io/v1", "APIServer"),
        ("crd.projectcalico.org/v1", "IPPool"),
        ("crd.projectcalico.org/v1", "NetworkPolicy"),
        ("crd.projectcalico.org/v1", "GlobalNetworkPolicy"),
        ("projectcalico.org/v3", "IPPool"),
        ("projectcalico.org/v3", "NetworkPolicy"),
        ("projectcalico.org/v3", "GlobalNetworkPolicy"),
    ]:
        assert key in kinds


@pytest.mark.parametrize("key", sorted(known_kinds()), ids=lambda k: f"{k[0]}/{k[1]}")
def test_every_k8sified_schema_is_valid_json_schema(key: tuple[str, str]) -> None:
    entry = json.loads(resources.files("eks_platform.schemas").joinpath("crds", "INDEX.json").read_text("utf-8"))
    file_name = next(e["file"] for e in entry if (e["apiVersion"], e["kind"]) == key)
    doc = json.loads(resources.files("eks_platform.schemas").joinpath("crds", file_name).read_text("utf-8"))
    assert f"{doc['group']}/{doc['version']}" == key[0] and doc["kind"] == key[1]
    assert "(from SOURCES.md: " in doc["source"]
    Draft202012Validator.check_schema(k8sify(doc["schema"]))


# --------------------------------------------------------------------------- CEL (optional)


@needs_cel
def test_cel_rule_on_a_list_item_reports_its_path() -> None:
    bad = _with(NODE_POOL, "spec.template.spec.requirements.0.key", "karpenter.sh/nodepool")
    errors = validate_custom_resource(bad)
    assert (
        SchemaError("spec.template.spec.requirements[0].key", 'label "karpenter.sh/nodepool" is restricted') in errors
    )


@needs_cel
def test_cel_rule_with_the_kubernetes_find_extension() -> None:
    bad = _with(NODE_POOL, "spec.template.spec.requirements.0.key", "karpenter.k8s.aws/instance-familyy")
    assert validate_custom_resource(bad) == [
        SchemaError("spec.template.spec.requirements[0].key", 'label domain "karpenter.k8s.aws" is restricted')
    ]


@needs_cel
def test_cel_rule_at_the_root_and_on_spec() -> None:
    renamed = _with(INSTALLATION, "metadata.name", "calico")
    assert validate_custom_resource(renamed) == [
        SchemaError("", "resource name must be 'default', 'tigera-secure', or 'overlay'")
    ]
    both = _with(EC2_NODE_CLASS, "spec.instanceProfile", "KarpenterNodeInstanceProfile")
    assert validate_custom_resource(both) == [
        SchemaError("spec", "must specify exactly one of ['role', 'instanceProfile']")
    ]


@needs_cel
def test_cel_rule_with_split_and_heterogeneous_equality() -> None:
    pinned = _with(EC2_NODE_CLASS, "spec.amiSelectorTerms.0.alias", "bottlerocket@v1.20.0")
    assert validate_custom_resource(pinned) == []
    unknown_family = _with(EC2_NODE_CLASS, "spec.amiSelectorTerms.0.alias", "ubuntu@latest")
    assert _paths(unknown_family) == ["spec.amiSelectorTerms[0].alias"]
    # protocol is int-or-string: 'UDP' == 6 must be false (as in Kubernetes), not an evaluation error
    http_udp = _with(NETWORK_POLICY, "spec.egress.0.http", {"methods": ["GET"]})
    assert validate_custom_resource(http_udp) == [
        SchemaError("spec.egress[0]", "rules with HTTP match must have protocol TCP or unset")
    ]
    assert validate_custom_resource(_with(http_udp, "spec.egress.0.protocol", 6)) == []


@needs_cel
def test_cel_cross_field_rules_on_calico_objects() -> None:
    assert _paths(_with(IP_POOL, "spec.ipipMode", "Always")) == ["spec"]
    gnp = {**NETWORK_POLICY, "kind": "GlobalNetworkPolicy", "metadata": {"name": "pre-dnat"}}
    gnp = _with(gnp, "spec.preDNAT", True)
    messages = {e.message for e in validate_custom_resource(gnp)}
    assert "preDNAT policy cannot have any egress rules" in messages
    assert "applyOnForward must be true if either preDNAT or doNotTrack is true" in messages


@needs_cel
def test_cel_evaluation_errors_are_reported_and_transition_rules_skipped() -> None:
    gt = [{"key": "karpenter.k8s.aws/instance-cpu", "operator": "Gt", "values": ["many"]}]
    errors = validate_custom_resource(_with(NODE_POOL, "spec.template.spec.requirements", gt))
    assert [e.path for e in errors] == ["spec.template.spec.requirements"]
    assert "CEL evaluation error" in errors[0].message
    # IPPool cidr/blockSize carry "self == oldSelf" rules: update-only, not evaluated on create
    assert validate_custom_resource(IP_POOL) == []


def _module_without_cel(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.setitem(sys.modules, "celpy", None)  # makes "import celpy" raise ImportError
    spec = importlib.util.spec_from_file_location("crd_validation_without_cel", crd_validation.__file__)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_without_cel_python_rules_are_skipped_but_schemas_still_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    module = _module_without_cel(monkeypatch)
    assert module.CEL_AVAILABLE is False
    restricted = _with(NODE_POOL, "spec.template.spec.requirements.0.key", "karpenter.sh/nodepool")
    assert module.validate_custom_resource(restricted) == []
    typo = _with(PROVISIONER, "spec.ttlSecondsAfterEmptyy", 60)
    assert [e.path for e in module.validate_custom_resource(typo)] == ["spec.ttlSecondsAfterEmptyy"]


# --------------------------------------------------------------------------- the shipped files are current


def _compact_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("compact_crds_under_test", REPO / "scripts" / "compact_crds.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_compact_json_files_are_up_to_date(tmp_path: Path) -> None:
    if not SHARED_CRDS.is_dir():
        pytest.skip(f"{SHARED_CRDS} not present")
    script = _compact_script()
    first, second = tmp_path / "a", tmp_path / "b"
    script.compact_crds(SHARED_CRDS, first)
    script.compact_crds(SHARED_CRDS, second)
    shipped = Path(str(resources.files("eks_platform.schemas").joinpath("crds")))
    names = sorted(p.name for p in first.glob("*.json"))
    assert names == sorted(p.name for p in shipped.glob("*.json")), "run scripts/compact_crds.py"
    for name in names:
        generated = (first / name).read_bytes()
        assert generated == (second / name).read_bytes(), f"{name} is not deterministic"
        assert generated == (shipped / name).read_bytes(), f"{name} is stale: run scripts/compact_crds.py"
    installation = (first / "operator.tigera.io_v1_Installation.json").stat().st_size
    assert installation < (SHARED_CRDS / "calico" / "operator.tigera.io_installations.yaml").stat().st_size / 10
