"""Signed webhook deliveries, sent from one background thread in the order they were raised.

Each delivery is recorded (payload, headers, the receiver's status) so tests can inspect and
replay it, as GitHub's "Recent Deliveries" page allows.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import queue
import threading
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, replace
from typing import Any

USER_AGENT = "GitHub-Hookshot/loopback"


@dataclass(frozen=True)
class Delivery:
    id: str
    event: str
    action: str | None
    payload: dict[str, Any]
    headers: dict[str, str]
    status: int | None


def signature(secret: str, body: bytes) -> str:
    """The `X-Hub-Signature-256` value GitHub computes for a body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def legacy_signature(secret: str, body: bytes) -> str:
    """The HMAC-SHA1 `X-Hub-Signature` GitHub still sends beside the SHA-256 one."""
    return "sha1=" + hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()


class WebhookSender:
    """Queues deliveries and posts them to the configured URL on a daemon thread."""

    def __init__(self, timeout: float = 10.0) -> None:
        self._timeout = timeout
        self._lock = threading.Lock()
        self._url: str | None = None
        self._secret: str = ""
        self._records: list[Delivery] = []
        self._queue: queue.Queue[tuple[str, bytes] | None] = queue.Queue()
        self._thread: threading.Thread | None = None

    def configure(self, url: str, secret: str) -> None:
        with self._lock:
            self._url = url
            self._secret = secret

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="webhooks", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=self._timeout + 1)
            self._thread = None

    @property
    def deliveries(self) -> list[Delivery]:
        with self._lock:
            return list(self._records)

    def emit(self, event: str, payload: dict[str, Any]) -> None:
        """Record and queue one delivery; silently nothing when no webhook is configured."""
        with self._lock:
            url, secret = self._url, self._secret
        if url is None:
            return
        body = json.dumps(payload).encode()
        delivery_id = str(uuid.uuid4())
        repository = payload.get("repository")
        target = repository.get("id") if isinstance(repository, dict) else None
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "X-GitHub-Event": event,
            "X-GitHub-Delivery": delivery_id,
            "X-GitHub-Hook-ID": "1",
            "X-GitHub-Hook-Installation-Target-Type": "repository",
            # GitHub names the hook's owner by id; this loopback's hooks are repository hooks.
            "X-GitHub-Hook-Installation-Target-ID": str(target if target is not None else 0),
            "X-Hub-Signature": legacy_signature(secret, body),
            "X-Hub-Signature-256": signature(secret, body),
        }
        action = payload.get("action")
        record = Delivery(
            delivery_id, event, action if isinstance(action, str) else None, payload, headers, None
        )
        with self._lock:
            self._records.append(record)
        self._queue.put((delivery_id, body))

    def redeliver(self, delivery_id: str) -> None:
        """Send a recorded delivery again: same id, same body, same signature (a replay)."""
        with self._lock:
            found = [d for d in self._records if d.id == delivery_id]
        if not found:
            raise KeyError(delivery_id)
        self._queue.put((delivery_id, json.dumps(found[0].payload).encode()))

    def wait(self, timeout: float = 10.0) -> bool:
        """Block until every queued delivery was attempted; False on timeout."""
        done = threading.Event()

        def waiter() -> None:
            self._queue.join()
            done.set()

        threading.Thread(target=waiter, daemon=True).start()
        return done.wait(timeout)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            try:
                if item is None:
                    return
                self._send(*item)
            finally:
                self._queue.task_done()

    def _send(self, delivery_id: str, body: bytes) -> None:
        with self._lock:
            url = self._url
            record = next((d for d in self._records if d.id == delivery_id), None)
        if url is None or record is None:
            return
        if not url.startswith(("http://", "https://")):
            return
        # The scheme was checked just above; the URL is the receiver the operator configured.
        request = urllib.request.Request(  # noqa: S310
            url, data=body, headers=record.headers, method="POST"
        )
        status: int | None
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as response:  # noqa: S310
                status = int(response.status)
        except urllib.error.HTTPError as exc:
            status = exc.code
        except OSError:
            status = None
        with self._lock:
            self._records = [
                replace(d, status=status) if d.id == delivery_id else d for d in self._records
            ]
