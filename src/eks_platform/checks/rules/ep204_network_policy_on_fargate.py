from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from eks_platform.checks.context import CheckContext
from eks_platform.checks.finding import Finding, Severity
from eks_platform.checks.objects import KubeObject
from eks_platform.checks.rule import Rule
from eks_platform.checks.rules.fargate_common import fargate_pods, workload
from eks_platform.checks.scheduling import satisfies
from eks_platform.errors import Loc

Labels = Mapping[str, str]
Matcher = Callable[[Labels], bool]
CALICO_GROUPS = ("projectcalico.org", "crd.projectcalico.org")


class Ep204NetworkPolicyOnFargate(Rule):
    id = "EP204"
    severity = Severity.warning
    title = "Network policies select no pods on Fargate (Calico does not enforce policy there)"
    fix = (
        "protect the Fargate pods with security groups for pods (a SecurityGroupPolicy), or move them to EC2 "
        "where Calico enforces the policy"
    )
    url = "https://docs.aws.amazon.com/eks/latest/userguide/security-groups-for-pods.html"

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        on_fargate = list(fargate_pods(ctx))
        for policy in ctx.of_kind("NetworkPolicy"):
            found = policy_selector(policy)
            if found is None:
                continue
            path, matches = found
            selected = sorted(
                {workload(t) for t in on_fargate if t.namespace == policy.namespace and matches(t.labels)}
            )
            if selected:
                yield self.on_object(
                    policy,
                    path,
                    f"selects pods that run on Fargate ({', '.join(selected)}): Fargate pods are not Calico "
                    "endpoints, so nothing enforces this policy on them and their traffic is not filtered",
                )


def policy_selector(policy: KubeObject) -> tuple[Loc, Matcher] | None:
    """(where the selector is, which pod labels it selects); None for another kind or a selector not understood."""
    if policy.group == "networking.k8s.io":
        return ("spec", "podSelector"), label_selector(policy.spec.get("podSelector"))
    if policy.group in CALICO_GROUPS and not policy.spec.get("serviceAccountSelector"):
        matcher = calico_selector(str(policy.spec.get("selector") or ""))
        return (("spec", "selector"), matcher) if matcher is not None else None
    return None


def label_selector(selector: Any) -> Matcher:
    """A Kubernetes LabelSelector (empty or absent: every pod)."""
    selector = selector if isinstance(selector, Mapping) else {}
    wanted = selector.get("matchLabels") if isinstance(selector.get("matchLabels"), Mapping) else {}
    expressions = [e for e in selector.get("matchExpressions") or [] if isinstance(e, Mapping)]

    def matches(labels: Labels) -> bool:
        if any(labels.get(str(k)) != str(v) for k, v in wanted.items()):
            return False
        return all(
            satisfies(labels.get(str(e.get("key"))), str(e.get("operator")), [str(v) for v in e.get("values") or []])
            for e in expressions
        )

    return matches


_TERMS: list[tuple[re.Pattern[str], Callable[[re.Match[str], Labels], bool]]] = [
    (re.compile(r"^all\(\)$"), lambda m, labels: True),
    (re.compile(r"^has\(([\w./-]+)\)$"), lambda m, labels: m[1] in labels),
    (re.compile(r"^!\s*has\(([\w./-]+)\)$"), lambda m, labels: m[1] not in labels),
    (re.compile(r"""^([\w./-]+)\s*==\s*(['"])([^'"]*)\2$"""), lambda m, labels: labels.get(m[1]) == m[3]),
    (re.compile(r"""^([\w./-]+)\s*!=\s*(['"])([^'"]*)\2$"""), lambda m, labels: labels.get(m[1]) != m[3]),
]


def calico_selector(text: str) -> Matcher | None:
    """A Calico selector made of all(), has(k), !has(k), k == 'v' and k != 'v' joined by &&; None otherwise."""
    terms: list[tuple[re.Match[str], Callable[[re.Match[str], Labels], bool]]] = []
    for part in text.split("&&") if text.strip() else []:
        found = next(((m, test) for pattern, test in _TERMS if (m := pattern.match(part.strip()))), None)
        if found is None:
            return None
        terms.append(found)
    return lambda labels: all(test(match, labels) for match, test in terms)
