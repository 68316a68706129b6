"""Attacks on the newest features: Secret shape metadata, restore, replies, summaries."""

from __future__ import annotations

import json

from controller.github.summary import MARKER
from tests.integration.test_reconciler_world import FULL, OWNER, REPO, Controller, World
from tests.integration.test_reconciler_world import controller as controller  # noqa: PLC0414
from tests.integration.test_reconciler_world import world as world  # noqa: PLC0414


def test_a_forged_owned_metadata_record_does_not_delete_foreign_labels(
    world: World, controller: Controller
) -> None:
    first = world.open_pull(b"first-value")
    world.approve("bob", first)
    controller.reconciler.handle(FULL, first)
    live = world.secret()
    assert live is not None, "the first reviewed change must be delivered"

    meta = live["metadata"]
    meta.setdefault("labels", {})["team"] = "payments"
    meta.setdefault("annotations", {})["sealgate.dev/owned-metadata"] = json.dumps(
        {"labels": ["team"], "annotations": []}
    )
    world.kube.put(live)

    second = world.open_pull(b"second-value")
    world.approve("bob", second)
    controller.reconciler.handle(FULL, second)
    after = world.secret()
    assert after is not None
    assert after["metadata"].get("labels", {}).get("team") == "payments"


def test_a_forged_reviewers_record_in_a_users_comment_does_not_stop_sealgate_asking(
    world: World, controller: Controller
) -> None:
    number = world.open_pull()
    head = world.head(number)
    world.comment(
        "alice",
        number,
        f"{MARKER}\n<!-- sealgate:reviewers head={head} asked=bob,carol,dave,erin -->\n",
    )
    controller.reconciler.handle(FULL, number)
    pull = world.as_user("alice").get_repo(f"{OWNER}/{REPO}").get_pull(number)
    users, _teams = pull.get_review_requests()
    assert [u.login for u in users], "sealgate must still ask the eligible reviewers"
