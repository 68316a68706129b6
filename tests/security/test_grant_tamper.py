"""Grants edited, forged, rolled back, copied or deleted by someone who can write the store's
git repository but holds no KEK: refused on read, reported by ``audit verify``."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from controller.errors import IntegrityError
from controller.model import grant_id_for
from controller.store import audit as audit_module
from controller.store.gitobjects import GitObjects
from controller.store.grantfile import GrantHead, digest, grant_head_path, grant_path
from tests.integration.test_store_grants import (
    ENV,
    GRANT_ID,
    ORIGIN,
    T0,
    World,
    make_grant,
    run_git,
    use_grant,
)
from tests.integration.test_store_grants import world as world  # noqa: PLC0414


def _commit_outside(path: Path, updates: dict[str, bytes]) -> None:
    """Commit as someone with write access to the store would, keeping the head's trailers."""
    repo = GitObjects(path)
    try:
        head = repo.head()
        assert head is not None
        blobs = {p: repo.write_blob(data) for p, data in updates.items()}
        tree = repo.update_tree(repo.commit_tree(head), blobs)
        commit = repo.write_commit(tree, repo.commit_message(head), head, repo.commit_time(head))
        repo.advance(commit, head)
    finally:
        repo.close()


def _edit_grant(world: World, **changes: object) -> bytes:
    document = json.loads(run_git(world.path, "show", f"main:{grant_path(ENV, GRANT_ID)}"))
    document.update(changes)
    return json.dumps(document, sort_keys=True, indent=2).encode() + b"\n"


def test_a_hand_edited_grant_file_is_refused_on_read_and_by_verify(world: World) -> None:
    world.store.record_grant(make_grant(), actor="sealgate", origin=ORIGIN)
    world.store.revoke_grant(GRANT_ID, at=T0, actor="ops", reason="r")
    # Un-revoke it by hand.
    _commit_outside(world.path, {grant_path(ENV, GRANT_ID): _edit_grant(world, revokedAt=None)})
    with pytest.raises(IntegrityError, match="edited outside the controller"):
        world.store.grant(GRANT_ID)
    # The list leaves it out (one bad file must not stop the grant loop), so it gives nothing.
    assert world.store.grants() == []
    with pytest.raises(IntegrityError):
        world.store.record_use(
            GRANT_ID, at=T0, actor="dana", secret="payments/db", keys=(), via="open"
        )
    assert not world.store.audit_verify().ok


def _head_record(world: World) -> GrantHead:
    shown = run_git(world.path, "show", f"main:{grant_head_path(ENV, GRANT_ID)}")
    return GrantHead.decode(shown.encode(), where="test")


def test_a_grant_file_and_head_edited_together_fail_the_mac(world: World) -> None:
    world.store.record_grant(make_grant(), actor="sealgate", origin=ORIGIN)
    data = _edit_grant(world, duration=10**6)
    forged = replace(_head_record(world), digest=digest(data)).encode()
    _commit_outside(
        world.path, {grant_path(ENV, GRANT_ID): data, grant_head_path(ENV, GRANT_ID): forged}
    )
    with pytest.raises(IntegrityError, match="MAC does not match"):
        world.store.grant(GRANT_ID)
    report = world.store.audit_verify()
    assert any("MAC does not match" in p for p in report.problems)


def test_a_grant_forged_with_its_audit_record_and_trailer_fails_the_mac(world: World) -> None:
    """Everything without a key made to agree: the file, its head, the audit record (hash
    recomputed) and the commit's Audit-Head. Only the data key's MAC is left to say no."""
    world.store.record_grant(make_grant(), actor="sealgate", origin=ORIGIN)
    data = _edit_grant(world, duration=10**6)
    head = _head_record(world)
    body = json.loads(run_git(world.path, "show", f"main:{head.audit_file}").splitlines()[0])
    body["grantDigest"] = digest(data)
    body["duration"] = 10**6
    body["hash"] = audit_module.record_hash(body)
    forged_head = replace(head, digest=digest(data), hash=body["hash"]).encode()
    repo = GitObjects(world.path)
    try:
        parent = repo.head()
        assert parent is not None
        updates = {
            grant_path(ENV, GRANT_ID): repo.write_blob(data),
            grant_head_path(ENV, GRANT_ID): repo.write_blob(forged_head),
            head.audit_file: repo.write_blob(audit_module.encode_line(body)),
        }
        tree = repo.update_tree(repo.commit_tree(parent), updates)
        message = f"Grant {GRANT_ID}\n\nAudit-Head: 1 {body['hash']}\n"
        repo.advance(repo.write_commit(tree, message, parent, T0), parent)
    finally:
        repo.close()
    with pytest.raises(IntegrityError, match="MAC does not match"):
        world.store.grant(GRANT_ID)
    assert world.store.grants() == []
    with pytest.raises(IntegrityError):
        use_grant(world.store, T0)
    report = world.store.audit_verify()
    assert [p for p in report.problems if "MAC" in p]


