#!/usr/bin/python
# Ansible module: drive `eksp pilot create|delete` (one pilot on one dedicated Karpenter node).

from __future__ import annotations

DOCUMENTATION = r"""
---
module: eksp_pilot
short_description: Create or delete an eks-platform pilot on its own dedicated Karpenter node
description:
  - Runs C(eksp pilot create) or C(eksp pilot delete) with C(--output json) and reports what changed.
  - A pilot is one whole deployment pinned to one dedicated Karpenter node in the namespace C(pilot-NAME).
  - "The module runs where the task runs, so it usually runs on the controller with C(delegate_to: localhost)
    or in a play with C(hosts: localhost); that host needs the C(eksp) CLI and credentials for the cluster."
  - Not part of a collection. Use it as a plain library module by setting
    C(ANSIBLE_LIBRARY=ansible/plugins/modules) (or C(library = ansible/plugins/modules) in C(ansible.cfg)),
    or copy the file into a collection's C(plugins/modules/) folder.
options:
  name:
    description:
      - Name of the pilot. Its node pool is C(pilot-NAME), and so is its namespace unless O(namespace) is set.
    type: str
    required: true
  state:
    description:
      - V(present) runs C(eksp pilot create) (creates or updates); V(absent) runs C(eksp pilot delete).
    type: str
    choices: [present, absent]
    default: present
  instance_type:
    description:
      - EC2 instance type of the pilot's dedicated node, for example V(m6i.xlarge).
      - Required when O(state=present); ignored when O(state=absent).
      - Not checked here; C(eksp) fails with exit code 2 when the pilot does not fit the type.
    type: str
  manifests:
    description:
      - Directory of Kubernetes manifests that make up the pilot.
      - With O(state=present), exactly one of O(manifests) or O(chart) is required.
    type: path
  chart:
    description:
      - Helm chart of the pilot, passed as C(--chart) - a local chart folder, an C(oci://) reference,
        or the name of a chart in O(repo).
      - Mutually exclusive with O(manifests). O(values) is optional; without it the chart's defaults are used.
    type: str
  repo:
    description:
      - Where O(chart) comes from, passed as C(--repo) - a Helm repository URL (C(https://)) or an OCI registry
        path (C(oci://)). Requires O(chart). Leave it out for a local chart folder (O(chart) is then its path).
      - With O(repo), O(version) is needed too; C(eksp) refuses an unpinned chart from a repository.
    type: str
  version:
    description:
      - Version of O(chart), passed as C(--version). Requires O(chart).
      - Needed for a chart in O(repo) or an C(oci://) chart.
    type: str
  values:
    description:
      - Helm values file for O(chart), passed as C(--values). Requires O(chart); mutually exclusive with O(manifests).
    type: path
  namespace:
    description:
      - Namespace of the pilot, passed as C(--namespace). When omitted, C(eksp) uses C(pilot-NAME).
      - Used with O(state=present) only; ignored when O(state=absent).
    type: str
  platform:
    description:
      - Path to the platform spec (C(platform.yaml)), passed as C(-f). When omitted, C(eksp) uses its default.
    type: path
  context:
    description:
      - Kubeconfig context to reach the cluster through, passed as C(--context).
      - When omitted, C(eksp) reaches the cluster straight from AWS (the endpoint and CA from DescribeCluster, a
        token signed with the AWS credentials), without reading any kubeconfig.
    type: str
  kubeconfig:
    description:
      - Kubeconfig file to use, passed as C(--kubeconfig). When omitted, C(eksp) uses E(KUBECONFIG) or its default.
    type: path
  profile:
    description:
      - AWS profile to use, passed as C(--profile). When omitted, E(AWS_PROFILE) and then the standard chain are used.
    type: str
  region:
    description:
      - AWS region, passed as C(--region). When omitted, the platform spec's cluster region is used.
    type: str
  timeout:
    description:
      - How long C(eksp) waits, in seconds, passed as C(--timeout). With O(state=present), for the pilot's node
        and pods to be up; with O(state=absent), for the pilot's node to be gone. When omitted, C(eksp)'s defaults
        apply.
      - Not the task keyword C(timeout), which kills the whole task; leave that unset or longer than this.
    type: int
  eksp:
    description:
      - Path of the C(eksp) executable. When omitted, C(eksp) is looked up on E(PATH).
    type: path
extends_documentation_fragment:
  - action_common_attributes
attributes:
  check_mode:
    support: full
    details:
      - Passes C(--dry-run); C(changed) is what C(eksp) answers it would change.
      - When C(eksp) could not compare the dry run with the live cluster (no credentials, cluster unreachable),
        every object is reported as created, the task warns and RV(not_compared) says why.
  diff_mode:
    support: full
    details: Lists the pilot's objects before and after (created, updated or removed).
  platform:
    platforms: posix
requirements:
  - The C(eksp) CLI (package C(eks-platform)) on the host that runs the task.
notes:
  - Idempotent when C(eksp) is; C(changed) is reported by C(eksp) itself.
author:
  - eks-platform team
"""

