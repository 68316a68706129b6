"""Access requests end to end, ``open`` delivery: ask, approve, merge, grant, then
``POST /v1/open`` over real HTTP (callers identified by the loopback GitHub's ``GET /user``)
and the CLI, while the grant's state moves (approved -> active -> ended or revoked) in the
status API and the summary comment.

The rest of the whole, in the same world (``access_world_support``):
``test_access_world_kube.py`` (Kubernetes delivery, revocations by the requester, an
approver, a stranger and an operator), ``test_access_world_clocks.py`` (lapse, duration
from first use, restarts, how long a binding may outlive its grant),
``test_access_world_crash.py`` (a process killed while granting),
``test_access_world_invalid.py`` (invalid mixes) and ``test_access_world_edges.py``.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import pytest
from click.testing import CliRunner, Result

from controller.cli import main
from controller.cli.exit_codes import ExitCode
from controller.crypto.quoting import quotes_any
from tests.integration.access_world_support import (
    REQUEST_ID,
    SUMMARY_MARKER,
    AccessWorld,
    access,
    access_yaml,
)
from tests.integration.test_reconciler_world import CANARY, CHECKSUM_KEY, ENV, FULL, NAMESPACE

__all__ = ["access"]  # the fixture


def _state(document: dict[str, Any]) -> str:
    (row,) = document["access"]
    return str(row["state"])


def test_open_delivery_from_request_to_end(
    access: AccessWorld, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    access.seed()
    number = access.granted(access_yaml(duration="2h"))
    grant = access.grant()
    assert (grant.requester, grant.pull_request, grant.duration) == (
        "alice",
        number,
        timedelta(hours=2),
    )
    assert grant.first_used_at is None
    assert _state(access.endpoint.request_status(number)) == "approved"
    assert "**Next:** `alice` can now run" in access.summary(number)

    # Another person holds a valid GitHub token but no grant: refused, and audited.
    refused = access.endpoint.open(access.token("bob"))
    assert refused.status_code == 403, refused.text
    assert refused.json()["reason"] == "no-grant"
    assert refused.headers["Cache-Control"] == "no-store"
    audited = [r for r in access.controller.store.audit_records() if r.event == "access-refused"]
    assert [(r.fields.get("actor"), r.fields.get("reason")) for r in audited] == [
        ("bob", "no-grant")
    ], audited
    assert access.controller.observer.count("access_refused", "no-grant") == 1
    assert access.grant().first_used_at is None  # a stranger's try does not start the clock

    # The requester's first open activates the grant: two hours from now.
    opened_at = access.clock()
    first = access.endpoint.open(access.token("alice"))
    assert first.status_code == 200, first.text
    assert access.endpoint.last_opened == {"password": CANARY}
    assert first.json()["grant"] == grant.id
    active = access.grant()
    assert active.first_used_at is not None
    assert opened_at <= active.first_used_at <= access.clock()
    assert active.ends_at == active.first_used_at + timedelta(hours=2)
    # Served between passes: the status reads the store, not the last pass.
    assert _state(access.endpoint.request_status(number)) == "active"

    # The runner's next poll keeps the merged request watched, and its summary follows.
    assert number in access.poll()
    assert "**Active:** access ends at" in access.summary(number)

    # A later use does not move the end.
    access.clock.advance(timedelta(minutes=30))
    again = access.endpoint.open(access.token("alice"))
    assert again.status_code == 200, again.text
    assert access.grant().ends_at == active.ends_at
    assert access.grant().uses == 2

    # Past the end: refused as ended, recorded ended by the grant loop, and the summary
    # says so on the pass the loop leads to.
    access.clock.to(active.ends_at)
    late = access.endpoint.open(access.token("alice"))
    assert late.status_code == 403
    assert late.json()["reason"] == "ended"
    assert _state(access.endpoint.request_status(number)) == "ended"
    assert access.keep_grants() == [grant.id]
    assert access.grant().ended_recorded
    access.poll()
    assert "**Ended** at" in access.summary(number), access.summary(number)

    # `sealgate status` against the same API shows the ended grant.
    shown = CliRunner(env={"SEALGATE_URL": access.endpoint.url}).invoke(
        main, ["status", f"{FULL}#{number}", "-o", "json"]
    )
    assert shown.exit_code == 0, shown.output
    assert '"state": "ended"' in shown.stdout
    assert CANARY.decode() not in shown.output

    _nothing_shows_the_canary(access, number, caplog)


def test_the_cli_opens_for_the_requester_and_is_refused_for_another(access: AccessWorld) -> None:
    access.seed()
    access.granted(access_yaml())

    def run(login: str) -> Result:
        env = {"SEALGATE_API": access.endpoint.url, "GITHUB_TOKEN": access.token(login)}
        return CliRunner(env=env).invoke(main, ["open", f"{ENV}/{NAMESPACE}/db"])

    mine = run("alice")
    assert mine.exit_code == 0, mine.output
    assert mine.stdout == f"export password='{CANARY.decode()}'\n"
    theirs = run("carol")
    assert theirs.exit_code == ExitCode.FORBIDDEN
    assert "no-grant" in theirs.stderr
    assert theirs.stdout == ""


def test_revoke_by_the_requester_stops_open(access: AccessWorld) -> None:
    access.seed()
    number = access.granted(access_yaml())
    assert access.endpoint.open(access.token("alice")).status_code == 200
    access.world.comment("alice", number, "/sealgate revoke done with the incident")
    access.poll()
    grant = access.grant()
    assert (grant.revoked_by, grant.revoke_reason) == ("alice", "done with the incident")
    assert grant.ended_recorded
    refused = access.endpoint.open(access.token("alice"))
    assert refused.status_code == 403
    assert refused.json()["reason"] == "revoked"
    assert "by alice (done with the incident)" in refused.json()["message"]
    assert _state(access.endpoint.request_status(number)) == "revoked"
    assert "**Revoked** at" in access.summary(number)
    assert any("**Revoked:**" in body for body in access.comments(number))


def _nothing_shows_the_canary(
    access: AccessWorld, number: int, caplog: pytest.LogCaptureFixture
) -> None:
    """The values travel sealed: the planted value is in no answer of the open endpoint (body
    or header), no log line, no audit record, no store object but the encrypted file, no
    comment and no check run."""
    plain = CANARY.decode()
    # Nor base64 or hex of it: a box opened by mistake, or a value merely encoded.
    assert not quotes_any(access.endpoint.seen(), [CANARY])
    assert not quotes_any(caplog.text, [CANARY])
    assert plain not in access.endpoint.seen()
    assert plain not in caplog.text
    assert CHECKSUM_KEY.decode() not in caplog.text
    records = list(access.controller.store.audit_records())
    assert records
    assert plain not in repr(records)
    for blob in access.world.store_blobs():
        assert CANARY not in blob
    reported = repr(access.world.hub.comments("acme", "requests", number)) + repr(
        access.world.hub.check_runs("acme", "requests", access.world.head(number))
    )
    assert plain not in reported
    for comment in access.comments(number):
        assert plain not in comment
    assert SUMMARY_MARKER in reported  # the scan saw the summary
    assert REQUEST_ID in reported
