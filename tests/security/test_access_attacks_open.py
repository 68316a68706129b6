"""Attacks on ``POST /v1/open``: using a grant that is not yours, opening more than it
covers, after its end, or leaking or flooding through it.

The grant comes from a real access pull request through the reconciler; the open endpoint
runs over loopback HTTP on the controller's own store and identifies callers with the
loopback GitHub, as in production.
"""

from __future__ import annotations

import base64
import logging
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import github
import pytest

from controller.crypto.caller_box import (
    caller_public_text,
    new_caller_key,
    new_request_nonce,
    open_for_caller,
)
from controller.errors import SealedValueError
from controller.reconciler import Status
from tests.integration.test_reconciler_world import (
    APP_ID,
    ENV,
    FULL,
    INSTALLATION_ID,
    NAMESPACE,
    OWNER,
    REPO,
)
from tests.security.access_attack_support import (
    CANARY_TEXT,
    PATH,
    AccessWorld,
    access_yaml,
    build_access_world,
    no_canary,
    open_access,
    serve_open,
)

FILE = f"access/{ENV}/incident-4711.yaml"
OTHER = f"{NAMESPACE}/other"
OTHER_CANARY = b"other-canary-9a8b7c6d5e4f"
SECOND_KEY_CANARY = b"second-key-canary-0f1e2d3c"


def _change(aw: AccessWorld, secret: str, sets: dict[str, bytes]) -> None:
    """An approved, applied change setting ``sets`` on ``secret`` (seeding more values)."""
    w = aw.world
    lines = "".join(
        f"    {key}: {w.seal(value, key=key, secret=secret)}\n" for key, value in sets.items()
    )
    body = (
        "apiVersion: sealgate.dev/v1\nkind: SecretChange\n"
        f"metadata:\n  name: seed-{len(sets)}\n"
        f"spec:\n  environment: {ENV}\n  secret: {secret}\n  reason: seed more values\n"
        f"  set:\n{lines}"
    ).encode()
    branch = f"seed-{next(w.branches)}"
    w.hub.push(
        OWNER,
        REPO,
        branch,
        {f"changes/{ENV}/{branch}.yaml": body},
        message="seed",
        author="alice",
        base="main",
    )
    number = w.hub.open_pull_request(OWNER, REPO, head=branch, title="seed", author="alice")
    aw.controller.reconciler.handle(FULL, number)
    w.approve("bob", number)
    assert aw.controller.reconciler.handle(FULL, number).status is Status.SYNCED


@pytest.fixture
def aw(tmp_path: Path) -> Iterator[AccessWorld]:
    for built in build_access_world(tmp_path):
        _change(built, PATH, {"api": SECOND_KEY_CANARY})
        _change(built, OTHER, {"token": OTHER_CANARY})
        built.grant_for({FILE: access_yaml()})  # alice: payments/db, key password, 2h
        yield built


def _grant(aw: AccessWorld) -> Any:
    (grant,) = aw.controller.store.grants()
    return grant


def _refused(response: Any, status: int, reason: str | None = None) -> None:
    assert response.status_code == status, response.text
    if reason is not None:
        assert response.json()["reason"] == reason
    for canary in (CANARY_TEXT, SECOND_KEY_CANARY.decode(), OTHER_CANARY.decode()):
        assert canary not in response.text


def _everything_said(aw: AccessWorld, caplog: pytest.LogCaptureFixture) -> str:
    store = aw.controller.store
    records = repr([(r.event, r.fields) for r in store.audit_records()])
    return "\n".join(
        [
            caplog.text,
            records,
            *aw.opener.sent,
            aw.opener.metrics.render().decode(),
            repr(aw.world.hub.comments(OWNER, REPO, 1)),
        ]
    )


# ------------------------------------------------------------------ whose grant


