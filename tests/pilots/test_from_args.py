"""`eksp pilot create NAME --instance-type T` and a `pilots:` entry of platform.yaml give the same objects."""

from __future__ import annotations

from pathlib import PurePath

import pytest
from tests.pilots.helpers import reference, reference_text_for
from tests.reference_edits import catalog

from eks_platform.errors import SpecError, UsageError
from eks_platform.pilots import manifests_path, pilot_from_args, plan_pilot, with_pilot
from eks_platform.render import render
from eks_platform.spec.loading import load_text

PILOTS = "  - name: beta\n    instanceType: t3.2xlarge\n"


@pytest.mark.parametrize("api", ["v1", "v1alpha5"])
def test_the_cli_pilot_and_the_spec_pilot_render_the_same_objects(api: str) -> None:
    text = reference_text_for(api)
    assert text.count(PILOTS) == 1
    written = text.replace(
        PILOTS, PILOTS + "  - name: shop\n    instanceType: m6a.4xlarge\n    manifests: examples/pilots/shop\n"
    )
    from_yaml = load_text(written, file="platform.yaml", catalog=catalog()).platform
    from_args = with_pilot(reference(api), pilot_from_args("shop", "m6a.4xlarge"), catalog=catalog())
    yaml_objects = render(from_yaml, catalog=catalog()).manifests
    assert render(from_args, catalog=catalog()).manifests == yaml_objects
    planned = plan_pilot(reference(api), pilot_from_args("shop", "m6a.4xlarge"), workloads=[], catalog=catalog())
    assert all(obj in yaml_objects for obj in planned.platform_objects)


def test_a_pilot_of_the_same_name_is_replaced() -> None:
    platform = with_pilot(
        reference(), pilot_from_args("alpha", "t3.2xlarge", namespace="alpha-demo"), catalog=catalog()
    )
    assert [(p.name, p.instance_type, p.namespace) for p in platform.pilots] == [
        ("alpha", "t3.2xlarge", "alpha-demo"),
        ("beta", "t3.2xlarge", "pilot-beta"),
    ]


def test_the_default_namespace_is_filled() -> None:
    platform = with_pilot(reference(), pilot_from_args("shop", "t3.2xlarge"), catalog=catalog())
    assert platform.pilots[-1].namespace == "pilot-shop"


def test_bad_arguments_are_named() -> None:
    with pytest.raises(UsageError) as raised:
        pilot_from_args("Shop_1", "m6a.4xlarge")
    assert str(raised.value) == (
        "NAME 'Shop_1': String should match pattern '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$'; fix: a pilot's name and "
        "namespace are DNS labels (lowercase letters, digits and '-'); a name has at most 57 characters, since its "
        "pool and namespace are pilot-NAME"
    )


def test_a_name_too_long_for_its_pool_and_namespace_is_refused_not_a_traceback() -> None:
    with pytest.raises(UsageError, match="String should have at most 57 characters"):
        pilot_from_args("p" * 58, "m6a.4xlarge")
    assert pilot_from_args("p" * 57, "m6a.4xlarge").name == "p" * 57
    with pytest.raises(SpecError) as spec_error:
        with_pilot(reference(), pilot_from_args("shop", "m6.4xlarge"), catalog=catalog())
    assert [str(issue) for issue in spec_error.value.issues] == [
        "<spec> pilots[2].instanceType: 'm6.4xlarge' is not an EC2 instance type; did you mean m6i.4xlarge or m6g.4xlarge?"
    ]
    with pytest.raises(SpecError) as taken:
        with_pilot(reference(), pilot_from_args("shop", "t3.2xlarge", namespace="irtp"), catalog=catalog())
    assert [str(issue) for issue in taken.value.issues] == [
        "<spec> pilots[2].namespace: namespace 'irtp' is already an application namespace; "
        "give every pilot a namespace of its own"
    ]


def test_manifests_are_found_relative_to_the_spec_file() -> None:
    pilot = pilot_from_args("shop", "m6a.4xlarge").model_copy(update={"manifests": "pilots/shop"})
    assert manifests_path(pilot, spec_file="deploy/platform.yaml") == PurePath("deploy/pilots/shop")
    assert manifests_path(pilot_from_args("shop", "m6a.4xlarge"), spec_file="platform.yaml") is None
