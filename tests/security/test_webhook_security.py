"""The webhook receiver accepts only correctly signed, first-time deliveries.

Payloads are real GitHub shapes: GitHub's own example from the official description, and
what the loopback GitHub server sends for each subscribed event (each validated against
its ``webhook-*`` schema before use).
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import queue
import threading
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import make_server
from werkzeug.test import Client, TestResponse

from controller.github.webhooks import WebhookEvent, verify_signature
from controller.sandbox.github_server import Delivery
from controller.server.webhook_app import WebhookApp
from tests.api_specs import _github_spec, github_schema_validator, problems
from tests.integration.test_github_adapter_world import OWNER, REPO, build_world

SECRET = "it's a secret to everybody"


def sign(body: bytes, secret: str = SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def sha1(body: bytes, secret: str = SECRET) -> str:
    return "sha1=" + hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()


def example(name: str) -> Any:
    """A fresh copy: the description is cached and shared, and tests edit what they get."""
    return copy.deepcopy(_github_spec()["components"]["examples"][name]["value"])


def check_run_rerequested() -> dict[str, Any]:
    payload: dict[str, Any] = example("check-run-rerequested")
    assert problems(github_schema_validator("webhook-check-run-rerequested"), payload) == []
    assert payload["check_run"]["pull_requests"], "the example names its pull request"
    return payload


class Receiver:
    def __init__(self) -> None:
        self.events: queue.Queue[WebhookEvent] = queue.Queue()
        self.app = WebhookApp(SECRET, self.events)
        self.client = Client(self.app)
        self.counter = 0

    def post(
        self,
        event: str,
        body: bytes,
        *,
        signature: str | None = "sign",
        sha1_signature: str | None = None,
        delivery: str | None = None,
        content_type: str = "application/json",
    ) -> TestResponse:
        self.counter += 1
        headers = {
            "X-GitHub-Event": event,
            "X-GitHub-Delivery": delivery or f"delivery-{self.counter}",
            "Content-Type": content_type,
            "User-Agent": "GitHub-Hookshot/test",
        }
        if signature == "sign":
            headers["X-Hub-Signature-256"] = sign(body)
        elif signature is not None:
            headers["X-Hub-Signature-256"] = signature
        if sha1_signature is not None:
            headers["X-Hub-Signature"] = sha1_signature
        return self.client.post("/webhooks", data=body, headers=headers)

    def drain(self) -> list[WebhookEvent]:
        out: list[WebhookEvent] = []
        while True:
            try:
                out.append(self.events.get_nowait())
            except queue.Empty:
                return out


@pytest.fixture
def receiver() -> Receiver:
    return Receiver()


def test_refuses_to_start_without_a_secret() -> None:
    for empty in ("", b"", "   "):
        with pytest.raises(ValueError, match="secret is required"):
            WebhookApp(empty, queue.Queue())
    with pytest.raises(ValueError, match="secret is required"):
        verify_signature(b"", b"{}", sign(b"{}"))


def test_signed_example_is_accepted_once_then_replay_ignored(receiver: Receiver) -> None:
    body = json.dumps(check_run_rerequested()).encode()
    first = receiver.post("check_run", body, delivery="d-1")
    assert first.status_code == 202
    events = receiver.drain()
    assert [(e.kind, e.action, e.repo, e.number, e.delivery_id) for e in events] == [
        ("check_run", "rerequested", "Codertocat/Hello-World", 2, "d-1")
    ]
    replay = receiver.post("check_run", body, delivery="d-1")
    assert replay.status_code == 200
    assert "duplicate" in replay.get_json()["message"]
    assert receiver.drain() == []


def test_form_encoded_example_is_accepted(receiver: Receiver) -> None:
    raw = example("check-run-rerequested-form-encoded")["payload"]
    body = ("payload=" + raw).encode()
    decoded = json.loads(urllib.parse.unquote_plus(raw))
    assert problems(github_schema_validator("webhook-check-run-rerequested"), decoded) == []
    response = receiver.post("check_run", body, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 202
    assert [e.number for e in receiver.drain()] == [
        decoded["check_run"]["pull_requests"][0]["number"]
    ]


@pytest.mark.parametrize(
    "signature",
    [
        None,
        "",
        "sha256=",
        "sha256=" + "0" * 64,
        sign(b"another body"),
        sign(b"{}", secret="wrong secret"),
        "sha512=" + "0" * 128,
        "md5=abc",
    ],
)
def test_forged_or_missing_signatures_are_refused(
    receiver: Receiver, signature: str | None
) -> None:
    body = json.dumps(check_run_rerequested()).encode()
    response = receiver.post("check_run", body, signature=signature, delivery="forged")
    assert response.status_code == 401
    assert receiver.drain() == []
    # A refused forgery must not burn the delivery id: the genuine delivery still counts.
    genuine = receiver.post("check_run", body, delivery="forged")
    assert genuine.status_code == 202
    assert len(receiver.drain()) == 1


def test_sha1_only_signature_is_refused_even_when_correct(receiver: Receiver) -> None:
    body = json.dumps(check_run_rerequested()).encode()
    response = receiver.post("check_run", body, signature=None, sha1_signature=sha1(body))
    assert response.status_code == 401
    assert "SHA-1" in response.get_json()["message"]
    assert receiver.drain() == []


def test_body_altered_after_signing_is_refused(receiver: Receiver) -> None:
    payload = check_run_rerequested()
    body = json.dumps(payload).encode()
    signature = sign(body)
    payload["check_run"]["pull_requests"][0]["number"] = 999
    tampered = json.dumps(payload).encode()
    assert receiver.post("check_run", tampered, signature=signature).status_code == 401
    assert receiver.post("check_run", body + b" ", signature=signature).status_code == 401
    assert receiver.drain() == []


def test_malformed_and_wrong_requests(receiver: Receiver) -> None:
    assert receiver.post("check_run", b"{not json").status_code == 400
    assert receiver.post("check_run", b"[]").status_code == 400
    assert receiver.post("pull_request", b'{"action": "opened"}').status_code == 400
    assert receiver.client.get("/webhooks").status_code == 405
    assert receiver.client.post("/elsewhere", data=b"{}").status_code == 404
    body = json.dumps(check_run_rerequested()).encode()
    no_event = receiver.client.post(
        "/webhooks", data=body, headers={"X-Hub-Signature-256": sign(body)}
    )
    assert no_event.status_code == 400
    assert receiver.drain() == []


def test_irrelevant_events_are_acknowledged_not_queued(receiver: Receiver) -> None:
    ping = json.dumps({"zen": "Keep it logically awesome.", "hook_id": 1}).encode()
    assert receiver.post("ping", ping).status_code == 200
    star = json.dumps({"action": "created", "repository": {"full_name": "o/r"}}).encode()
    assert receiver.post("star", star).status_code == 200
    assert receiver.drain() == []


def test_queue_full_answers_503_and_redelivery_is_accepted_later() -> None:
    events: queue.Queue[WebhookEvent] = queue.Queue(maxsize=1)
    client = Client(WebhookApp(SECRET, events))
    body = json.dumps(check_run_rerequested()).encode()

    def post(delivery: str) -> int:
        headers = {
            "X-GitHub-Event": "check_run",
            "X-GitHub-Delivery": delivery,
            "X-Hub-Signature-256": sign(body),
            "Content-Type": "application/json",
        }
        return client.post("/webhooks", data=body, headers=headers).status_code

    assert post("a") == 202
    assert post("b") == 503
    events.get_nowait()
    assert post("b") == 202


# --------------------------------------------------------- deliveries from the loopback GitHub

DOCUMENTED = frozenset(_github_spec()["x-webhooks"])
"""``pull-request-opened`` and friends: the payloads GitHub's description has schemas for."""


