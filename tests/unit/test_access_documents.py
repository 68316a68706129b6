"""AccessRequest documents and the access fields of policies: schema, checks, typed values."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from controller.documents import parse_policy
from controller.documents.access_rules import access_store_problems, check_access_requests
from controller.documents.parse import parse_access_request, parse_document_file
from controller.documents.pull_files import FileChange, pull_files
from controller.documents.rules import Rules
from controller.errors import DocumentError, Problem
from controller.model import (
    AccessDelivery,
    AccessRequest,
    Action,
    Environment,
    KubernetesSubject,
    SealingKey,
    SecretAccess,
)
from controller.reconciler.judging import judge_documents

SOURCE = "access/production/incident-4711.yaml"
REQUEST = """\
apiVersion: sealgate.dev/v1
kind: AccessRequest
metadata: {name: incident-4711-stripe}
spec:
  environment: production
  secrets:
    - {secret: payments/stripe, keys: [STRIPE_API_KEY]}
  requester: dev1
  reason: Investigating failed payouts, incident 4711
  duration: 2h
  activateWithin: 24h
"""


def _with(extra: str = "", **replace: str) -> bytes:
    text = REQUEST
    for old, new in replace.items():
        text = text.replace(old, new)
    return (text + extra).encode()


def _problems(data: bytes, source: str = SOURCE) -> list[str]:
    with pytest.raises(DocumentError) as caught:
        parse_access_request(source, data)
    return [str(p) for p in caught.value.problems]


def test_request_builds_with_defaults() -> None:
    request = parse_access_request(SOURCE, _with())
    assert request == AccessRequest(
        name="incident-4711-stripe",
        environment="production",
        secrets=(SecretAccess("payments/stripe", ("STRIPE_API_KEY",)),),
        requester="dev1",
        reason="Investigating failed payouts, incident 4711",
        duration=timedelta(hours=2),
        activate_within=timedelta(hours=24),
        deliver=frozenset({AccessDelivery.OPEN}),
        source=SOURCE,
    )
    assert request.request_id == "incident-4711"


def test_service_account_subject_keeps_its_namespace() -> None:
    data = _with(
        "  deliver: [kubernetes]\n"
        "  kubernetesSubject: {kind: ServiceAccount, name: agent-1, namespace: ops}\n"
    )
    request = parse_access_request(SOURCE, data)
    assert request.kubernetes_subject == KubernetesSubject("ServiceAccount", "agent-1", "ops")


def test_kubernetes_delivery_builds_its_subject() -> None:
    data = _with(
        "  deliver: [open, kubernetes]\n"
        "  kubernetesSubject: {kind: User, name: dev1@acme.example}\n"
    )
    request = parse_access_request(SOURCE, data)
    assert request.deliver == frozenset(AccessDelivery)
    assert request.kubernetes_subject == KubernetesSubject("User", "dev1@acme.example")


def test_document_kind_dispatch_knows_access_requests() -> None:
    (document,) = parse_document_file(SOURCE, _with())
    assert isinstance(document, AccessRequest)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        pytest.param(
            _with("  deliver: [kubernetes]\n"),
            f"{SOURCE}:12: spec.kubernetesSubject: required field is missing",
            id="kubernetes-without-subject",
        ),
        pytest.param(
            _with("  kubernetesSubject: {kind: User, name: dev1}\n"),
            "spec.kubernetesSubject: is only used by the kubernetes delivery",
            id="subject-without-kubernetes",
        ),
        pytest.param(
            _with(
                "  deliver: [kubernetes]\n  kubernetesSubject: {kind: ServiceAccount, name: a}\n"
            ),
            "spec.kubernetesSubject.namespace: required field is missing",
            id="service-account-without-namespace",
        ),
        pytest.param(
            _with(
                "  deliver: [kubernetes]\n"
                "  kubernetesSubject: {kind: User, name: a, namespace: x}\n"
            ),
            "a User subject has no namespace",
            id="user-with-namespace",
        ),
        pytest.param(
            _with(
                "  deliver: [kubernetes]\n"
                "  kubernetesSubject: {kind: ServiceAccount, name: Bad_Name, namespace: ops}\n"
            ),
            "spec.kubernetesSubject.name: must be a ServiceAccount name",
            id="service-account-bad-name",
        ),
        pytest.param(
            _with(**{"duration: 2h": "duration: 31d"}),
            f"{SOURCE}:10: spec.duration: is longer than the 30d",
            id="duration-too-long",
        ),
        pytest.param(
            _with(**{"activateWithin: 24h": "activateWithin: 5w"}),
            "spec.activateWithin: is longer than the 30d",
            id="activation-too-long",
        ),
        pytest.param(
            _with(**{"duration: 2h": "duration: 0h"}),
            "spec.duration: must be a whole number and a unit",
            id="duration-zero",
        ),
        pytest.param(
            _with(**{"duration: 2h": "duration: 2 hours"}),
            "spec.duration: must be a whole number and a unit",
            id="duration-words",
        ),
        pytest.param(
            _with(**{"    - {secret: payments/stripe, keys: [STRIPE_API_KEY]}": "    []"}),
            "spec.secrets: must not be empty",
            id="no-secrets",
        ),
        pytest.param(
            _with(
                **{
                    "    - {secret: payments/stripe, keys: [STRIPE_API_KEY]}": (
                        "    - {secret: payments/stripe, keys: [A]}\n"
                        "    - {secret: payments/stripe, keys: [B]}"
                    )
                }
            ),
            f"{SOURCE}:8: spec.secrets[1].secret: names the same secret as spec.secrets[0]",
            id="secret-twice",
        ),
        pytest.param(
            _with(**{"keys: [STRIPE_API_KEY]": "keys: [A, A]"}),
            "spec.secrets[0].keys: lists the same item twice",
            id="key-twice",
        ),
        pytest.param(
            _with(**{"secret: payments/stripe": "secret: payments/*"}),
            "spec.secrets[0].secret: must be <namespace>/<name>",
            id="glob-secret",
        ),
        pytest.param(
            _with(**{"requester: dev1": "requester: 'dev 1'"}),
            "spec.requester: must be a GitHub login",
            id="requester-not-login",
        ),
        pytest.param(
            _with(**{"reason: Investigating": "reason: ghp_" + "a" * 36 + " Investigating"}),
            "spec.reason: looks like it holds a GitHub token",
            id="credential-in-reason",
        ),
        pytest.param(
            _with(**{"environment: production": "environment: governance"}),
            "spec.environment: 'governance' is not an environment",
            id="governance-environment",
        ),
        pytest.param(
            _with("  extra: 1\n"),
            "spec.extra: unknown field",
            id="unknown-field",
        ),
        pytest.param(
            _with() + b"---\n" + _with(),
            "holds 2 documents",
            id="two-documents",
        ),
    ],
)
def test_request_problem(data: bytes, expected: str) -> None:
    problems = _problems(data)
    assert any(expected in p for p in problems), problems


def test_request_problem_never_shows_the_reason() -> None:
    token = "ghp_" + "Z" * 36
    problems = _problems(_with(**{"reason: Investigating": f"reason: {token} Investigating"}))
    assert problems
    assert not any(token in p for p in problems)


ENVIRONMENT = Environment(
    name="production",
    sealing_keys=(SealingKey("k1", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="),),
    namespaces=("payments",),
    source="environments/production.yaml",
)
RULES = Rules(environments={"production": ENVIRONMENT})


def _request(
    source: str = SOURCE,
    environment: str = "production",
    secret: str = "payments/stripe",  # noqa: S107 - a secret's name, not a password
) -> AccessRequest:
    return AccessRequest(
        name="r",
        environment=environment,
        secrets=(SecretAccess(secret, ("STRIPE_API_KEY",)),),
        requester="dev1",
        reason="incident",
        duration=timedelta(hours=1),
        activate_within=timedelta(hours=1),
        source=source,
    )


def test_request_must_live_under_its_environment() -> None:
    (problem,) = check_access_requests([_request("access/staging/r.yaml")], RULES)
    assert problem.field == "spec.environment"
    assert "must live under access/production/" in problem.message


def test_request_file_is_directly_in_its_directory() -> None:
    (problem,) = check_access_requests([_request("access/production/team/r.yaml")], RULES)
    assert "access/production/<id>.yaml" in problem.message


def test_request_for_unknown_environment() -> None:
    (problem,) = check_access_requests([_request("access/prod/r.yaml", environment="prod")], RULES)
    assert "no environment named 'prod' (there are: production)" in problem.message


def test_request_outside_the_environments_namespaces() -> None:
    (problem,) = check_access_requests([_request(secret="kube-system/token")], RULES)
    assert problem.field == "spec.secrets[0].secret"


def test_request_without_rules_checks_the_place_only() -> None:
    assert (
        check_access_requests(
            [_request(environment="nowhere", source="access/nowhere/r.yaml")], None
        )
        == []
    )


def test_store_must_hold_the_secret_and_keys() -> None:
    requests = [_request()]
    assert (
        access_store_problems(
            requests, {"production/payments/stripe": frozenset({"STRIPE_API_KEY"})}
        )
        == []
    )
    (missing,) = access_store_problems(requests, {})
    assert missing.field == "spec.secrets[0].secret"
    assert "holds no secret production/payments/stripe" in missing.message
    (key,) = access_store_problems(requests, {"production/payments/stripe": frozenset({"OTHER"})})
    assert key.field == "spec.secrets[0].keys"
    assert "no key STRIPE_API_KEY" in key.message


POLICY = """\
apiVersion: sealgate.dev/v1
kind: ApprovalPolicy
metadata: {name: prod-access}
spec:
  environments: [production]
  approvals: {required: 1, teams: [acme/sre]}
