"""Caller boxes: what the controller seals to a caller's fresh key opens only with that key,
for that grant, secret and request, and unaltered."""

from __future__ import annotations

import base64

import pytest

from controller.crypto.caller_box import (
    caller_public_text,
    load_caller_key,
    new_caller_key,
    new_request_nonce,
    open_for_caller,
    seal_for_caller,
)
from controller.errors import SealedValueError

VALUES = {"API_KEY": b"sk_live_CANARY_1", "BINARY": bytes(range(256))}
BIND = {
    "grant_id": "production-pr-7-incident",
    "environment": "production",
    "secret": "payments/stripe",
    "nonce": "bm9uY2Utbm9uY2Utbm9uY2U",
}


def _sealed() -> tuple[object, str]:
    key = new_caller_key()
    public = load_caller_key(caller_public_text(key))
    return key, seal_for_caller(VALUES, public, **BIND)


def test_round_trip() -> None:
    key, box = _sealed()
    assert box.startswith("sgc1:")
    assert "CANARY" not in box
    assert open_for_caller(box, key, **BIND) == VALUES  # type: ignore[arg-type]


def test_wrong_key_does_not_open() -> None:
    _key, box = _sealed()
    with pytest.raises(SealedValueError) as caught:
        open_for_caller(box, new_caller_key(), **BIND)
    assert "CANARY" not in str(caught.value)


@pytest.mark.parametrize("field", sorted(BIND))
def test_wrong_binding_does_not_open(field: str) -> None:
    key, box = _sealed()
    moved = {**BIND, field: BIND[field] + "x"}
    with pytest.raises(SealedValueError, match="does not open"):
        open_for_caller(box, key, **moved)  # type: ignore[arg-type]


@pytest.mark.parametrize("position", [0, 31, 32, 44, 60, -1])
def test_tampered_box_does_not_open(position: int) -> None:
    key, box = _sealed()
    encoded = box.removeprefix("sgc1:")
    raw = bytearray(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)))
    raw[position] ^= 0x01
    tampered = "sgc1:" + base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("=")
    with pytest.raises(SealedValueError):
        open_for_caller(tampered, key, **BIND)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "box", ["", "sgc1:", "sg1:key:AAAA", "sgc1:AAAA", "sgc1:" + "A" * 80 + "!", "sgc2:AAAA"]
)
def test_malformed_box_is_refused_by_name(box: str) -> None:
    with pytest.raises(SealedValueError) as caught:
        open_for_caller(box, new_caller_key(), **BIND)
    assert "controller answer" in str(caught.value)


@pytest.mark.parametrize("text", ["", "not base64!", base64.b64encode(b"short").decode()])
def test_bad_public_key_names_the_field(text: str) -> None:
    with pytest.raises(SealedValueError, match="publicKey"):
        load_caller_key(text)


def test_each_box_and_nonce_is_fresh() -> None:
    key = new_caller_key()
    public = key.public_key()
    assert seal_for_caller(VALUES, public, **BIND) != seal_for_caller(VALUES, public, **BIND)
    assert new_request_nonce() != new_request_nonce()
    assert caller_public_text(key) != caller_public_text(new_caller_key())


def test_empty_set_of_values_round_trips() -> None:
    key = new_caller_key()
    box = seal_for_caller({}, key.public_key(), **BIND)
    assert open_for_caller(box, key, **BIND) == {}
