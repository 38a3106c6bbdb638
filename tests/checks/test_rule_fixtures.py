"""Every rule against its pass/ and fail/ fixtures: the exact set of findings (rule, object, path)."""

from __future__ import annotations

import pytest
from tests.checks.harness import FIXTURES, Fixture, fixtures, keys_of, run_fixture

from eks_platform.checks import RULES

ALL = fixtures()


@pytest.mark.parametrize("fixture", ALL, ids=[f"{f.rule_id}-{f.outcome}-{f.path.stem}" for f in ALL])
def test_fixture_finds_exactly_what_it_expects(fixture: Fixture) -> None:
    report = run_fixture(fixture)
    found = keys_of(report, fixture.rule_id)
    if fixture.outcome == "pass":
        assert found == set(), f"{fixture.path.name} should pass {fixture.rule_id}"
    else:
        assert fixture.expected, f"{fixture.path.name}: a fail fixture must list what it expects"
        assert found == fixture.expected


def test_every_rule_has_pass_and_fail_fixtures() -> None:
    missing = [
        f"{rule.id}/{outcome}"
        for rule in RULES
        for outcome in ("pass", "fail")
        if not list((FIXTURES / rule.id / outcome).glob("*.yaml"))
    ]
    assert missing == []


def test_every_fixture_folder_names_a_rule() -> None:
    ids = {rule.id for rule in RULES}
    assert {path.name for path in FIXTURES.iterdir() if path.is_dir()} <= ids


def test_rule_ids_are_unique_and_well_formed() -> None:
    ids = [rule.id for rule in RULES]
    assert len(ids) == len(set(ids))
    for rule in RULES:
        assert rule.id[:2] == "EP" and rule.id[2] in "123456"
        assert len(rule.id) == 5 and rule.id[2:].isdigit()
        assert rule.title and rule.fix
        module = type(rule).__module__.rsplit(".", 1)[-1]
        assert module.startswith(rule.id.lower() + "_"), f"{rule.id} lives in {module}"
