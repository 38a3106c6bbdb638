"""The reference platform passes its own linter: no error, no warning; the info findings are the
headroom of its one-node pools and nothing else."""

from __future__ import annotations

from tests.reference_edits import FILE, catalog, edited

from eks_platform.checks import check
from eks_platform.checks.finding import Severity
from eks_platform.spec.loading import load_text


def report_of(karpenter_api: str | None = None):  # type: ignore[no-untyped-def]
    loaded = load_text(edited(), file=FILE, catalog=catalog(), karpenter_api=karpenter_api)
    return check(loaded, catalog=catalog())


def test_reference_has_no_error_and_no_warning() -> None:
    report = report_of()
    assert [f.key for f in report.findings if f.severity != Severity.info] == []
    assert report.exit_code == 0


def test_reference_infos_are_the_headroom_of_each_one_node_pool() -> None:
    infos = {f.key for f in report_of().findings if f.severity == Severity.info}
    assert infos == {
        ("EP502", "NodePool/addons", ""),
        ("EP502", "NodePool/pilot-alpha", ""),
        ("EP502", "NodePool/pilot-beta", ""),
    }


def test_the_seeds_v1alpha5_render_is_flagged_for_its_kubernetes_version_and_deprecation() -> None:
    report = report_of("v1alpha5")
    assert {f.rule_id for f in report.findings if f.severity == Severity.error} == {"EP410"}
    assert {f.rule_id for f in report.findings if f.severity == Severity.info} == {"EP409", "EP502"}