def test_the_requester_opens_exactly_what_was_granted(
    aw: AccessWorld, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    response, values = aw.opener.open(aw.token("alice"))
    assert response.status_code == 200, response.text
    assert values == {"password": CANARY_TEXT.encode()}
    assert response.headers["Cache-Control"] == "no-store"
    said = _everything_said(aw, caplog)
    for canary in (CANARY_TEXT, SECOND_KEY_CANARY.decode(), OTHER_CANARY.decode()):
        assert canary not in said
    assert aw.token("alice") not in said


@pytest.mark.parametrize("login", ["bob", "carol", "erin", "sealbot"])
def test_another_person_s_token_opens_nothing(aw: AccessWorld, login: str) -> None:
    """Approvers and admins included: a grant is its requester's only."""
    response, _ = aw.opener.open(aw.token(login))
    _refused(response, 403, "no-grant")
    assert _grant(aw).uses == 0


def test_an_app_installation_token_is_nobody(aw: AccessWorld) -> None:
    installation = github.Auth.AppAuth(APP_ID, aw.world.spec.app_key_pem).get_installation_auth(
        INSTALLATION_ID
    )
    client = github.Github(base_url=aw.world.hub.url, auth=installation, retry=None)
    client.get_repo(FULL)  # mints the installation token
    token = installation.token
    response, _ = aw.opener.open(token)
    _refused(response, 401)
    assert _grant(aw).uses == 0


@pytest.mark.parametrize("token", ["", "alice", "ghp_guessed_token_0000000000", "x" * 600])
def test_no_or_a_made_up_token_opens_nothing(aw: AccessWorld, token: str) -> None:
    response = aw.opener.post(token or None, {"environment": ENV, "secret": PATH})
    _refused(response, 401)
    assert _grant(aw).uses == 0


# ------------------------------------------------------------------ more than granted


def test_a_key_not_granted_is_refused(aw: AccessWorld) -> None:
    response, _ = aw.opener.open(aw.token("alice"), keys=["api"])
    _refused(response, 403, "key-not-granted")
    response, _ = aw.opener.open(aw.token("alice"), keys=["password", "api"])
    _refused(response, 403, "key-not-granted")
    assert _grant(aw).uses == 0


def test_every_key_means_every_granted_key(aw: AccessWorld) -> None:
    """No ``keys``: what was granted, not what the secret holds."""
    response, values = aw.opener.open(aw.token("alice"))
    assert response.status_code == 200
    assert values == {"password": CANARY_TEXT.encode()}


@pytest.mark.parametrize("secret", [OTHER, "payments/no-such", "web/db"])
def test_a_secret_the_grant_does_not_cover(aw: AccessWorld, secret: str) -> None:
    response, _ = aw.opener.open(aw.token("alice"), secret=secret)
    _refused(response, 403, "no-grant")


def test_another_environment_is_not_covered(aw: AccessWorld) -> None:
    key = new_caller_key()
    body = {"environment": "staging", "secret": PATH, "publicKey": caller_public_text(key)}
    response = aw.opener.post(aw.token("alice"), body)
    _refused(response, 403, "no-grant")


# ------------------------------------------------------------------ replay and keys


def test_a_recorded_answer_opens_for_nobody_else(aw: AccessWorld) -> None:
    key = new_caller_key()
    nonce = new_request_nonce()
    body = {"environment": ENV, "secret": PATH, "publicKey": caller_public_text(key)}
    answer = aw.opener.post(aw.token("alice"), {**body, "nonce": nonce}).json()
    # Another key (an eavesdropper's), or the right key replayed as another request's answer.
    for private, bound_nonce in ((new_caller_key(), nonce), (key, new_request_nonce())):
        with pytest.raises(SealedValueError):
            open_for_caller(
                answer["sealed"],
                private,
                grant_id=answer["grant"],
                environment=ENV,
                secret=PATH,
                nonce=bound_nonce,
            )


def test_reusing_the_requester_s_public_key_gives_a_stranger_nothing(aw: AccessWorld) -> None:
    key = new_caller_key()
    body = {"environment": ENV, "secret": PATH, "publicKey": caller_public_text(key)}
    response = aw.opener.post(aw.token("bob"), body)
    _refused(response, 403, "no-grant")


@pytest.mark.parametrize(
    "raw",
    [
        bytes(32),  # the identity: every shared secret would be zero
        bytes([1]) + bytes(31),  # a low-order point
        bytes.fromhex("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800"),
        bytes.fromhex("ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),
    ],
)
def test_a_low_order_public_key_is_refused_before_the_grant_is_used(
    aw: AccessWorld, raw: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    """A key that cannot be sealed to must be a 400, not a 500 after the first use was
    recorded (which would start the grant's clock and audit a use that gave nothing)."""
    caplog.set_level(logging.DEBUG)
    body = {"environment": ENV, "secret": PATH, "publicKey": base64.b64encode(raw).decode()}
    response = aw.opener.post(aw.token("alice"), body)
    _refused(response, 400)
    assert "publicKey" in response.json()["message"]
    grant = _grant(aw)
    assert (grant.uses, grant.first_used_at) == (0, None)
    no_canary(caplog.text)


# ------------------------------------------------------------------ after the end


def test_after_its_duration_the_grant_opens_nothing(aw: AccessWorld) -> None:
    assert aw.opener.open(aw.token("alice"))[0].status_code == 200
    aw.clock.offset = timedelta(hours=2, seconds=1)
    response, _ = aw.opener.open(aw.token("alice"))
    _refused(response, 403, "ended")


def test_an_unused_grant_lapses(aw: AccessWorld) -> None:
    aw.clock.offset = timedelta(hours=24, seconds=1)
    response, _ = aw.opener.open(aw.token("alice"))
    _refused(response, 403, "lapsed")
    assert _grant(aw).first_used_at is None


def test_a_revoked_grant_opens_nothing(aw: AccessWorld) -> None:
    number = _grant(aw).pull_request
    assert aw.opener.open(aw.token("alice"))[0].status_code == 200
    aw.world.comment("bob", number, "/sealgate revoke the incident is over")
    aw.controller.reconciler.handle(FULL, number)
    assert _grant(aw).revoked_at is not None
    response, _ = aw.opener.open(aw.token("alice"))
    _refused(response, 403, "revoked")


def test_a_stranger_cannot_revoke_and_an_edited_revoke_does_not_count(aw: AccessWorld) -> None:
    """Revoking is denial of service on the requester: only they or an approver may."""
    number = _grant(aw).pull_request
    aw.world.comment("erin", number, "/sealgate revoke I do not like it")
    aw.world.comment("alice", number, "thanks")
    thanks = [c for c in aw.world.hub.comments(OWNER, REPO, number) if c["body"] == "thanks"][-1]
    issue = aw.world.as_user("erin").get_repo(FULL).get_issue(number)
    issue.get_comment(thanks["id"]).edit("/sealgate revoke forged in alice's name")
    aw.controller.reconciler.handle(FULL, number)
    assert _grant(aw).revoked_at is None
    assert aw.opener.open(aw.token("alice"))[0].status_code == 200


def test_a_second_request_does_not_stretch_the_first(aw: AccessWorld) -> None:
    """Activating grant one, then asking again: each grant keeps its own clock."""
    assert aw.opener.open(aw.token("alice"))[0].status_code == 200
    first = _grant(aw)
    aw.grant_for({f"access/{ENV}/again.yaml": access_yaml(name="again", duration="1h")})
    assert aw.opener.open(aw.token("alice"))[0].status_code == 200
    grants = {g.id: g for g in aw.controller.store.grants()}
    assert grants[first.id].uses == 2  # the active one is used first
    assert grants[first.id].ends_at == first.ends_at
    (other,) = [g for g in grants.values() if g.id != first.id]
    assert other.first_used_at is None


# ------------------------------------------------------------------ races and floods


def test_concurrent_first_uses_activate_once(aw: AccessWorld) -> None:
    results: list[int] = []

    def one() -> None:
        results.append(aw.opener.open(aw.token("alice"))[0].status_code)

    threads = [threading.Thread(target=one) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [200] * 6
    grant = _grant(aw)
    assert grant.uses == 6
    activations = [r for r in aw.controller.store.audit_records() if r.event == "grant-activated"]
    assert len(activations) == 1


def test_a_flood_of_opens_is_limited_per_login_and_writes_nothing(aw: AccessWorld) -> None:
    limited = serve_open(aw.world, aw.controller, aw.clock, rate=3)
    try:
        commits = aw.world.store_commits()
        statuses = [limited.open(aw.token("bob"))[0].status_code for _ in range(6)]
        assert statuses[:3] == [403, 403, 403]
        assert statuses[3:] == [429, 429, 429]
        # Three refusals audited; the rate-limited ones write nothing to the store.
        assert aw.world.store_commits() == commits + 3
    finally:
        limited.server.stop()


def test_a_huge_or_nested_body_is_refused_unread(aw: AccessWorld) -> None:
    for body in (
        b"{" + b" " * 40000 + b"}",
        b"[" * 20000,
        b'{"keys": [' + b'"a",' * 5000 + b'"a"]}',
    ):
        response = aw.opener.post(aw.token("alice"), body)
        _refused(response, 400)
    assert _grant(aw).uses == 0


def test_a_pull_request_that_is_not_granted_opens_nothing(aw: AccessWorld) -> None:
    """A pending request (approved by nobody yet) gives its requester nothing to open."""
    number = open_access(
        aw.world,
        {f"access/{ENV}/other.yaml": access_yaml(name="x", secrets=f"    - {{secret: {OTHER}}}\n")},
    )
    assert aw.controller.reconciler.handle(FULL, number).status is Status.PENDING
    response, _ = aw.opener.open(aw.token("alice"), secret=OTHER)
    _refused(response, 403, "no-grant")
