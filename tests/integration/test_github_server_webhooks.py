"""Signed webhook deliveries from the loopback GitHub to a loopback receiver.

The `github` fixture also validates every recorded payload against GitHub's `webhook-*` schemas.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import uuid
from collections.abc import Iterator

import pytest

from tests.integration.github_server_support import (
    FULL,
    OWNER,
    REPO,
    Receiver,
    World,
    rsa_private_key,
)
from tests.integration.github_server_support import github as github  # noqa: PLC0414

SECRET = "webhook-secret"


@pytest.fixture
def receiver(github: World) -> Iterator[Receiver]:
    with Receiver() as rx:
        github.server.set_webhook(rx.url, SECRET)
        yield rx


def _verify(body: bytes, header: str) -> bool:
    expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header)


def test_pull_request_lifecycle_events_are_signed_and_shaped_like_github(
    github: World, receiver: Receiver
) -> None:
    number = github.open_change()
    github.server.push(OWNER, REPO, "change-1", {"b.txt": b"b\n"}, message="b", author="alice")
    alice = github.client("alice").get_repo(FULL).get_pull(number)
    alice.edit(title="Rotate the stripe key")
    bob = github.client("bob").get_repo(FULL).get_pull(number)
    bob.add_to_labels("sealgate:pending")
    review = bob.create_review(body="ok", event="APPROVE")
    github.client("carol").get_repo(FULL).get_pull(number).get_review(review.id).dismiss("stale")
    bob.create_issue_comment("/sealgate merge")
    alice.edit(state="closed")
    alice.edit(state="open")
    github.client("carol").get_repo(FULL).get_pull(number).merge(merge_method="squash")
    assert github.server.wait_for_deliveries(10)

    seen = [(d.event, d.action) for d in github.server.deliveries]
    assert seen == [
        ("pull_request", "opened"),
        ("pull_request", "synchronize"),
        ("pull_request", "edited"),
        ("pull_request", "labeled"),
        ("pull_request_review", "submitted"),
        ("pull_request_review", "dismissed"),
        ("issue_comment", "created"),
        ("pull_request", "closed"),
        ("pull_request", "reopened"),
        ("pull_request", "closed"),
    ]
    assert len(receiver.received) == len(seen)
    for got, delivery in zip(receiver.received, github.server.deliveries, strict=True):
        assert _verify(got.body, got.headers["X-Hub-Signature-256"])
        assert got.headers["X-Hub-Signature"].startswith("sha1=")
        assert got.headers["X-Github-Event"] == delivery.event
        assert uuid.UUID(got.headers["X-Github-Delivery"]).version == 4
        assert got.headers["User-Agent"].startswith("GitHub-Hookshot/")
        assert got.headers["X-Github-Hook-Installation-Target-Type"] == "repository"
        assert got.headers["X-Github-Hook-Installation-Target-Id"] == str(
            delivery.payload["repository"]["id"]
        )
        assert got.json() == delivery.payload
        assert delivery.status == 200
    payloads = [d.payload for d in github.server.deliveries]
    assert payloads[1]["after"] == payloads[1]["pull_request"]["head"]["sha"]
    assert payloads[2]["changes"] == {"title": {"from": "Rotate stripe key"}}
    assert payloads[4]["review"]["state"] == "approved"
    assert payloads[5]["review"]["state"] == "dismissed"
    assert payloads[6]["comment"]["body"] == "/sealgate merge"
    assert payloads[7]["pull_request"]["merged"] is False
    assert payloads[9]["pull_request"]["merged"] is True
    assert payloads[9]["sender"]["login"] == "carol"


def test_redelivery_repeats_the_same_signed_delivery(github: World, receiver: Receiver) -> None:
    github.open_change()
    assert github.server.wait_for_deliveries(10)
    original = github.server.deliveries[0]
    github.server.redeliver(original.id)
    assert github.server.wait_for_deliveries(10)
    first, replay = receiver.received
    assert first.body == replay.body
    assert first.headers["X-Github-Delivery"] == replay.headers["X-Github-Delivery"] == original.id
    assert first.headers["X-Hub-Signature-256"] == replay.headers["X-Hub-Signature-256"]


def test_check_run_rerequested_carries_the_installation(github: World, receiver: Receiver) -> None:
    from github import Auth

    from tests.integration.github_server_support import client

    private, public = rsa_private_key()
    github.server.register_app(7, "sealgate", public, installation_id=70, owner=OWNER)
    number = github.open_change()
    head = github.server.pull(OWNER, REPO, number)["head"]["sha"]
    app = client(github.server.url, Auth.AppAuth(7, private).get_installation_auth(70))
    run = app.get_repo(FULL).create_check_run(
        name="sealgate", head_sha=head, conclusion="failure", output={"title": "t", "summary": "s"}
    )
    github.server.rerequest_check_run(OWNER, REPO, run.id, "bob")
    assert github.server.wait_for_deliveries(10)
    delivery = github.server.deliveries[-1]
    assert (delivery.event, delivery.action) == ("check_run", "rerequested")
    assert delivery.payload["check_run"]["id"] == run.id
    assert delivery.payload["installation"]["id"] == 70
    assert delivery.payload["check_run"]["check_suite"]["pull_requests"][0]["number"] == number
    assert all(d.payload["installation"]["id"] == 70 for d in github.server.deliveries)


def test_delivery_is_asynchronous_and_records_the_receiver_status(github: World) -> None:
    release = threading.Event()

    class Slow(Receiver):
        def _app(self, environ: dict[str, object], start_response: object) -> object:
            release.wait(10)
            return super()._app(environ, start_response)

    with Slow(status=500) as rx:
        github.server.set_webhook(rx.url, SECRET)
        number = github.open_change()
        # The pull request exists and the API answers while the receiver is still busy.
        assert github.client("bob").get_repo(FULL).get_pull(number).number == number
        assert [d.status for d in github.server.deliveries] == [None]
        release.set()
        assert github.server.wait_for_deliveries(10)
    assert [d.status for d in github.server.deliveries] == [500]


def test_comment_edits_and_label_removals_are_delivered_too(
    github: World, receiver: Receiver
) -> None:
    number = github.open_change()
    pr = github.client("bob").get_repo(FULL).get_pull(number)
    comment = pr.create_issue_comment("draft summary")
    comment.edit("final summary")
    pr.add_to_labels("sealgate:pending")
    pr.remove_from_labels("sealgate:pending")
    assert github.server.wait_for_deliveries(10)
    deliveries = github.server.deliveries[1:]
    assert [(d.event, d.action) for d in deliveries] == [
        ("issue_comment", "created"),
        ("issue_comment", "edited"),
        ("pull_request", "labeled"),
        ("pull_request", "unlabeled"),
    ]
    assert deliveries[1].payload["changes"] == {"body": {"from": "draft summary"}}
    assert deliveries[3].payload["label"]["name"] == "sealgate:pending"
    assert len(receiver.received) == 5
