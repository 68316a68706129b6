"""The bodies of the agents API, shaped or refused: a message names the field, never a value.

What an AccessRequest file would refuse (a duration's form, a reason that looks like a
credential, a secret the store lacks) is left to the judging (422, messages as for files);
here only what cannot become a file at all is refused (400).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Request

from controller.crypto.caller_box import REQUEST_NONCE, load_caller_key, new_request_nonce
from controller.errors import SealedValueError
from controller.model import SecretAccess
from controller.reconciler.agent_requests import AgentAsk

MAX_BODY_BYTES = 16 * 1024
MAX_SECRETS = 64
MAX_KEYS = 256
MAX_REASON = 4096
DEFAULT_ACTIVATE_WITHIN = "1h"
ENVIRONMENT = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
SECRET = re.compile(r"[a-z0-9][a-z0-9.-]{0,252}/[a-z0-9][a-z0-9.-]{0,252}")
KEY = re.compile(r"[-._a-zA-Z0-9]{1,253}")
CLUSTER = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")
_DURATION = re.compile(r"[0-9a-z]{1,16}")
_ASK_FIELDS = frozenset(
    {"environment", "secrets", "reason", "duration", "activateWithin", "cluster"}
)
_OPEN_FIELDS = frozenset({"publicKey", "keys", "nonce", "secret"})


class BadBody(Exception):
    """Not a valid body; the message names the field, never a value."""


@dataclass(frozen=True, slots=True)
class ParsedAsk:
    ask: AgentAsk
    cluster: str | None


@dataclass(frozen=True, slots=True)
class ParsedOpen:
    public_key: X25519PublicKey
    keys: tuple[str, ...]
    nonce: str
    secret: str | None


def _object(request: Request, fields: frozenset[str], want: str) -> dict[str, Any]:
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise BadBody(f"the body is larger than {MAX_BODY_BYTES} bytes")
    request.max_content_length = MAX_BODY_BYTES  # a chunked body carries no length
    try:
        raw = request.get_data(cache=False)
    except RequestEntityTooLarge as exc:
        raise BadBody(f"the body is larger than {MAX_BODY_BYTES} bytes") from exc
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise BadBody(f"the body is not JSON; send {want}") from exc
    if not isinstance(body, dict):
        raise BadBody(f"the body must be a JSON object {want}")
    if set(body) - fields:
        # Not named: a misplaced field may be anything, a pasted value included.
        raise BadBody(f"unknown field(s), not shown; allowed: {', '.join(sorted(fields))}")
    return body


def _text(body: Mapping[str, Any], field: str, pattern: re.Pattern[str], want: str) -> str:
    value = body.get(field)
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise BadBody(f"{field}: required, {want} (the value given is not shown)")
    return value


def _keys(value: Any, field: str) -> tuple[str, ...]:
    if not isinstance(value, list) or len(value) > MAX_KEYS:
        raise BadBody(f"{field}: must be a list of at most {MAX_KEYS} key names")
    for key in value:
        if not isinstance(key, str) or not KEY.fullmatch(key):
            raise BadBody(f"{field}: each must match [-._a-zA-Z0-9]+ (the key is not shown)")
    return tuple(dict.fromkeys(value))


def parse_ask(request: Request) -> ParsedAsk:
    want = "{environment, secrets: [{secret, keys?}], reason, duration, activateWithin?}"
    body = _object(request, _ASK_FIELDS, want)
    environment = _text(body, "environment", ENVIRONMENT, "an environment name")
    items = body.get("secrets")
    if not isinstance(items, list) or not 1 <= len(items) <= MAX_SECRETS:
        raise BadBody(f"secrets: required, a list of 1 to {MAX_SECRETS} {{secret, keys?}}")
    secrets = []
    for position, item in enumerate(items):
        if not isinstance(item, dict) or set(item) - {"secret", "keys"}:
            raise BadBody(f"secrets[{position}]: must be an object {{secret, keys?}}")
        name = _text(item, "secret", SECRET, "<namespace>/<name>, e.g. payments/stripe")
        secrets.append(SecretAccess(name, _keys(item.get("keys", []), f"secrets[{position}].keys")))
    reason = body.get("reason")
    if not isinstance(reason, str) or not reason.strip() or len(reason) > MAX_REASON:
        raise BadBody(f"reason: required, why access is needed (at most {MAX_REASON} characters)")
    duration = _text(body, "duration", _DURATION, "a duration such as 5m or 2h")
    activate = body.get("activateWithin", DEFAULT_ACTIVATE_WITHIN)
    if not isinstance(activate, str) or not _DURATION.fullmatch(activate):
        raise BadBody("activateWithin: a duration such as 1h (the value given is not shown)")
    cluster = body.get("cluster")
    if cluster is not None and (not isinstance(cluster, str) or not CLUSTER.fullmatch(cluster)):
        raise BadBody("cluster: a cluster name of the controller's configuration")
    ask = AgentAsk(environment, tuple(secrets), reason, duration, activate)
    return ParsedAsk(ask, cluster)


def parse_open(request: Request) -> ParsedOpen:
    body = _object(request, _OPEN_FIELDS, "{publicKey, keys?, nonce?, secret?}")
    public_text = body.get("publicKey")
    if not isinstance(public_text, str):
        raise BadBody("publicKey: required, standard base64 of a fresh 32-byte X25519 key")
    try:
        public_key = load_caller_key(public_text)
    except SealedValueError as exc:
        raise BadBody("publicKey: must be standard base64 of a 32-byte X25519 key") from exc
    nonce = body.get("nonce")
    if nonce is None:
        nonce = new_request_nonce()
    elif not isinstance(nonce, str) or not REQUEST_NONCE.fullmatch(nonce):
        raise BadBody("nonce: must be 16 to 128 url-safe base64 characters")
    secret = body.get("secret")
    if secret is not None:
        secret = _text(body, "secret", SECRET, "<namespace>/<name> of the request")
    return ParsedOpen(public_key, _keys(body.get("keys", []), "keys"), nonce, secret)


def parse_wait(text: str | None, max_wait_s: float) -> float:
    """``?wait=30s`` (or plain seconds) capped by ``max_wait_s``; 0 without one."""
    if not text:
        return 0.0
    match = re.fullmatch(r"([0-9]{1,5})(s|m)?", text)
    if match is None:
        raise BadBody("wait: a duration such as 30s")
    seconds = int(match.group(1)) * (60 if match.group(2) == "m" else 1)
    return float(min(seconds, max_wait_s))
