"""A credential pasted into ``spec.reason`` is refused, named by kind and line, never shown;
reasons that only look technical (SHAs, tickets, hosts, sealed values) pass."""

from __future__ import annotations

import pytest

from controller.documents import parse_changes
from controller.errors import DocumentError

SEALED = "sg1:k1:" + "A" * 80
SOURCE = "changes/production/rotate.yaml"


def _change(reason: str) -> bytes:
    return (
        "apiVersion: sealgate.dev/v1\n"
        "kind: SecretChange\n"
        "metadata:\n  name: rotate\n"
        "spec:\n"
        "  environment: production\n"
        "  secret: payments/db\n"
        f"  reason: {reason!r}\n"
        "  set:\n"
        f"    password: {SEALED}\n"
    ).encode()


# Assembled at run time so no scanner mistakes this file for a leak.
CREDENTIALS = {
    "a GitHub token": "ghp_" + "a1B2c3D4" * 5,
    "an AWS access key id": "AKIA" + "QWERTYUIOP123456",
    "a Slack token": "xoxb-" + "1234567890-abcdefghij",
    "a Stripe key": "sk_" + "live_" + "4eC39HqLyjWDarjtT1zdp7dc",
    "a Google API key": "AIza" + "SyA-1234567890abcdefghijklmnopqrstu",
    "a JSON Web Token": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0." + "s" * 43,
    "a password in a URL": "postgres://app:" + "hunter2hunter2" + "@db.internal:5432/app",
    "a private key": "-----BEGIN " + "OPENSSH PRIVATE KEY----- b3BlbnNzaC1rZXk",
}


@pytest.mark.parametrize("kind", sorted(CREDENTIALS))
def test_a_credential_in_the_reason_is_refused_without_being_shown(kind: str) -> None:
    credential = CREDENTIALS[kind]
    with pytest.raises(DocumentError) as caught:
        parse_changes(SOURCE, _change(f"rotate: the old one was {credential}"))
    (problem,) = caught.value.problems
    assert (problem.file, problem.field, problem.line) == (SOURCE, "spec.reason", 8)
    assert kind in problem.message
    assert "rotate that credential" in problem.message
    assert credential not in str(caught.value)
    assert credential[:12] not in repr(caught.value.problems)


@pytest.mark.parametrize(
    "reason",
    [
        "revert to 4b826b2c0e1f6a7d8c9b0a1f2e3d4c5b6a7f8e9d after INC-2026-0042",
        "rotate after vendor notice https://status.vendor.example/incidents/77",
        "move to postgres://db.internal:5432/app (no credentials in the URL)",
        f"same as {SEALED}",
        "skip the ask_live_ prefix discussion; AKIA is the AWS prefix",
    ],
)
def test_technical_reasons_without_a_credential_pass(reason: str) -> None:
    (change,) = parse_changes(SOURCE, _change(reason))
    assert change.reason == reason