def test_an_earlier_state_put_back_whole_is_refused(world: World) -> None:
    world.store.record_grant(make_grant(), actor="sealgate", origin=ORIGIN)
    old_file = run_git(world.path, "show", f"main:{grant_path(ENV, GRANT_ID)}").encode()
    old_head = run_git(world.path, "show", f"main:{grant_head_path(ENV, GRANT_ID)}").encode()
    world.store.revoke_grant(GRANT_ID, at=T0, actor="ops", reason="r")
    # Un-revoke by putting back the approved state: file, head and MAC all valid.
    _commit_outside(
        world.path, {grant_path(ENV, GRANT_ID): old_file, grant_head_path(ENV, GRANT_ID): old_head}
    )
    with pytest.raises(IntegrityError, match="earlier state of the grant was put back"):
        world.store.grant(GRANT_ID)
    assert world.store.grants(live_only=True) == []
    with pytest.raises(IntegrityError, match="earlier state"):
        use_grant(world.store, T0 + timedelta(minutes=1))
    report = world.store.audit_verify()
    assert any("earlier state" in p for p in report.problems)


def test_a_grant_copied_to_another_environment_is_refused(world: World) -> None:
    world.store.record_grant(make_grant(), actor="sealgate", origin=ORIGIN)
    data = run_git(world.path, "show", f"main:{grant_path(ENV, GRANT_ID)}").encode()
    pin = run_git(world.path, "show", f"main:{grant_head_path(ENV, GRANT_ID)}").encode()
    _commit_outside(
        world.path,
        {grant_path("staging", GRANT_ID): data, grant_head_path("staging", GRANT_ID): pin},
    )
    # The copy is left out (and named by verify); the original still verifies.
    assert [(g.environment, g.id) for g in world.store.grants()] == [(ENV, GRANT_ID)]
    assert any("moved or copied" in p for p in world.store.audit_verify().problems)


def test_a_deleted_grant_is_reported_by_verify(world: World) -> None:
    world.store.record_grant(make_grant(), actor="sealgate", origin=ORIGIN)
    repo = GitObjects(world.path)
    try:
        parent = repo.head()
        assert parent is not None
        gone = {grant_path(ENV, GRANT_ID): None, grant_head_path(ENV, GRANT_ID): None}
        tree = repo.update_tree(repo.commit_tree(parent), gone)
        repo.advance(repo.write_commit(tree, repo.commit_message(parent), parent, T0), parent)
    finally:
        repo.close()
    assert world.store.grant(GRANT_ID) is None
    report = world.store.audit_verify()
    assert any("the audit log records it but the store has no file" in p for p in report.problems)


def test_verify_reports_every_bad_grant_and_keeps_checking_the_good_ones(world: World) -> None:
    other = grant_id_for(ENV, 43, "second")
    world.store.record_grant(make_grant(), actor="sealgate", origin=ORIGIN)
    world.store.record_grant(make_grant(id=other, pull_request=43), actor="s", origin=None)
    third = grant_id_for(ENV, 44, "third")
    world.store.record_grant(make_grant(id=third, pull_request=44), actor="s", origin=None)
    _commit_outside(
        world.path,
        {
            grant_path(ENV, GRANT_ID): _edit_grant(world, uses=0, reason="edited"),
            grant_path(ENV, other): b"not json",
        },
    )
    problems = world.store.audit_verify().problems
    assert len([p for p in problems if GRANT_ID in p]) == 1
    assert len([p for p in problems if other in p]) == 1
    assert not [p for p in problems if third in p]


def test_one_tampered_grant_leaves_the_others_listed_and_is_logged(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    """The grant loop lists grants to end them: one bad file must not hide every other grant
    (their Kubernetes bindings would then outlive their end). The bad one is left out, so it
    gives nothing, and the operator's log names it."""
    world.store.record_grant(make_grant(), actor="sealgate", origin=ORIGIN)
    other = grant_id_for(ENV, 43, "another")
    world.store.record_grant(
        make_grant(id=other, pull_request=43, request_id="another"), actor="sealgate", origin=ORIGIN
    )
    _commit_outside(
        world.path, {grant_path(ENV, GRANT_ID): _edit_grant(world, requester="mallory")}
    )
    assert [g.id for g in world.store.grants()] == [other]
    assert "fails verification and is ignored" in caplog.text
    assert not world.store.audit_verify().ok