@dataclass
class Recorded:
    deliveries: list[Delivery]
    events: list[WebhookEvent]
    replay_statuses: list[int | None]


def is_command(body: str) -> bool:
    return any(line.startswith("/sealgate ") for line in body.splitlines())


def schema_name(delivery: Delivery) -> str:
    return f"{delivery.event}-{delivery.action}".replace("_", "-")


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Recorded]:
    """Every subscribed event, sent by the loopback GitHub to the receiver over HTTP."""
    world = build_world(Path(tmp_path_factory.mktemp("webhooks")))
    events: queue.Queue[WebhookEvent] = queue.Queue()
    http = make_server("127.0.0.1", 0, WebhookApp(SECRET, events), threaded=True)
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    try:
        world.server.set_webhook(f"http://127.0.0.1:{http.server_port}/webhooks", SECRET)
        number = world.open_pull()  # pull_request opened
        world.push(number, {"changes/production/two.yaml": b"x: 1\n"}, author="alice")
        as_alice = world.pull_as("alice", number)
        as_alice.edit(title="Rotate the database password")  # edited
        world.approve("bob", number)  # pull_request_review submitted
        bob = next(r for r in world.pull_as("erin", number).get_reviews() if r.user.login == "bob")
        bob.dismiss("stale")  # pull_request_review dismissed
        as_alice.create_issue_comment("/sealgate bypass the database is down")  # a command
        out = world.evaluate(number)  # labels it (ignored) and comments (no command: ignored)
        world.server.rerequest_check_run(OWNER, REPO, out.report.check_run_id, "alice")
        as_alice.edit(state="closed")
        as_alice.edit(state="open")
        assert world.server.wait_for_deliveries(timeout=20)
        deliveries = world.server.deliveries
        queued: list[WebhookEvent] = []
        while not events.empty():
            queued.append(events.get_nowait())
        # GitHub's "Redeliver" button: same id, same body, same signature.
        for delivery in deliveries:
            world.server.redeliver(delivery.id)
        assert world.server.wait_for_deliveries(timeout=20)
        replays = world.server.deliveries  # a replay updates its delivery's status
        yield Recorded(
            deliveries=deliveries,
            events=queued + [events.get_nowait() for _ in range(events.qsize())],
            replay_statuses=[d.status for d in replays] or [None],
        )
    finally:
        http.shutdown()
        world.client.close()
        world.server.stop()