EXAMPLES = r"""
# ANSIBLE_LIBRARY=ansible/plugins/modules ansible-playbook pilots.yml
- name: Run the checkout pilot from its manifests on an m6i.xlarge node
  eksp_pilot:
    name: checkout
    instance_type: m6i.xlarge
    manifests: pilots/checkout/
    platform: platform.yaml
  delegate_to: localhost

- name: Run the search pilot from a chart in a Helm repository, in a given kube context and AWS profile
  eksp_pilot:
    name: search
    instance_type: r6i.2xlarge
    chart: search
    repo: https://charts.example.com/stable
    version: 4.2.1
    values: pilots/search/values.yaml
    context: platform-dev
    kubeconfig: ~/.kube/platform-dev.yaml
    profile: platform-dev
    region: eu-west-1
  delegate_to: localhost
  register: search_pilot

- name: Run the cache pilot from an OCI chart with its default values, in its own namespace
  eksp_pilot:
    name: cache
    instance_type: r6i.large
    chart: cache
    repo: oci://registry.example.com/charts
    version: 0.9.0
    namespace: cache-trial
    timeout: 1200
  delegate_to: localhost

- name: Show where the search pilot runs
  ansible.builtin.debug:
    msg: "{{ search_pilot.node }}: {{ search_pilot.pods | map(attribute='name') | list }}"

- name: Remove the checkout pilot, its node pool and its namespace
  eksp_pilot:
    name: checkout
    state: absent
    timeout: 1800
    eksp: /opt/eks-platform/bin/eksp
  delegate_to: localhost
"""

RETURN = r"""
pilot:
  description: Name of the pilot, as answered by C(eksp).
  returned: always
  type: str
  sample: checkout
dry_run:
  description: Whether C(eksp) ran with C(--dry-run) (check mode) and so changed nothing.
  returned: always
  type: bool
  sample: false
cmd:
  description: The command that was run.
  returned: always
  type: list
  elements: str
  sample: [eksp, pilot, delete, checkout, --output, json]
instance_type:
  description: Instance type of the pilot's node.
  returned: when O(state=present)
  type: str
  sample: m6i.xlarge
namespace:
  description: Namespace of the pilot.
  returned: when O(state=present)
  type: str
  sample: pilot-checkout
node:
  description: Name of the node the pilot runs on, or null while no node is up yet (always null in check mode).
  returned: when O(state=present)
  type: str
  sample: ip-10-0-12-34.eu-west-1.compute.internal
objects:
  description: Every object of the pilot and what C(eksp) did (or would do) to it.
  returned: when O(state=present)
  type: list
  elements: dict
  contains:
    kind:
      description: Kubernetes kind.
      type: str
      sample: Deployment
    namespace:
      description: Namespace of the object, null for cluster-scoped objects.
      type: str
      sample: pilot-checkout
    name:
      description: Name of the object.
      type: str
      sample: checkout
    action:
      description: What was done to the object.
      type: str
      sample: create
      choices: [create, update, unchanged]
pods:
  description: Pods of the pilot and the node each one runs on.
  returned: when O(state=present)
  type: list
  elements: dict
  contains:
    name:
      description: Pod name.
      type: str
      sample: checkout-7d9c6b5f4-abcde
    node:
      description: Node of the pod, null while unscheduled.
      type: str
      sample: ip-10-0-12-34.eu-west-1.compute.internal
    ready:
      description: Whether the pod is ready.
      type: bool
      sample: true
not_compared:
  description:
    - Why C(eksp) could not compare the dry run with the live cluster (for example no credentials, or the cluster
      is unreachable). The objects are then all reported as created, so C(changed) and the diff may overstate
      what would change.
  returned: in check mode with O(state=present), when the dry run was not compared with the live cluster
  type: str
  sample: "no credentials for the cluster: run `aws sso login`"
removed:
  description: What C(eksp) removed (or would remove), one C(Kind name) string each.
  returned: when O(state=absent)
  type: list
  elements: str
  sample: [NodePool pilot-checkout, Namespace pilot-checkout]
diff:
  description:
    - In diff mode, the pilot's objects as C(Kind namespace/name) lines before and after.
    - An updated object shows as its old line removed and the same line ending in '(updated)' added.
  returned: when diff mode is on
  type: dict
  contains:
    before_header:
      description: C(pilot NAME).
      type: str
    after_header:
      description: C(pilot NAME).
      type: str
    before:
      description: One line per object that existed before.
      type: str
      sample: Deployment pilot-checkout/checkout
    after:
      description: One line per object afterwards.
      type: str
      sample: Deployment pilot-checkout/checkout (updated)
"""

import json  # noqa: E402  (Ansible wants the doc blocks before imports)

from ansible.module_utils.basic import AnsibleModule  # noqa: E402

ARGUMENT_SPEC = dict(
    name=dict(type="str", required=True),
    state=dict(type="str", default="present", choices=["present", "absent"]),
    instance_type=dict(type="str"),
    manifests=dict(type="path"),
    chart=dict(type="str"),
    repo=dict(type="str"),
    version=dict(type="str"),
    values=dict(type="path"),
    namespace=dict(type="str"),
    platform=dict(type="path"),
    context=dict(type="str"),
    kubeconfig=dict(type="path"),
    profile=dict(type="str"),
    region=dict(type="str"),
    timeout=dict(type="int"),
    eksp=dict(type="path"),
)


