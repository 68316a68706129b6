"""``POST /webhooks``: verify, de-duplicate, enqueue, answer 202. Never evaluates inline.

GitHub gives a receiver ten seconds and retries nothing on its own; work done inside the
request would also let anyone who can reach the endpoint make the controller spend its
rate limit. So the handler does only cheap checks in order of cost:

1. the body is read whole (bounded at GitHub's 25 MB cap) and its ``X-Hub-Signature-256``
   is checked in constant time; a request carrying only the SHA-1 ``X-Hub-Signature`` is
   refused like an unsigned one;
2. the delivery id is recorded (only after the signature holds, so forged requests cannot
   poison the record) and a repeat is answered 200 without queueing;
3. the event is parsed into a :class:`WebhookEvent`; a push to a pull request (``opened``,
   ``reopened``, ``synchronize``) has its sender, the pusher as GitHub knows it, appended
   durably to the push ledger before it is acknowledged; then it is put on the queue.

Answers: 202 queued, 200 duplicate or irrelevant, 400 malformed, 401 bad signature,
503 queue full (the delivery id is forgotten, so GitHub's redelivery is accepted later).
"""

from __future__ import annotations

import json
import logging
import queue
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Request, Response

from controller.errors import StoreError
from controller.github.pushes import PushLedger
from controller.github.webhooks import (
    DELIVERY_HEADER,
    EVENT_HEADER,
    LEGACY_SIGNATURE_HEADER,
    SIGNATURE_HEADER,
    DeliveryLog,
    MalformedPayload,
    WebhookEvent,
    parse_event,
    verify_signature,
)
from controller.model import Push

MAX_BODY_BYTES = 25 * 1024 * 1024
PUSH_ACTIONS = frozenset({"opened", "reopened", "synchronize"})
PATH = "/webhooks"

log = logging.getLogger(__name__)


def _json(status: int, message: str) -> Response:
    return Response(
        json.dumps({"message": message}) + "\n", status=status, mimetype="application/json"
    )


def _payload(request: Request, body: bytes) -> Any:
    """The JSON payload; GitHub can also send it form-encoded as ``payload=<json>``."""
    if request.mimetype == "application/x-www-form-urlencoded":
        fields = parse_qs(body.decode("utf-8"), strict_parsing=True)
        return json.loads(fields["payload"][0])
    return json.loads(body)


class WebhookApp:
    """A WSGI application. Refuses to exist without a secret: unsigned hooks are unsafe."""

    def __init__(
        self,
        secret: str | bytes,
        events: queue.Queue[WebhookEvent],
        *,
        deliveries: DeliveryLog | None = None,
        max_body: int = MAX_BODY_BYTES,
        ledger: PushLedger | None = None,
    ) -> None:
        key = secret.encode() if isinstance(secret, str) else bytes(secret)
        if not key.strip():
            raise ValueError(
                "a webhook secret is required: set the same secret on the GitHub webhook "
                "or App and in sealgate's configuration"
            )
        self._secret = key
        self._events = events
        self._deliveries = deliveries or DeliveryLog()
        self._max_body = max_body
        self._ledger = ledger

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        request = Request(environ)
        request.max_content_length = self._max_body
        response = self.handle(request)
        result: Iterable[bytes] = response(environ, start_response)
        return result

    def handle(self, request: Request) -> Response:
        received_at = time.monotonic()
        if request.path != PATH:
            return _json(404, "not found")
        if request.method != "POST":
            response = _json(405, "use POST")
            response.headers["Allow"] = "POST"
            return response
        try:
            body = request.get_data(cache=False)
        except RequestEntityTooLarge:
            return _json(413, "payload too large")

        signature = request.headers.get(SIGNATURE_HEADER)
        if signature is None and request.headers.get(LEGACY_SIGNATURE_HEADER):
            log.warning("refused a webhook signed only with SHA-1 from %s", request.remote_addr)
            return _json(401, f"{SIGNATURE_HEADER} is required; SHA-1 signatures are refused")
        if not verify_signature(self._secret, body, signature):
            log.warning("refused a webhook with a bad signature from %s", request.remote_addr)
            return _json(401, "signature does not match")

        kind = request.headers.get(EVENT_HEADER, "")
        delivery_id = request.headers.get(DELIVERY_HEADER, "")
        if not kind or not delivery_id:
            return _json(400, f"{EVENT_HEADER} and {DELIVERY_HEADER} are required")
        try:
            event = parse_event(kind, delivery_id, _payload(request, body), received_at=received_at)
        except (MalformedPayload, ValueError, KeyError) as exc:
            return _json(400, f"malformed {kind} payload: {exc}")

        if not self._deliveries.first_time(delivery_id):
            return _json(200, "duplicate delivery ignored")
        if event is None:
            return _json(200, f"{kind} noted; nothing to evaluate")
        if not self._record_push(event):
            self._deliveries.forget(delivery_id)
            return _json(503, "could not record the push; redeliver later")
        try:
            self._events.put_nowait(event)
        except queue.Full:
            self._deliveries.forget(delivery_id)
            log.warning("webhook queue full; refused delivery %s", delivery_id)
            return _json(503, "busy; redeliver later")
        return _json(202, "queued")

    def _record_push(self, event: WebhookEvent) -> bool:
        """Keep who pushed; False when it could not be kept (GitHub redelivers)."""
        if (
            self._ledger is None
            or event.kind != "pull_request"
            or event.action not in PUSH_ACTIONS
            or not event.sender
            or not event.head_sha
        ):
            return True
        # The receipt time is no earlier than the push: commands made before it are voided,
        # which errs on the side of asking for a fresh one.
        # GitHub's own times have one-second precision; so does the ledger's, so a command is
        # compared with the push the same way whichever source reported it.
        received = datetime.now(UTC).replace(microsecond=0)
        push = Push(sha=event.head_sha, pusher=event.sender, pushed_at=received)
        try:
            self._ledger.record(event.repo, event.number, push)
        except StoreError:
            log.exception("could not record the push of %s#%d", event.repo, event.number)
            return False
        return True