def test_every_subscribed_event_was_delivered_in_a_documented_shape(recorded: Recorded) -> None:
    kinds = {(d.event, d.action) for d in recorded.deliveries}
    for expected in [
        ("pull_request", "opened"),
        ("pull_request", "synchronize"),
        ("pull_request", "edited"),
        ("pull_request", "closed"),
        ("pull_request", "reopened"),
        ("pull_request_review", "submitted"),
        ("pull_request_review", "dismissed"),
        ("issue_comment", "created"),
        ("check_run", "rerequested"),
    ]:
        assert expected in kinds
    for delivery in recorded.deliveries:
        name = schema_name(delivery)
        if name in DOCUMENTED:
            validator = github_schema_validator(f"webhook-{name}")
            assert problems(validator, delivery.payload) == [], name


def test_each_signed_delivery_is_queued_once_and_replays_are_ignored(recorded: Recorded) -> None:
    relevant = [
        d
        for d in recorded.deliveries
        if not (d.event == "pull_request" and d.action == "labeled")
        and not (d.event == "issue_comment" and not is_command(d.payload["comment"]["body"]))
    ]
    statuses = {d.id: d.status for d in recorded.deliveries}
    assert all(statuses[d.id] == 202 for d in relevant)
    assert all(s == 200 for i, s in statuses.items() if i not in {d.id for d in relevant})
    assert [e.delivery_id for e in recorded.events] == [d.id for d in relevant]
    for event, delivery in zip(recorded.events, relevant, strict=True):
        assert (event.kind, event.action) == (delivery.event, delivery.action)
        assert event.repo == "acme/requests"
        assert event.number == 1
    assert recorded.replay_statuses == [200] * len(recorded.deliveries)


@pytest.mark.parametrize("tamper", ["forged", "missing", "sha1-only", "altered"])
def test_tampered_deliveries_of_every_event_are_refused(recorded: Recorded, tamper: str) -> None:
    receiver = Receiver()
    for delivery in recorded.deliveries:
        body = json.dumps(delivery.payload).encode()
        if tamper == "forged":
            response = receiver.post(delivery.event, body, signature=sign(body, "guess"))
        elif tamper == "missing":
            response = receiver.post(delivery.event, body, signature=None)
        elif tamper == "sha1-only":
            response = receiver.post(
                delivery.event, body, signature=None, sha1_signature=sha1(body)
            )
        else:
            altered = json.loads(body)
            altered["repository"]["full_name"] = "evil/repo"
            response = receiver.post(
                delivery.event, json.dumps(altered).encode(), signature=sign(body)
            )
        assert response.status_code == 401, (delivery.event, delivery.action, tamper)
    assert receiver.drain() == []


def test_events_that_cannot_change_a_decision_are_not_queued(recorded: Recorded) -> None:
    receiver = Receiver()
    comment = next(d for d in recorded.deliveries if d.event == "issue_comment")
    on_issue = json.loads(json.dumps(comment.payload))
    del on_issue["issue"]["pull_request"]
    chatter = json.loads(json.dumps(comment.payload))
    chatter["comment"]["body"] = "I think > /sealgate bypass is fine, says someone"
    no_pull = check_run_rerequested()
    no_pull["check_run"]["pull_requests"] = []
    labeled = next(d for d in recorded.deliveries if d.action == "labeled")
    for event, payload in [
        ("issue_comment", on_issue),
        ("issue_comment", chatter),
        ("check_run", no_pull),
        ("pull_request", labeled.payload),
    ]:
        response = receiver.post(event, json.dumps(payload).encode())
        assert response.status_code == 200, event
    assert receiver.drain() == []
    command = json.loads(json.dumps(comment.payload))
    command["comment"]["body"] = "thanks\n/sealgate merge"
    assert receiver.post("issue_comment", json.dumps(command).encode()).status_code == 202
    assert [e.kind for e in receiver.drain()] == ["issue_comment"]


def test_oversized_bodies_are_refused_before_any_work() -> None:
    events: queue.Queue[WebhookEvent] = queue.Queue()
    client = Client(WebhookApp(SECRET, events, max_body=1024))
    body = json.dumps({**check_run_rerequested(), "padding": "x" * 2048}).encode()
    headers = {
        "X-GitHub-Event": "check_run",
        "X-GitHub-Delivery": "big",
        "X-Hub-Signature-256": sign(body),
        "Content-Type": "application/json",
    }
    assert client.post("/webhooks", data=body, headers=headers).status_code == 413
    assert events.empty()
