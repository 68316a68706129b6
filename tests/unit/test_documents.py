"""Parsing valid documents into the typed model, defaults included.

The literal documents here are the fixtures of every ``test_documents_*`` module.
"""

from __future__ import annotations

import copy
from datetime import timedelta
from typing import Any

import pytest
import yaml

from controller.documents import (
    parse_changes,
    parse_document_file,
    parse_duration,
    parse_environment,
    parse_policy,
)
from controller.errors import DocumentError
from controller.model import (
    Alphabet,
    ApprovalStep,
    Enforcement,
    Environment,
    GenerateSpec,
    Policy,
    SecretChange,
    Tier,
    Unmatched,
)

PROD_KEY = "rH/EHiyezD+Qyxr3QSRsRKPXa2wery/VZ5GW/dbrxUE="
OLD_KEY = "iJd6g5ua4Pzy/BFQFogUwZeLfWVAqU6pwlp8qxIsoSc="
SEALED = "sg1:prod-2026-11:c2VhbGVkLWJ5dGVzLW5vdC1hLXNlY3JldA"

ENVIRONMENT: dict[str, Any] = {
    "apiVersion": "sealgate.dev/v1",
    "kind": "Environment",
    "metadata": {"name": "production"},
    "spec": {
        "sealingKeys": [
            {"id": "prod-2026-11", "publicKey": PROD_KEY},
            {"id": "prod-2026-05", "publicKey": OLD_KEY},
        ],
        "clusters": ["prod-eu-1", "prod-us-1"],
        "namespaces": ["payments", "web"],
    },
}

POLICY: dict[str, Any] = {
    "apiVersion": "sealgate.dev/v1",
    "kind": "ApprovalPolicy",
    "metadata": {"name": "production-two-person", "description": "Two people for prod."},
    "spec": {
        "environments": ["production"],
        "approvals": {"required": 2, "users": ["alice"], "teams": ["acme/sre"]},
    },
}

STEPS_POLICY: dict[str, Any] = {
    "apiVersion": "sealgate.dev/v1",
    "kind": "ApprovalPolicy",
    "metadata": {"name": "critical"},
    "spec": {
        "environments": ["*"],
        "secrets": ["payments/**"],
        "tiers": ["critical"],
        "steps": [
            {"name": "owners", "required": 1, "teams": ["acme/payments"]},
            {"name": "security", "required": 1, "users": ["sec-lead"], "teams": ["acme/sec"]},
        ],
        "allowSelfApproval": True,
        "invalidateOnPush": False,
        "changesRequestedBlocks": False,
        "enforcement": "soft",
        "bypassers": {"users": ["oncall"], "teams": ["acme/sre"]},
        "expiresAfter": "72h",
        "autoMerge": False,
        "requireVerifiedCommits": True,
        "notify": {
            "slack": ["#payments-oncall"],
            "email": ["sec@example.com"],
            "teams": ["Payments Approvals"],
        },
    },
}

CHANGE: dict[str, Any] = {
    "apiVersion": "sealgate.dev/v1",
    "kind": "SecretChange",
    "metadata": {"name": "rotate-stripe"},
    "spec": {
        "environment": "production",
        "secret": "payments/stripe",
        "reason": "Quarterly rotation of the Stripe key.",
        "set": {"STRIPE_KEY": SEALED},
    },
}

FULL_CHANGE: dict[str, Any] = {
    "apiVersion": "sealgate.dev/v1",
    "kind": "SecretChange",
    "metadata": {"name": "db.rotate-1"},
    "spec": {
        "environment": "production",
        "secret": "payments/db.primary",
        "reason": "Move to the new primary.",
        "tier": "critical",
        "baseVersion": 4,
        "set": {"DB_HOST": SEALED, "tls.crt": SEALED},
        "generate": {"DB_PASS": {}, "API-TOKEN": {"length": 64, "alphabet": "hex"}},
        "delete": ["OLD_PASS"],
    },
}


def dump(*documents: dict[str, Any]) -> bytes:
    return yaml.safe_dump_all(documents, sort_keys=False).encode()


def fresh(document: dict[str, Any]) -> dict[str, Any]:
    return copy.deepcopy(document)


