"""What a TokenReview answer must say before sealgate believes it (literal answers).

The loopback cluster answers like kube-apiserver; these are the answers it never gives but
another cluster, an old one or a misconfigured one, might.
"""

from __future__ import annotations

from typing import Any

import pytest

from controller.errors import CredentialRefused
from controller.kube.tokens import identity_from_review
from controller.model import AgentIdentity

AUDIENCE = "sealgate.example"


def accepted(**changes: Any) -> dict[str, Any]:
    status: dict[str, Any] = {
        "authenticated": True,
        "user": {
            "username": "system:serviceaccount:ci:deployer",
            "uid": "5b1e",
            "groups": ["system:serviceaccounts", "system:authenticated"],
        },
        "audiences": [AUDIENCE],
    }
    status.update(changes)
    return status


def test_an_accepting_answer_names_the_agent() -> None:
    assert identity_from_review("prod", accepted(), AUDIENCE) == AgentIdentity(
        "ci", "deployer", "5b1e", "prod"
    )


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        (
            {
                "authenticated": False,
                "error": "[invalid bearer token, service account token has expired]",
            },
            "expired",
        ),
        (
            {
                "authenticated": False,
                "error": 'token audiences ["x"] is invalid for the target audiences',
            },
            "audience",
        ),
        (
            {"authenticated": False, "error": 'serviceaccount "deployer" not found'},
            "unknown-service-account",
        ),
        (
            {"authenticated": False, "error": "service account UID (a) does not match claim (b)"},
            "unknown-service-account",
        ),
        (
            {
                "authenticated": False,
                "error": "[invalid bearer token, go-jose: error in cryptographic primitive]",
            },
            "invalid",
        ),
        ({"authenticated": False}, "invalid"),
        ({}, "invalid"),
        ({**accepted(), "authenticated": "true"}, "invalid"),
        (accepted(audiences=None), "audience"),
        (accepted(audiences=[]), "audience"),
        (accepted(audiences=["other"]), "audience"),
        (accepted(audiences=AUDIENCE), "audience"),
        (accepted(user={"username": "alice", "uid": "1"}), "not-an-agent"),
        (accepted(user={"username": "system:serviceaccount:ci", "uid": "1"}), "not-an-agent"),
        (accepted(user={"username": "system:serviceaccount:ci:a:b", "uid": "1"}), "not-an-agent"),
        (
            accepted(user={"username": "system:serviceaccount:CI:deployer", "uid": "1"}),
            "not-an-agent",
        ),
        (
            accepted(user={"username": "system:serviceaccount:ci:deployer", "uid": ""}),
            "not-an-agent",
        ),
        (accepted(user={"username": "system:node:worker-1", "uid": "1"}), "not-an-agent"),
        (accepted(user=None), "not-an-agent"),
    ],
)
def test_anything_less_is_refused_with_a_reason_word(status: dict[str, Any], reason: str) -> None:
    with pytest.raises(CredentialRefused) as caught:
        identity_from_review("prod", status, AUDIENCE)
    assert caught.value.reason == reason
    assert str(caught.value).startswith("cluster prod: the ServiceAccount token was refused")
