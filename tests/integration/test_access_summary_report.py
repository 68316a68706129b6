"""An access pull request's summary reported through the real PyGithub client to the loopback
GitHub: the check run and the sticky comment carry it, pending then granted, and a reason
that quotes a credential never reaches GitHub in any request or answer."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from controller.github import Reporter
from controller.github.summary import render_summary
from controller.github.summary_access import access_view
from tests.integration.test_github_adapter_world import FULL, OWNER, REPO, World, build_world
from tests.unit.test_github_summary_access import (
    ACTIVE,
    APPROVED,
    CANARY_TOKEN,
    NOW,
    PENDING,
    POLICY,
    REQUEST,
    TIERS,
)

LEAKY = dataclasses.replace(REQUEST, reason=f"payouts failing, token was {CANARY_TOKEN}")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    w = build_world(Path(tmp_path_factory.mktemp("access-summary")))
    try:
        yield w
    finally:
        w.client.close()


def test_pending_then_granted_on_the_check_and_the_comment(world: World) -> None:
    number = world.open_pull(author="alice")
    reporter = Reporter(world.client)
    snapshot = world.reader.fetch(FULL, number)
    head = snapshot.facts.head_sha
    pending = dataclasses.replace(PENDING, head_sha=head)
    view = access_view([LEAKY], pending, TIERS, None, NOW)
    summary = render_summary(
        pending, [], fingerprints={}, policies=[POLICY], requester="alice", now=NOW, access=view
    )
    reporter.report(snapshot, summary)
    run = world.check_run(head)
    assert run["status"] == "in_progress"
    assert "Access requested by `dev1`" in run["output"]["summary"]
    assert world.server.labels(OWNER, REPO, number) == ["sealgate:pending"]

    approved = dataclasses.replace(APPROVED, head_sha=head)
    granted = access_view([LEAKY], approved, TIERS, ACTIVE, NOW)
    reporter.report(
        world.reader.fetch(FULL, number),
        render_summary(approved, [], fingerprints={}, now=NOW, access=granted),
    )
    run = world.check_run(head)
    assert (run["status"], run["conclusion"]) == ("completed", "success")
    assert run["output"]["title"] == "sealgate: access active"
    (comment,) = world.sticky_comments(number)
    assert "**Active:** access ends at" in comment["body"]
    assert world.server.labels(OWNER, REPO, number) == ["sealgate:applied"]

    for record in world.server.request_log:
        assert "C4N4RY" not in json.dumps(record.body), record.path
        assert "C4N4RY" not in record.path + record.query
