"""Attacks that try to make an access request leak: a credential or a secret's value in a
reason, in a revocation, in metrics labels; and floods of access files.

Every output a person or a machine can read is scanned: the pull request's comments and
check runs, the store's audit records and commits, the controller's log, the open
endpoint's answers and its metrics.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import git
import pytest

from controller.crypto.caller_box import caller_public_text, new_caller_key
from controller.github.snapshot import MAX_CHANGED_FILES
from controller.reconciler import Status
from tests.integration.test_reconciler_world import ENV, FULL, OWNER, REPO
from tests.security.access_attack_support import (
    CANARY_TEXT,
    AccessWorld,
    access_yaml,
    build_access_world,
    merged,
    open_access,
)

FILE = f"access/{ENV}/incident-4711.yaml"
TOKEN = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"


@pytest.fixture
def aw(tmp_path: Path) -> Iterator[AccessWorld]:
    yield from build_access_world(tmp_path)


def _github_text(aw: AccessWorld, number: int) -> str:
    hub = aw.world.hub
    runs = [r for sha in {aw.world.head(number)} for r in hub.check_runs(OWNER, REPO, sha)]
    return repr(hub.comments(OWNER, REPO, number)) + repr(runs)


def _store_text(aw: AccessWorld) -> str:
    records = repr([(r.event, r.fields) for r in aw.controller.store.audit_records()])
    repo = git.Repo(aw.world.spec.store)
    try:
        messages = str(repo.git.log("--all", "--format=%B"))
    finally:
        repo.close()
    blobs = b"".join(aw.world.store_blobs()).decode(errors="replace")
    return records + messages + blobs


def test_a_credential_in_the_reason_is_invalid_and_never_shown(
    aw: AccessWorld, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    number = open_access(aw.world, {FILE: access_yaml(reason=f"use {TOKEN} to debug")})
    aw.world.approve("bob", number)
    assert aw.controller.reconciler.handle(FULL, number).status is Status.INVALID
    assert not merged(aw.world, number)
    said = _github_text(aw, number)
    assert "spec.reason" in said
    for text in (said, _store_text(aw), caplog.text):
        assert TOKEN not in text


def test_a_reason_quoting_the_secret_s_value_is_never_published(
    aw: AccessWorld, caplog: pytest.LogCaptureFixture
) -> None:
    """Someone who once saw the value pastes it as the reason: the summary, the grant and
    the audit log must not carry it (a change's reason quoting its own value is withheld
    the same way)."""
    caplog.set_level(logging.DEBUG)
    number = open_access(aw.world, {FILE: access_yaml(reason=f"the value {CANARY_TEXT} fails")})
    aw.controller.reconciler.handle(FULL, number)
    aw.world.approve("bob", number)
    aw.controller.reconciler.handle(FULL, number)
    for text in (_github_text(aw, number), caplog.text):
        assert CANARY_TEXT not in text
    stored = _store_text(aw)
    assert CANARY_TEXT not in stored
    (grant,) = aw.controller.store.grants()
    assert grant.reason.startswith("withheld")
    (approved,) = [
        r.fields for r in aw.controller.store.audit_records() if r.event == "grant-approved"
    ]
    assert approved["reasonWithheld"] is True


def test_a_credential_in_a_revocation_is_refused_and_never_repeated(aw: AccessWorld) -> None:
    number = aw.grant_for({FILE: access_yaml()})
    aw.world.comment("alice", number, f"/sealgate revoke leaked {TOKEN}")
    aw.controller.reconciler.handle(FULL, number)
    (grant,) = aw.controller.store.grants()
    assert grant.revoked_at is None
    replies = [c["body"] for c in aw.world.hub.comments(OWNER, REPO, number)]
    assert any("refused" in body for body in replies if "revoke" in body)
    bot = [body for body in replies if "sealgate" in body and TOKEN in body]
    assert len(bot) == 1  # only alice's own comment holds it
    assert TOKEN not in _store_text(aw)


def test_made_up_names_never_become_metrics_labels(aw: AccessWorld) -> None:
    """Refusals are counted by a bounded reason code: a caller cannot grow the metrics
    with names of their own."""
    for n in range(20):
        body = {
            "environment": f"env-{n}x",
            "secret": f"ns{n}/made-up-{n}",
            "publicKey": caller_public_text(new_caller_key()),
        }
        assert aw.opener.post(aw.token("bob"), body).status_code == 403
    rendered = aw.opener.metrics.render().decode()
    assert "made-up" not in rendered
    assert "env-1x" not in rendered


def test_a_flood_of_access_files_is_refused_unread(aw: AccessWorld) -> None:
    count = MAX_CHANGED_FILES + 1
    files: dict[str, bytes | None] = {
        f"access/{ENV}/flood-{n}.yaml": access_yaml(name=f"flood-{n}") for n in range(count)
    }
    number = open_access(aw.world, files)
    aw.world.approve("bob", number)
    aw.world.hub.reset_request_log()
    status = aw.controller.reconciler.handle(FULL, number)
    assert status.status is Status.INVALID
    assert not merged(aw.world, number)
    assert aw.controller.store.grants() == []
    reads = [r.path for r in aw.world.hub.request_log if "/contents/access/" in r.path]
    assert reads == []