def test_environment_is_typed_with_defaults() -> None:
    environment = parse_environment("environments/production.yaml", dump(ENVIRONMENT))
    assert environment == Environment(
        name="production",
        sealing_keys=environment.sealing_keys,
        default_tier=Tier.SENSITIVE,
        unmatched=Unmatched.DENY,
        clusters=("prod-eu-1", "prod-us-1"),
        source="environments/production.yaml",
        namespaces=("payments", "web"),
    )
    assert [key.id for key in environment.sealing_keys] == ["prod-2026-11", "prod-2026-05"]
    assert environment.sealing_keys[0].public_key == PROD_KEY


def test_environment_explicit_values() -> None:
    doc = fresh(ENVIRONMENT)
    doc["spec"] |= {"defaultTier": "critical", "unmatched": "allow"}
    del doc["spec"]["clusters"]
    environment = parse_environment("e.yaml", dump(doc))
    assert environment.default_tier is Tier.CRITICAL
    assert environment.unmatched is Unmatched.ALLOW
    assert environment.clusters == ()


def test_policy_approvals_become_one_step_and_defaults_apply() -> None:
    policy = parse_policy("policies/prod.yaml", dump(POLICY))
    assert policy == Policy(
        name="production-two-person",
        description="Two people for prod.",
        steps=(ApprovalStep("approvals", 2, frozenset({"alice"}), frozenset({"acme/sre"})),),
        environments=("production",),
        secrets=("**",),
        tiers=frozenset(Tier),
        allow_self_approval=False,
        invalidate_on_push=True,
        changes_requested_blocks=True,
        enforcement=Enforcement.HARD,
        expires_after=timedelta(days=7),
        auto_merge=True,
        source="policies/prod.yaml",
    )


def test_policy_steps_keep_order_and_every_field() -> None:
    policy = parse_policy("policies/critical.yaml", dump(STEPS_POLICY))
    assert [step.name for step in policy.steps] == ["owners", "security"]
    assert policy.steps[1] == ApprovalStep(
        "security", 1, frozenset({"sec-lead"}), frozenset({"acme/sec"})
    )
    assert policy.environments == ("*",)
    assert policy.secrets == ("payments/**",)
    assert policy.tiers == frozenset({Tier.CRITICAL})
    assert policy.allow_self_approval is True
    assert policy.invalidate_on_push is False
    assert policy.changes_requested_blocks is False
    assert policy.enforcement is Enforcement.SOFT
    assert policy.bypassers.users == frozenset({"oncall"})
    assert policy.bypassers.teams == frozenset({"acme/sre"})
    assert policy.expires_after == timedelta(hours=72)
    assert policy.auto_merge is False
    assert policy.require_verified_commits is True
    assert policy.notify.slack == ("#payments-oncall",)
    assert policy.notify.email == ("sec@example.com",)
    assert policy.notify.teams == ("Payments Approvals",)
    assert not policy.is_governance