def build_argv(eksp, params, check_mode):
    """The `eksp pilot` command line for these module parameters."""
    if params["state"] == "present":
        argv = [eksp, "pilot", "create", params["name"], "--instance-type", params["instance_type"]]
        if params["manifests"]:
            argv += ["--manifests", params["manifests"]]
        else:
            argv += ["--chart", params["chart"]]
            argv += flags(params, ("repo", "--repo"), ("version", "--version"), ("values", "--values"))
        argv += flags(params, ("namespace", "--namespace"))
    else:
        argv = [eksp, "pilot", "delete", params["name"]]
    argv += flags(
        params,
        ("platform", "-f"),
        ("context", "--context"),
        ("kubeconfig", "--kubeconfig"),
        ("profile", "--profile"),
        ("region", "--region"),
        ("timeout", "--timeout"),
    )
    if check_mode:
        argv.append("--dry-run")
    argv += ["--output", "json"]
    return argv


def flags(params, *options):
    """`FLAG VALUE` for each (option, FLAG) whose option is set (None and "" are unset; 0 is a value)."""
    argv = []
    for option, flag in options:
        if params[option] not in (None, ""):
            argv += [flag, str(params[option])]
    return argv


def run_eksp(module, argv):
    """Run eksp and return its JSON answer; fail the task with eksp's own message when it fails."""
    # No shell, and no $VAR/~ expansion of the pilot name (paths were expanded by their `path` type).
    rc, out, err = module.run_command(argv, expand_user_and_vars=False)
    command = " ".join(["eksp", *argv[1:3]])
    try:
        answer = json.loads(out)
    except ValueError:
        answer = None
    if rc != 0:
        if isinstance(answer, dict) and answer.get("error"):
            msg = answer["error"]
        else:
            msg = f"{command} failed with exit code {rc}: {err.strip() or out.strip() or 'no output'}"
        module.fail_json(msg=msg, rc=rc, cmd=argv, stdout=out, stderr=err)
    if not isinstance(answer, dict) or not isinstance(answer.get("changed"), bool):
        module.fail_json(
            msg=f"{command} exited 0 but did not print a JSON object with a boolean 'changed'"
            f" (is this eksp too old for `--output json`?). stdout: {out.strip()[:500]!r};"
            f" stderr: {err.strip()[:500]!r}",
            rc=rc,
            cmd=argv,
            stdout=out,
            stderr=err,
        )
    return answer


def object_line(obj):
    where = f"{obj['namespace']}/{obj['name']}" if obj.get("namespace") else obj["name"]
    return f"{obj['kind']} {where}"


def lines(texts):
    return "".join(f"{text}\n" for text in texts)


def present_result(answer):
    objects = answer.get("objects") or []
    result = dict(
        instance_type=answer.get("instanceType"),
        namespace=answer.get("namespace"),
        node=answer.get("node"),
        objects=objects,
        pods=answer.get("pods") or [],
    )
    before = [object_line(obj) for obj in objects if obj.get("action") != "create"]
    after = [object_line(obj) + (" (updated)" if obj.get("action") == "update" else "") for obj in objects]
    return result, before, after


def absent_result(answer):
    removed = answer.get("removed") or []
    return dict(removed=removed), removed, []


def main():
    module = AnsibleModule(
        argument_spec=ARGUMENT_SPEC,
        mutually_exclusive=[("manifests", "chart"), ("manifests", "values")],
        required_by={"values": "chart", "repo": "chart", "version": "chart"},
        required_if=[
            ("state", "present", ("instance_type",)),
            ("state", "present", ("manifests", "chart"), True),
        ],
        supports_check_mode=True,
    )
    timeout = module.params["timeout"]
    if timeout is not None and timeout < 1:
        module.fail_json(msg=f"timeout must be a positive number of seconds, got {timeout}")
    eksp = module.params["eksp"] or module.get_bin_path("eksp", required=True)
    argv = build_argv(eksp, module.params, module.check_mode)
    answer = run_eksp(module, argv)

    if module.params["state"] == "present":
        result, before, after = present_result(answer)
    else:
        result, before, after = absent_result(answer)
    result.update(
        changed=answer["changed"],
        pilot=answer.get("pilot", module.params["name"]),
        dry_run=bool(answer.get("dryRun", module.check_mode)),
        cmd=argv,
    )
    not_compared = answer.get("notCompared")
    if module.check_mode and isinstance(not_compared, str) and not_compared.strip():
        result["not_compared"] = not_compared
        module.warn(
            f"pilot {result['pilot']}: the dry run was not compared with the live cluster ({not_compared.strip()});"
            " every object is reported as created, so 'changed' and the diff may overstate what would change"
        )
    if module._diff:
        header = f"pilot {module.params['name']}"
        result["diff"] = dict(before_header=header, after_header=header, before=lines(before), after=lines(after))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
