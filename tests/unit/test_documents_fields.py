"""Every field rule of the three document kinds, one row each.

Each row mutates a valid document and names the field and the message the person gets.
The expected line is found independently, by walking PyYAML's own node tree.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import yaml

from controller.documents import PLAINTEXT_MESSAGE, parse_document_file
from controller.errors import DocumentError, Problem
from tests.unit.test_documents import CHANGE, ENVIRONMENT, POLICY, SEALED, STEPS_POLICY, fresh

DELETE = object()
Path = tuple[str | int, ...]


def mutated(base: dict[str, Any], *edits: tuple[Path, Any]) -> dict[str, Any]:
    document = fresh(base)
    for path, value in edits:
        parent: Any = document
        for segment in path[:-1]:
            parent = parent[segment]
        if value is DELETE:
            del parent[path[-1]]
        else:
            parent[path[-1]] = value
    return document


def expected_line(text: str, path: Path) -> int:
    """Line of ``path``'s key (or of its nearest existing ancestor) per PyYAML's nodes."""
    node: Any = yaml.compose(text)
    line = int(node.start_mark.line) + 1
    for segment in path:
        if isinstance(node, yaml.MappingNode):
            match = [(k, v) for k, v in node.value if k.value == segment]
            if not match:
                return line
            key, node = match[0]
            line = int(key.start_mark.line) + 1
        elif isinstance(node, yaml.SequenceNode) and isinstance(segment, int):
            if segment >= len(node.value):
                return line
            node = node.value[segment]
            line = int(node.start_mark.line) + 1
        else:
            return line
    return line


LONG_KEY = "k" * 254
CASES: list[tuple[str, dict[str, Any], Path, str]] = [
    # ------------------------------------------------------------------ common
    (
        "api-version-wrong",
        mutated(CHANGE, (("apiVersion",), "sealgate.dev/v2")),
        ("apiVersion",),
        "must be sealgate.dev/v1",
    ),
    (
        "api-version-missing",
        mutated(POLICY, (("apiVersion",), DELETE)),
        ("apiVersion",),
        "required field is missing: add it",
    ),
    (
        "kind-missing",
        mutated(CHANGE, (("kind",), DELETE)),
        ("kind",),
        "must be AccessRequest or ApprovalPolicy or Environment or SecretChange here",
    ),
    (
        "kind-unknown",
        mutated(CHANGE, (("kind",), "Secret")),
        ("kind",),
        "must be AccessRequest or ApprovalPolicy or Environment or SecretChange here",
    ),
    (
        "kind-not-string",
        mutated(CHANGE, (("kind",), ["SecretChange"])),
        ("kind",),
        "must be AccessRequest or ApprovalPolicy or Environment or SecretChange here",
    ),
    (
        "top-level-extra",
        mutated(ENVIRONMENT, (("status",), {})),
        ("status",),
        "unknown field: allowed here are apiVersion, kind, metadata, spec",
    ),
    (
        "spec-is-a-list",
        mutated(ENVIRONMENT, (("spec",), [])),
        ("spec",),
        "must be a mapping, not a list",
    ),
    (
        "metadata-missing",
        mutated(POLICY, (("metadata",), DELETE)),
        ("metadata",),
        "required field is missing: add it",
    ),
    # ------------------------------------------------------------- Environment
    (
        "env-name-uppercase",
        mutated(ENVIRONMENT, (("metadata", "name"), "Production")),
        ("metadata", "name"),
        "must be a DNS-1123 label",
    ),
    (
        "env-name-trailing-newline",
        mutated(ENVIRONMENT, (("metadata", "name"), "production\n")),
        ("metadata", "name"),
        "must be a DNS-1123 label",
    ),
    (
        "env-name-too-long",
        mutated(ENVIRONMENT, (("metadata", "name"), "a" * 64)),
        ("metadata", "name"),
        "at most 63 characters",
    ),
    (
        "env-name-reserved",
        mutated(ENVIRONMENT, (("metadata", "name"), "governance")),
        ("metadata", "name"),
        "'governance' is reserved",
    ),
    (
        "env-metadata-extra",
        mutated(ENVIRONMENT, (("metadata", "labels"), {})),
        ("metadata", "labels"),
        "unknown field: allowed here are description, name",
    ),
    (
        "env-sealing-keys-missing",
        mutated(ENVIRONMENT, (("spec", "sealingKeys"), DELETE)),
        ("spec", "sealingKeys"),
        "required field is missing",
    ),
    (
        "env-sealing-keys-empty",
        mutated(ENVIRONMENT, (("spec", "sealingKeys"), [])),
        ("spec", "sealingKeys"),
        "must not be empty",
    ),
    (
        "env-key-id-bad",
        mutated(ENVIRONMENT, (("spec", "sealingKeys", 0, "id"), "Prod_1")),
        ("spec", "sealingKeys", 0, "id"),
        "key id must be lowercase letters",
    ),
    (
        "env-key-id-duplicate",
        mutated(ENVIRONMENT, (("spec", "sealingKeys", 1, "id"), "prod-2026-11")),
        ("spec", "sealingKeys", 1, "id"),
        "key id is already used by spec.sealingKeys[0]",
    ),
    (
        "env-public-key-short",
        mutated(ENVIRONMENT, (("spec", "sealingKeys", 0, "publicKey"), "AAAA")),
        ("spec", "sealingKeys", 0, "publicKey"),
        "standard base64 of a raw 32-byte X25519 public key",
    ),
    (
        "env-public-key-noncanonical",
        mutated(ENVIRONMENT, (("spec", "sealingKeys", 0, "publicKey"), "A" * 42 + "B=")),
        ("spec", "sealingKeys", 0, "publicKey"),
        "is not the base64 of a 32-byte X25519 public key",
    ),
    (
        "env-key-extra",
        mutated(ENVIRONMENT, (("spec", "sealingKeys", 0, "privateKey"), "x")),
        ("spec", "sealingKeys", 0, "privateKey"),
        "unknown field: allowed here are id, publicKey",
    ),
    (
        "env-default-tier",
        mutated(ENVIRONMENT, (("spec", "defaultTier"), "high")),
        ("spec", "defaultTier"),
        "must be one of standard, sensitive, critical",
    ),
    (
        "env-unmatched",
        mutated(ENVIRONMENT, (("spec", "unmatched"), "maybe")),
        ("spec", "unmatched"),
        "must be one of deny, allow",
    ),
    (
        "env-clusters-duplicate",
        mutated(ENVIRONMENT, (("spec", "clusters"), ["a", "a"])),
        ("spec", "clusters"),
        "lists the same item twice",
    ),
    (
        "env-cluster-name",
        mutated(ENVIRONMENT, (("spec", "clusters", 1), "Prod EU")),
        ("spec", "clusters", 1),
        "must be a DNS-1123 label",
    ),
    (
        "env-cluster-number",
        mutated(ENVIRONMENT, (("spec", "clusters", 0), 7)),
        ("spec", "clusters", 0),
        "must be a string, not a whole number",
    ),
    (
        "env-spec-extra",
        mutated(ENVIRONMENT, (("spec", "namespace"), "x")),
        ("spec", "namespace"),
        "unknown field: allowed here are agents, clusters, defaultTier, namespaces, "
        "onRolloutFailure, sealingKeys, tierFloors, unmatched, valuePolicy",
    ),
    # ---------------------------------------------------------- ApprovalPolicy
    (
        "policy-both-approvals-and-steps",
        mutated(POLICY, (("spec", "steps"), STEPS_POLICY["spec"]["steps"])),
        ("spec",),
        "has both approvals and steps: keep exactly one of approvals or steps",
    ),
    (
        "policy-no-approvals",
        mutated(POLICY, (("spec", "approvals"), DELETE)),
        ("spec",),
        "needs approvals or steps: add exactly one",
    ),
    (
        "policy-required-zero",
        mutated(POLICY, (("spec", "approvals", "required"), 0)),
        ("spec", "approvals", "required"),
        "must be at least 1",
    ),
    (
        "policy-required-string",
        mutated(POLICY, (("spec", "approvals", "required"), "two")),
        ("spec", "approvals", "required"),
        "must be a whole number, not a string",
    ),
    (
        "policy-required-bool",
        mutated(POLICY, (("spec", "approvals", "required"), True)),
        ("spec", "approvals", "required"),
        "must be a whole number, not true or false",
    ),
    (
        "policy-required-fraction",
        mutated(POLICY, (("spec", "approvals", "required"), 1.5)),
        ("spec", "approvals", "required"),
        "must be a whole number, not a number",
    ),
    (
        "policy-required-missing",
        mutated(POLICY, (("spec", "approvals", "required"), DELETE)),
        ("spec", "approvals", "required"),
        "required field is missing",
    ),
    (
        "policy-team-without-org",
        mutated(POLICY, (("spec", "approvals", "teams"), ["sre"])),
        ("spec", "approvals", "teams", 0),
        "must be a GitHub team as <org>/<team slug>",
    ),
    (
        "policy-user-bad",
        mutated(POLICY, (("spec", "approvals", "users"), ["al ice"])),
        ("spec", "approvals", "users", 0),
        "must be a GitHub login",
    ),
    (
        "policy-user-duplicate",
        mutated(POLICY, (("spec", "approvals", "users"), ["bob", "bob"])),
        ("spec", "approvals", "users"),
        "lists the same item twice",
    ),
    (
        "policy-approvals-extra",
        mutated(POLICY, (("spec", "approvals", "name"), "x")),
        ("spec", "approvals", "name"),
        "unknown field: allowed here are required, teams, users",
    ),
    (
        "policy-steps-empty",
        mutated(STEPS_POLICY, (("spec", "steps"), [])),
        ("spec", "steps"),
        "must not be empty",
    ),
    (
        "policy-step-name-duplicate",
        mutated(STEPS_POLICY, (("spec", "steps", 1, "name"), "owners")),
        ("spec", "steps", 1, "name"),
        "step name is already used by spec.steps[0]",
    ),
    (
        "policy-step-name-missing",
        mutated(STEPS_POLICY, (("spec", "steps", 0, "name"), DELETE)),
        ("spec", "steps", 0, "name"),
        "required field is missing",
    ),
    (
        "policy-environments-empty",
        mutated(POLICY, (("spec", "environments"), [])),
        ("spec", "environments"),
        "must not be empty",
    ),
    (
        "policy-environment-bad",
        mutated(POLICY, (("spec", "environments"), ["Prod"])),
        ("spec", "environments", 0),
        "must be '*', 'governance' or an environment name",
    ),
    (
        "policy-secret-glob-bad",
        mutated(POLICY, (("spec", "secrets"), ["/payments"])),
        ("spec", "secrets", 0),
        "must be a glob over <namespace>/<name>",
    ),
    (
        "policy-tier-bad",
        mutated(POLICY, (("spec", "tiers"), ["extreme"])),
        ("spec", "tiers", 0),
        "must be one of standard, sensitive, critical",
    ),
    (
        "policy-expires-words",
        mutated(POLICY, (("spec", "expiresAfter"), "7 days")),
        ("spec", "expiresAfter"),
        "must be a whole number and a unit m, h, d or w",
    ),
    (
        "policy-expires-zero",
        mutated(POLICY, (("spec", "expiresAfter"), "0d")),
        ("spec", "expiresAfter"),
        "must be a whole number and a unit",
    ),
    (
        "policy-expires-fraction",
        mutated(POLICY, (("spec", "expiresAfter"), "1.5h")),
        ("spec", "expiresAfter"),
        "must be a whole number and a unit",
    ),
    (
        "policy-enforcement",
        mutated(POLICY, (("spec", "enforcement"), "medium")),
        ("spec", "enforcement"),
        "must be one of hard, soft",
    ),
    (
        "policy-bypassers-hard",
        mutated(
            POLICY,
            (("spec", "enforcement"), "hard"),
            (("spec", "bypassers"), {"users": ["oncall"]}),
        ),
        ("spec", "bypassers"),
        "bypassers only apply with enforcement: soft",
    ),
    (
        "policy-bypassers-default-hard",
        mutated(POLICY, (("spec", "bypassers"), {"teams": ["acme/sre"]})),
        ("spec", "bypassers"),
        "set spec.enforcement: soft to allow break-glass, or remove spec.bypassers",
    ),
    (
        "policy-bypassers-extra",
        mutated(STEPS_POLICY, (("spec", "bypassers", "groups"), [])),
        ("spec", "bypassers", "groups"),
        "unknown field: allowed here are teams, users",
    ),
    (
        "policy-self-approval-string",
        mutated(POLICY, (("spec", "allowSelfApproval"), "sometimes")),
        ("spec", "allowSelfApproval"),
        "must be true or false, not a string",
    ),
    (
        "policy-auto-merge-number",
        mutated(POLICY, (("spec", "autoMerge"), 1)),
        ("spec", "autoMerge"),
        "must be true or false, not a whole number",
    ),
    (
        "policy-notify-email",
        mutated(POLICY, (("spec", "notify"), {"email": ["not-an-email"]})),
        ("spec", "notify", "email", 0),
        "must be an email address",
    ),
    (
        "policy-notify-slack",
        mutated(POLICY, (("spec", "notify"), {"slack": ["has space"]})),
        ("spec", "notify", "slack", 0),
        "must be a Slack channel",
    ),
    (
        "policy-notify-extra",
        mutated(POLICY, (("spec", "notify"), {"pagerduty": ["x"]})),
        ("spec", "notify", "pagerduty"),
        "unknown field: allowed here are email, slack, teams",
    ),
    (
        "policy-description-long",
        mutated(POLICY, (("metadata", "description"), "x" * 1025)),
        ("metadata", "description"),
        "must be at most 1024 characters",
    ),
    (
        "policy-name-bad",
        mutated(POLICY, (("metadata", "name"), "Two_Person")),
        ("metadata", "name"),
        "must be a DNS-1123 label",
    ),
    # ------------------------------------------------------------ SecretChange
    (
        "change-name-bad",
        mutated(CHANGE, (("metadata", "name"), "Rotate")),
        ("metadata", "name"),
        "must be lowercase letters, digits, '-' and '.'",
    ),
    (
        "change-environment-bad",
        mutated(CHANGE, (("spec", "environment"), "Prod")),
        ("spec", "environment"),
        "must be a DNS-1123 label",
    ),
    (
        "change-environment-governance",
        mutated(CHANGE, (("spec", "environment"), "governance")),
        ("spec", "environment"),
        "'governance' is not an environment",
    ),
    (
        "change-secret-no-namespace",
        mutated(CHANGE, (("spec", "secret"), "stripe")),
        ("spec", "secret"),
        "must be <namespace>/<name>",
    ),
    (
        "change-secret-uppercase",
        mutated(CHANGE, (("spec", "secret"), "Payments/stripe")),
        ("spec", "secret"),
        "must be <namespace>/<name>",
    ),
    (
        "change-secret-three-segments",
        mutated(CHANGE, (("spec", "secret"), "a/b/c")),
        ("spec", "secret"),
        "must be <namespace>/<name>",
    ),
    (
        "change-secret-name-too-long",
        mutated(CHANGE, (("spec", "secret"), "payments/" + "a" * 254)),
        ("spec", "secret"),
        "at most 253 characters",
    ),
    (
        "change-reason-missing",
        mutated(CHANGE, (("spec", "reason"), DELETE)),
        ("spec", "reason"),
        "required field is missing",
    ),
    (
        "change-reason-empty",
        mutated(CHANGE, (("spec", "reason"), "")),
        ("spec", "reason"),
        "must not be blank",
    ),
    (
        "change-reason-blank",
        mutated(CHANGE, (("spec", "reason"), "  \t ")),
        ("spec", "reason"),
        "must not be blank",
    ),
    (
        "change-no-operation",
        mutated(CHANGE, (("spec", "set"), DELETE)),
        ("spec",),
        "needs at least one of set, generate, delete, restore, type, labels, annotations: add one",
    ),
    (
        "change-set-empty",
        mutated(CHANGE, (("spec", "set"), {})),
        ("spec", "set"),
        "must not be empty: add a key or remove this field",
    ),
    (
        "change-key-space",
        mutated(CHANGE, (("spec", "set"), {"DB PASS": SEALED})),
        ("spec", "set", "DB PASS"),
        "key must match [-._a-zA-Z0-9]+",
    ),
    (
        "change-key-dot",
        mutated(CHANGE, (("spec", "set"), {".": SEALED})),
        ("spec", "set", "."),
        "key may not be '.' or start with '..' (Kubernetes refuses it)",
    ),
    (
        "change-key-dotdot",
        mutated(CHANGE, (("spec", "generate"), {"..": {}})),
        ("spec", "generate", ".."),
        "key may not be '.' or start with '..' (Kubernetes refuses it)",
    ),
    (
        "change-key-dotdot-prefix",
        mutated(CHANGE, (("spec", "set"), {"..data": SEALED})),
        ("spec", "set", "..data"),
        "key may not be '.' or start with '..' (Kubernetes refuses it)",
    ),
    (
        "change-key-too-long",
        mutated(CHANGE, (("spec", "set"), {LONG_KEY: SEALED})),
        ("spec", "set", LONG_KEY),
        "key is longer than 253 characters",
    ),
    (
        "change-key-newline",
        mutated(CHANGE, (("spec", "set"), {"KEY\n": SEALED})),
        ("spec", "set", "KEY\n"),
        "key must match",
    ),
    (
        "change-set-plaintext",
        mutated(CHANGE, (("spec", "set", "STRIPE_KEY"), "sk_live_plain")),
        ("spec", "set", "STRIPE_KEY"),
        PLAINTEXT_MESSAGE,
    ),
    (
        "change-set-number",
        mutated(CHANGE, (("spec", "set", "PIN"), 123456)),
        ("spec", "set", "PIN"),
        PLAINTEXT_MESSAGE,
    ),
    (
        "change-set-mapping",
        mutated(CHANGE, (("spec", "set", "PIN"), {"value": "x"})),
        ("spec", "set", "PIN"),
        PLAINTEXT_MESSAGE,
    ),
    (
        "change-set-bad-key-id",
        mutated(CHANGE, (("spec", "set", "PIN"), "sg1:Bad_Id:AAAA")),
        ("spec", "set", "PIN"),
        PLAINTEXT_MESSAGE,
    ),
    (
        "change-set-newline",
        mutated(CHANGE, (("spec", "set", "PIN"), SEALED + "\n")),
        ("spec", "set", "PIN"),
        PLAINTEXT_MESSAGE,
    ),
    (
        "change-set-other-format",
        mutated(CHANGE, (("spec", "set", "PIN"), "sg2:prod:AAAA")),
        ("spec", "set", "PIN"),
        PLAINTEXT_MESSAGE,
    ),
    (
        "change-generate-short",
        mutated(CHANGE, (("spec", "generate"), {"T": {"length": 7}})),
        ("spec", "generate", "T", "length"),
        "must be at least 8",
    ),
    (
        "change-generate-long",
        mutated(CHANGE, (("spec", "generate"), {"T": {"length": 4097}})),
        ("spec", "generate", "T", "length"),
        "must be at most 4096",
    ),
    (
        "change-generate-length-string",
        mutated(CHANGE, (("spec", "generate"), {"T": {"length": "32"}})),
        ("spec", "generate", "T", "length"),
        "must be a whole number, not a string",
    ),
    (
        "change-generate-alphabet",
        mutated(CHANGE, (("spec", "generate"), {"T": {"alphabet": "base64"}})),
        ("spec", "generate", "T", "alphabet"),
        "must be one of alphanumeric, urlsafe, hex, ascii-printable",
    ),
    (
        "change-generate-extra",
        mutated(CHANGE, (("spec", "generate"), {"T": {"charset": "x"}})),
        ("spec", "generate", "T", "charset"),
        "unknown field: allowed here are alphabet, length",
    ),
    (
        "change-generate-not-mapping",
        mutated(CHANGE, (("spec", "generate"), {"T": 32})),
        ("spec", "generate", "T"),
        "must be a mapping, not a whole number",
    ),
    (
        "change-delete-empty",
        mutated(CHANGE, (("spec", "delete"), [])),
        ("spec", "delete"),
        "must not be empty",
    ),
    (
        "change-delete-duplicate",
        mutated(CHANGE, (("spec", "delete"), ["A", "A"])),
        ("spec", "delete"),
        "lists the same item twice",
    ),
    (
        "change-delete-bad-key",
        mutated(CHANGE, (("spec", "delete"), ["bad key"])),
        ("spec", "delete", 0),
        "key must match [-._a-zA-Z0-9]+",
    ),
    (
        "change-delete-dotdot",
        mutated(CHANGE, (("spec", "delete"), [".."])),
        ("spec", "delete", 0),
        "key may not be '.' or start with '..' (Kubernetes refuses it)",
    ),
    (
        "change-set-and-delete",
        mutated(CHANGE, (("spec", "delete"), ["OTHER", "STRIPE_KEY"])),
        ("spec", "delete", 1),
        "key is also in spec.set: a key may appear in one operation only",
    ),
    (
        "change-generate-and-set",
        mutated(CHANGE, (("spec", "generate"), {"STRIPE_KEY": {}})),
        ("spec", "generate", "STRIPE_KEY"),
        "key is also in spec.set",
    ),
    (
        "change-tier",
        mutated(CHANGE, (("spec", "tier"), "top")),
        ("spec", "tier"),
        "must be one of standard, sensitive, critical",
    ),
    (
        "change-base-version-negative",
        mutated(CHANGE, (("spec", "baseVersion"), -1)),
        ("spec", "baseVersion"),
        "must be at least 0",
    ),
    (
        "change-restore-empty",
        mutated(CHANGE, (("spec", "restore"), {})),
        ("spec", "restore"),
        "needs version or keys: add exactly one",
    ),
    (
        "change-restore-version-and-keys",
        mutated(
            CHANGE,
            (("spec", "set"), DELETE),
            (("spec", "restore"), {"version": 2, "keys": {"A": 1}}),
        ),
        ("spec", "restore"),
        "has both version and keys: keep exactly one of version or keys",
    ),
    (
        "change-restore-version-zero",
        mutated(CHANGE, (("spec", "set"), DELETE), (("spec", "restore"), {"version": 0})),
        ("spec", "restore", "version"),
        "must be at least 1",
    ),
    (
        "change-restore-key-version-string",
        mutated(CHANGE, (("spec", "restore"), {"keys": {"OLD": "2"}})),
        ("spec", "restore", "keys", "OLD"),
        "must be a whole number, not a string",
    ),
    (
        "change-restore-whole-and-set",
        mutated(CHANGE, (("spec", "restore"), {"version": 2})),
        ("spec", "set"),
        "spec.restore.version returns the whole secret to that version: it cannot be combined",
    ),
    (
        "change-restore-key-and-set",
        mutated(CHANGE, (("spec", "restore"), {"keys": {"STRIPE_KEY": 2}})),
        ("spec", "restore", "keys", "STRIPE_KEY"),
        "key is also in spec.set: a key may appear in one operation only",
    ),
    (
        "change-restore-extra",
        mutated(CHANGE, (("spec", "set"), DELETE), (("spec", "restore"), {"to": 2})),
        ("spec", "restore", "to"),
        "unknown field: allowed here are keys, version",
    ),
    (
        "change-base-version-string",
        mutated(CHANGE, (("spec", "baseVersion"), "3")),
        ("spec", "baseVersion"),
        "must be a whole number, not a string",
    ),
    (
        "change-spec-extra",
        mutated(CHANGE, (("spec", "data"), {"K": "v"})),
        ("spec", "data"),
        "unknown field: allowed here are annotations, baseVersion, delete, environment",
    ),
]


@pytest.mark.parametrize(
    ("document", "path", "message"),
    [pytest.param(doc, path, message, id=name) for name, doc, path, message in CASES],
)
def test_field_rule(document: dict[str, Any], path: Path, message: str) -> None:
    text = yaml.safe_dump(document, sort_keys=False)
    with pytest.raises(DocumentError) as caught:
        parse_document_file("changes/production/doc.yaml", text.encode())
    field = _render(path)
    matching = [p for p in caught.value.problems if p.field == field and message in p.message]
    assert matching, f"wanted {field}: {message}; got {[str(p) for p in caught.value.problems]}"
    problem = matching[0]
    assert problem.file == "changes/production/doc.yaml"
    assert problem.line == expected_line(text, path)
    assert str(problem).startswith(f"changes/production/doc.yaml:{problem.line}: {field}: ")


def _render(path: Path) -> str:
    text = ""
    for segment in path:
        if isinstance(segment, int):
            text += f"[{segment}]"
        else:
            shown = segment if len(segment) <= 64 else segment[:64] + "..."
            text = f"{text}.{shown}" if text else shown
    return text


VALID_VARIANTS: list[tuple[str, dict[str, Any]]] = [
    (
        "policy-soft-with-bypassers",
        mutated(
            POLICY,
            (("spec", "enforcement"), "soft"),
            (("spec", "bypassers"), {"users": ["oncall"]}),
        ),
    ),
    (
        "policy-hard-with-empty-bypassers",
        mutated(POLICY, (("spec", "bypassers"), {"users": [], "teams": []})),
    ),
    (
        "policy-governance-and-star",
        mutated(POLICY, (("spec", "environments"), ["governance", "*"])),
    ),
    (
        "policy-bot-free-login",
        mutated(POLICY, (("spec", "approvals", "users"), ["a", "A-1", "x" * 39])),
    ),
    (
        "change-generate-defaults",
        mutated(CHANGE, (("spec", "set"), DELETE), (("spec", "generate"), {"T": {}})),
    ),
    (
        "change-delete-only",
        mutated(CHANGE, (("spec", "set"), DELETE), (("spec", "delete"), ["OLD"])),
    ),
    (
        "change-key-at-limit",
        mutated(CHANGE, (("spec", "set"), {"k" * 253: SEALED, "a.b_c-D": SEALED})),
    ),
    ("change-sealed-padded", mutated(CHANGE, (("spec", "set", "X"), "sg1:k:AAAA=="))),
    ("change-secret-subdomain", mutated(CHANGE, (("spec", "secret"), "a/b.c-d.e"))),
    ("change-reason-multiline", mutated(CHANGE, (("spec", "reason"), "line one\nline two\n"))),
    ("environment-no-clusters", mutated(ENVIRONMENT, (("spec", "clusters"), DELETE))),
]


@pytest.mark.parametrize("document", [pytest.param(doc, id=name) for name, doc in VALID_VARIANTS])
def test_valid_variant(document: dict[str, Any]) -> None:
    (parsed,) = parse_document_file("f.yaml", yaml.safe_dump(document).encode())
    assert parsed.name == document["metadata"]["name"]


def test_messages_never_quote_values() -> None:
    """No jsonschema message leaks through: those quote the instance."""
    canary = "canary-7f3a9c"
    documents: list[Callable[[], dict[str, Any]]] = [
        lambda: mutated(CHANGE, (("spec", "secret"), canary)),
        lambda: mutated(CHANGE, (("spec", "reason"), [canary])),
        lambda: mutated(CHANGE, (("spec", "tier"), canary)),
        lambda: mutated(POLICY, (("spec", "expiresAfter"), canary)),
        lambda: mutated(POLICY, (("spec", "approvals", "users"), [canary + " x"])),
        lambda: mutated(ENVIRONMENT, (("spec", "sealingKeys", 0, "publicKey"), canary)),
        lambda: mutated(ENVIRONMENT, (("kind",), canary)),
        lambda: mutated(CHANGE, (("spec", "generate"), {"T": {"alphabet": canary}})),
    ]
    for build in documents:
        with pytest.raises(DocumentError) as caught:
            parse_document_file("f.yaml", yaml.safe_dump(build()).encode())
        problems: tuple[Problem, ...] = caught.value.problems
        assert problems
        assert canary not in str(caught.value)