def test_governance_is_a_valid_policy_environment() -> None:
    doc = fresh(POLICY)
    doc["spec"]["environments"] = ["governance"]
    assert parse_policy("policies/gov.yaml", dump(doc)).is_governance


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30m", timedelta(minutes=30)),
        ("72h", timedelta(hours=72)),
        ("7d", timedelta(days=7)),
        ("2w", timedelta(weeks=2)),
        ("999999w", timedelta(weeks=999999)),
    ],
)
def test_durations(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected
    doc = fresh(POLICY)
    doc["spec"]["expiresAfter"] = text
    assert parse_policy("p.yaml", dump(doc)).expires_after == expected


def test_change_is_typed() -> None:
    (change,) = parse_changes("changes/production/rotate.yaml", dump(FULL_CHANGE))
    assert change == SecretChange(
        name="db.rotate-1",
        environment="production",
        secret="payments/db.primary",
        reason="Move to the new primary.",
        set=change.set,
        generate=change.generate,
        delete=("OLD_PASS",),
        tier=Tier.CRITICAL,
        base_version=4,
        source="changes/production/rotate.yaml",
        document_index=0,
    )
    assert dict(change.set) == {"DB_HOST": SEALED, "tls.crt": SEALED}
    assert dict(change.generate) == {
        "DB_PASS": GenerateSpec(32, Alphabet.ALPHANUMERIC),
        "API-TOKEN": GenerateSpec(64, Alphabet.HEX),
    }
    assert change.path == "production/payments/db.primary"
    assert change.keys == {"DB_HOST", "tls.crt", "DB_PASS", "API-TOKEN", "OLD_PASS"}


def test_restore_changes_parse() -> None:
    whole = {**CHANGE, "spec": {**CHANGE["spec"], "baseVersion": 0, "restore": {"version": 3}}}
    del whole["spec"]["set"]
    keys = {**CHANGE, "spec": {**CHANGE["spec"], "restore": {"keys": {"OLD": 2}}}}
    (first,) = parse_changes("changes/production/a.yaml", dump(whole))
    (second,) = parse_changes("changes/production/b.yaml", dump(keys))
    assert (first.restore_version, dict(first.restore_keys), first.base_version) == (3, {}, 0)
    assert first.restores_whole
    assert first.keys == frozenset()
    assert (second.restore_version, dict(second.restore_keys)) == (None, {"OLD": 2})
    assert not second.restores_whole
    assert second.keys == {"STRIPE_KEY", "OLD"}


def test_change_defaults() -> None:
    (change,) = parse_changes("c.yaml", dump(CHANGE))
    assert change.tier is None
    assert change.base_version is None
    assert dict(change.generate) == {}
    assert change.delete == ()


def test_change_model_is_read_only() -> None:
    (change,) = parse_changes("c.yaml", dump(CHANGE))
    with pytest.raises(TypeError):
        change.set["X"] = SEALED  # type: ignore[index]


def test_several_change_documents_keep_their_stream_index() -> None:
    second = fresh(CHANGE)
    second["spec"]["secret"] = "payments/other"
    data = b"---\n" + dump(CHANGE) + b"---\n---\n" + dump(second)
    changes = parse_changes("changes/production/two.yaml", data)
    assert [c.document_index for c in changes] == [0, 2]
    assert [c.secret for c in changes] == ["payments/stripe", "payments/other"]
    assert {c.source for c in changes} == {"changes/production/two.yaml"}


def test_document_file_dispatches_on_kind() -> None:
    documents = parse_document_file("mixed.yaml", dump(ENVIRONMENT, POLICY, CHANGE))
    assert [type(d) for d in documents] == [Environment, Policy, SecretChange]


@pytest.mark.parametrize(
    ("parse", "document", "expected"),
    [
        (parse_environment, POLICY, "must be Environment here"),
        (parse_policy, CHANGE, "must be ApprovalPolicy here"),
        (parse_changes, ENVIRONMENT, "must be SecretChange here"),
    ],
)
def test_each_parser_refuses_other_kinds(parse: Any, document: Any, expected: str) -> None:
    with pytest.raises(DocumentError) as caught:
        parse("f.yaml", dump(document))
    (problem,) = caught.value.problems
    assert (problem.file, problem.field, problem.line) == ("f.yaml", "kind", 2)
    assert problem.message == expected


@pytest.mark.parametrize("parse", [parse_environment, parse_policy])
def test_environment_and_policy_files_hold_one_document(parse: Any) -> None:
    document = ENVIRONMENT if parse is parse_environment else POLICY
    with pytest.raises(DocumentError, match="holds 2 documents"):
        parse("f.yaml", dump(document, document))


@pytest.mark.parametrize("data", [b"", b"# only a comment\n", b"---\n...\n"])
def test_a_file_without_documents_is_refused(data: bytes) -> None:
    with pytest.raises(DocumentError) as caught:
        parse_document_file("empty.yaml", data)
    assert str(caught.value) == (
        "empty.yaml: file holds no YAML document: add one or delete the file"
    )


def test_every_problem_of_a_file_is_reported_at_once() -> None:
    bad_policy = fresh(POLICY)
    bad_policy["spec"]["approvals"]["required"] = 0
    bad_change = fresh(CHANGE)
    bad_change["spec"]["reason"] = ""
    with pytest.raises(DocumentError) as caught:
        parse_document_file("f.yaml", dump(bad_policy, bad_change))
    fields = [p.field for p in caught.value.problems]
    assert fields == ["spec.approvals.required", "spec.reason"]