"""


def test_policy_actions_default_to_change() -> None:
    policy = parse_policy("policies/p.yaml", POLICY.encode())
    assert policy.actions == frozenset({Action.CHANGE})
    assert policy.max_duration is None


def test_policy_actions_and_max_duration() -> None:
    data = POLICY + "  actions: [access, change]\n  maxDuration: 4h\n"
    policy = parse_policy("policies/p.yaml", data.encode())
    assert policy.actions == frozenset(Action)
    assert policy.max_duration == timedelta(hours=4)


def test_policy_max_duration_needs_access() -> None:
    with pytest.raises(DocumentError) as caught:
        parse_policy("policies/p.yaml", (POLICY + "  maxDuration: 4h\n").encode())
    (problem,) = caught.value.problems
    assert str(problem).startswith("policies/p.yaml:7: spec.maxDuration: maxDuration limits")


def test_policy_unknown_action() -> None:
    with pytest.raises(DocumentError) as caught:
        parse_policy("policies/p.yaml", (POLICY + "  actions: [read]\n").encode())
    assert "spec.actions[0]: must be one of change, access" in str(caught.value)


# --------------------------------------------------------------- judging, kinds by directory


def test_judging_reads_access_files_as_requests_and_checks_them() -> None:
    judged = judge_documents(None, {SOURCE: _with()}, with_lines=True)
    assert judged.problems == ()
    assert [r.request_id for r in judged.access_requests] == ["incident-4711"]
    assert judged.secret_changes == []


def test_judging_refuses_a_change_under_access_and_a_request_under_changes() -> None:
    judged = judge_documents(None, {"changes/production/x.yaml": _with()})
    assert [str(p) for p in judged.problems] == [
        "changes/production/x.yaml:2: kind: must be SecretChange here"
    ]
    assert judged.access_requests == []
    change = _with(**{"kind: AccessRequest": "kind: SecretChange"})
    judged = judge_documents(None, {SOURCE: change})
    assert [str(p) for p in judged.problems] == [f"{SOURCE}:2: kind: must be AccessRequest here"]


def test_judging_gives_cross_file_problems_their_lines() -> None:
    judged = judge_documents(None, {"access/staging/x.yaml": _with()}, with_lines=True)
    (problem,) = judged.problems
    assert str(problem).startswith("access/staging/x.yaml:5: spec.environment: an access request")


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)
_FIELDS = [
    "environment",
    "secrets",
    "requester",
    "reason",
    "duration",
    "activateWithin",
    "deliver",
    "kubernetesSubject",
]


@settings(max_examples=200, deadline=None)
@given(field=st.sampled_from(_FIELDS), value=_JSON)
def test_any_field_value_parses_or_is_a_problem_naming_the_file(field: str, value: Any) -> None:
    document = yaml.safe_load(_with())
    document["spec"][field] = value
    problems: tuple[Problem, ...] = ()
    try:
        parse_access_request(SOURCE, yaml.safe_dump(document).encode())
    except DocumentError as exc:
        problems = exc.problems
    assert all(p.file == SOURCE and p.message for p in problems)


def test_pull_files_judge_added_access_files_and_skip_removed_ones() -> None:
    listed = pull_files(
        [
            FileChange("access/production/new.yaml", "added"),
            FileChange("access/production/old.yaml", "removed"),
            FileChange("access/production/edited.yaml", "modified"),
            FileChange("accessories.yaml", "added"),
        ]
    )
    assert listed.judged == ("access/production/new.yaml", "access/production/edited.yaml")
    assert listed.touches_rules is False
