"""Who pushed: co-author trailers, the durable push ledger, and webhooks feeding it."""

from __future__ import annotations

import hashlib
import hmac
import json
import queue
from datetime import UTC, datetime
from pathlib import Path

from werkzeug.test import Client

from controller.github.pushes import PushLedger, co_authors
from controller.github.webhooks import WebhookEvent
from controller.model import Push
from controller.server.webhook_app import WebhookApp

SECRET = "ledger-test-secret"
AT = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


def test_co_authors_map_noreply_addresses_and_report_other_emails_as_unlinked() -> None:
    message = (
        "Rotate the key\n\n"
        "Co-authored-by: Alice <41+alice@users.noreply.github.com>\n"
        "co-authored-by: Bob <bob@users.noreply.github.com>\n"
        "Co-Authored-By: Mallory M. <mallory@evil.example>\n"
        "Not-a-trailer: Carol <9+carol@users.noreply.github.com>\n"
    )
    assert co_authors(message) == (("alice", "bob"), ("Mallory M.",))
    assert co_authors("no trailers") == ((), ())


def test_ledger_survives_a_new_instance_and_skips_a_torn_line(tmp_path: Path) -> None:
    ledger = PushLedger.in_store(tmp_path / "store")
    ledger.record("Acme/Requests", 7, Push("c1", "dev1", AT))
    ledger.record("acme/requests", 8, Push("c9", "bob", AT))
    with ledger.path.open("a", encoding="utf-8") as torn:
        torn.write('{"repo": "acme/requests", "number": 7, "sha"')  # a crash mid-write
    ledger.record("acme/requests", 7, Push("c2", "alice", AT))

    again = PushLedger(ledger.path)
    assert again.pushes("acme/requests", 7) == (
        Push("c1", "dev1", AT),
        Push("c2", "alice", AT),
    )
    assert again.pushes("acme/other", 7) == ()
    assert PushLedger(tmp_path / "missing.jsonl").pushes("acme/requests", 7) == ()


def _post(client: Client, action: str, sender: str, sha: str, delivery: str) -> int:
    body = json.dumps(
        {
            "action": action,
            "repository": {"full_name": "acme/requests"},
            "pull_request": {"number": 7, "head": {"sha": sha}},
            "sender": {"login": sender},
        }
    ).encode()
    signature = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    headers = {
        "X-GitHub-Event": "pull_request",
        "X-GitHub-Delivery": delivery,
        "X-Hub-Signature-256": signature,
        "Content-Type": "application/json",
    }
    return client.post("/webhooks", data=body, headers=headers).status_code


def test_webhook_senders_of_pushes_are_kept_before_the_delivery_is_acknowledged(
    tmp_path: Path,
) -> None:
    ledger = PushLedger(tmp_path / "pushes.jsonl")
    events: queue.Queue[WebhookEvent] = queue.Queue()
    client = Client(WebhookApp(SECRET, events, ledger=ledger))
    assert _post(client, "opened", "dev1", "c1", "d-1") == 202
    assert _post(client, "synchronize", "alice", "c2", "d-2") == 202
    assert _post(client, "edited", "carol", "c2", "d-3") == 202  # not a push
    assert _post(client, "synchronize", "alice", "c2", "d-2") == 200  # a redelivery
    kept = ledger.pushes("acme/requests", 7)
    assert [(p.sha, p.pusher) for p in kept] == [("c1", "dev1"), ("c2", "alice")]


def test_a_push_that_cannot_be_kept_is_refused_for_redelivery(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    ledger = PushLedger(blocker / "pushes.jsonl")
    events: queue.Queue[WebhookEvent] = queue.Queue()
    client = Client(WebhookApp(SECRET, events, ledger=ledger))
    assert _post(client, "synchronize", "alice", "c2", "d-1") == 503
    assert events.empty()
    blocker.unlink()
    assert _post(client, "synchronize", "alice", "c2", "d-1") == 202  # GitHub's redelivery
    assert [p.pusher for p in ledger.pushes("acme/requests", 7)] == ["alice"]
