"""Sealing, opening, fingerprints, envelope encryption: the pure crypto core."""

from __future__ import annotations

import base64
import re
import string

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from controller.crypto import (
    KEY_ID_PATTERN,
    AesGcmKek,
    KeySet,
    OpeningKey,
    check_sealed_values,
    fingerprint,
    new_key_id,
    public_key_text,
    seal,
)
from controller.crypto.envelope import (
    decrypt_value,
    encrypt_value,
    file_mac,
    mac_key,
    new_data_key,
    value_binding,
    verify_file_mac,
)
from controller.crypto.fingerprint import fingerprint_input
from controller.crypto.generate import generate_value
from controller.crypto.sealing import load_public_key
from controller.errors import IntegrityError, SealedValueError
from controller.model import Alphabet, GenerateSpec, SecretChange

ENV = "production"
SECRET = "payments/stripe"
KEY = "STRIPE_KEY"
VALUE = b"sk_live_example_value"
PLACE = {"environment": ENV, "secret": "ns/app", "key": "K"}


@pytest.fixture(scope="module")
def private_key() -> X25519PrivateKey:
    return X25519PrivateKey.generate()


def _keys(private_key: X25519PrivateKey, *, retired: bool = False) -> KeySet:
    return KeySet(
        {
            "production-2026-11-a1b2": OpeningKey(
                ENV, "production-2026-11-a1b2", private_key, retired
            )
        },
        {ENV: b"f" * 32},
    )


def _seal(
    private_key: X25519PrivateKey,
    value: bytes = VALUE,
    *,
    environment: str = ENV,
    secret: str = SECRET,
    key: str = KEY,
    key_id: str = "production-2026-11-a1b2",
) -> str:
    return seal(
        value,
        key_id=key_id,
        public_key=private_key.public_key(),
        environment=environment,
        secret=secret,
        key=key,
    )


def test_sealed_value_opens_only_where_it_was_sealed_for(private_key: X25519PrivateKey) -> None:
    sealed = _seal(private_key)
    assert sealed.startswith("sg1:production-2026-11-a1b2:")
    assert "=" not in sealed
    assert _keys(private_key).open(sealed, environment=ENV, secret=SECRET, key=KEY) == VALUE


@pytest.mark.parametrize(
    ("environment", "secret", "key"),
    [
        (ENV, SECRET, "OTHER_KEY"),
        (ENV, "payments/paypal", KEY),
        (ENV, "billing/stripe", KEY),
    ],
)
def test_sealed_value_moved_to_another_secret_or_key_fails_loudly(
    private_key: X25519PrivateKey, environment: str, secret: str, key: str
) -> None:
    sealed = _seal(private_key)
    with pytest.raises(SealedValueError) as caught:
        _keys(private_key).open(sealed, environment=environment, secret=secret, key=key)
    message = str(caught.value)
    assert "sealed for another environment, secret or key" in message
    assert secret in message
    assert key in message
    assert sealed not in message
    assert VALUE.decode() not in message


def test_sealed_value_moved_to_another_environment_fails(private_key: X25519PrivateKey) -> None:
    sealed = _seal(private_key)
    # Even when staging shares the same private key, the binding refuses the value.
    shared = KeySet(
        {"production-2026-11-a1b2": OpeningKey("staging", "production-2026-11-a1b2", private_key)},
        {},
    )
    with pytest.raises(SealedValueError, match="sealed for another"):
        shared.open(sealed, environment="staging", secret=SECRET, key=KEY)
    with pytest.raises(SealedValueError, match="not a sealing key of environment 'staging'"):
        _keys(private_key).open(sealed, environment="staging", secret=SECRET, key=KEY)


def test_unknown_retired_and_malformed_values_are_refused(private_key: X25519PrivateKey) -> None:
    with pytest.raises(SealedValueError, match="key id other-2026-11-ffff is not a sealing key"):
        _keys(private_key).open(
            _seal(private_key, key_id="other-2026-11-ffff"), environment=ENV, secret=SECRET, key=KEY
        )
    with pytest.raises(SealedValueError, match="is retired"):
        _keys(private_key, retired=True).open(
            _seal(private_key), environment=ENV, secret=SECRET, key=KEY
        )
    with pytest.raises(SealedValueError, match="not a sealed value"):
        _keys(private_key).open("hunter2", environment=ENV, secret=SECRET, key=KEY)
    with pytest.raises(SealedValueError, match="truncated"):
        _keys(private_key).open(
            "sg1:production-2026-11-a1b2:AAAA", environment=ENV, secret=SECRET, key=KEY
        )


def test_altered_payload_fails(private_key: X25519PrivateKey) -> None:
    prefix, kid, payload = _seal(private_key).split(":")
    raw = bytearray(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    raw[-1] ^= 1
    altered = f"{prefix}:{kid}:{base64.urlsafe_b64encode(bytes(raw)).decode()}"
    # Padding is tolerated (the schema allows it); the altered tag is not.
    with pytest.raises(SealedValueError, match="or it was altered"):
        _keys(private_key).open(altered, environment=ENV, secret=SECRET, key=KEY)


def test_binding_is_unambiguous(private_key: X25519PrivateKey) -> None:
    # "a/b" + "c" vs "a" + "b/c" must not collide.
    sealed = _seal(private_key, secret="ns/a-b", key="c")
    with pytest.raises(SealedValueError):
        _keys(private_key).open(sealed, environment=ENV, secret="ns/a", key="b-c")


@settings(max_examples=25, deadline=None)
@given(
    value=st.binary(min_size=0, max_size=2048),
    key=st.text(alphabet=string.ascii_letters + string.digits + "-._", min_size=1, max_size=40),
)
def test_round_trip_for_any_value_and_key(value: bytes, key: str) -> None:
    private_key = X25519PrivateKey.generate()
    sealed = _seal(private_key, value, key=key)
    assert _keys(private_key).open(sealed, environment=ENV, secret=SECRET, key=key) == value


def test_each_seal_is_fresh(private_key: X25519PrivateKey) -> None:
    assert _seal(private_key) != _seal(private_key)


def test_key_ids_are_short_dated_and_valid() -> None:
    from datetime import date

    key_id = new_key_id("Prod_EU", date(2026, 11, 3))
    assert KEY_ID_PATTERN.fullmatch(key_id)
    assert key_id.startswith("prod-eu-2026-11-")
    assert len({new_key_id("x", date(2026, 1, 1)) for _ in range(20)}) > 1
    with pytest.raises(SealedValueError, match="key id must match"):
        _seal(X25519PrivateKey.generate(), key_id="Bad_Id")


def test_public_key_text_round_trips_and_bad_text_is_named() -> None:
    private_key = X25519PrivateKey.generate()
    text = public_key_text(private_key)
    assert len(text) == 44
    assert text.endswith("=")
    sealed = seal(
        VALUE,
        key_id="k1",
        public_key=load_public_key(text, where="environments/production.yaml"),
        environment=ENV,
        secret=SECRET,
        key=KEY,
    )
    opener = KeySet({"k1": OpeningKey(ENV, "k1", private_key)}, {})
    assert opener.open(sealed, environment=ENV, secret=SECRET, key=KEY) == VALUE
    with pytest.raises(
        SealedValueError, match=re.escape("environments/production.yaml: publicKey")
    ):
        load_public_key("not base64!", where="environments/production.yaml")


def test_fingerprints_are_keyed_truncated_and_stable() -> None:
    first = fingerprint(b"k" * 32, VALUE, **PLACE)
    assert len(first) == 12
    assert all(c in "0123456789abcdef" for c in first)
    assert fingerprint(b"k" * 32, VALUE, **PLACE) == first
    assert fingerprint(b"j" * 32, VALUE, **PLACE) != first
    assert fingerprint(b"k" * 32, VALUE + b"x", **PLACE) != first


def test_opener_fingerprint_needs_the_environment_key(private_key: X25519PrivateKey) -> None:
    keys = _keys(private_key)
    assert keys.fingerprint(VALUE, environment=ENV, secret="ns/app", key="K") == fingerprint(
        b"f" * 32, VALUE, **PLACE
    )
    with pytest.raises(SealedValueError, match="no fingerprint key for environment 'staging'"):
        keys.fingerprint(VALUE, environment="staging", secret="ns/app", key="K")


def test_store_values_are_bound_to_environment_secret_key_and_version() -> None:
    data_key = new_data_key()
    ciphertext = encrypt_value(data_key, VALUE, value_binding(ENV, SECRET, KEY, 3))
    assert (
        decrypt_value(data_key, ciphertext, value_binding(ENV, SECRET, KEY, 3), where="f") == VALUE
    )
    for moved in (
        value_binding("staging", SECRET, KEY, 3),
        value_binding(ENV, "payments/other", KEY, 3),
        value_binding(ENV, SECRET, "OTHER", 3),
        value_binding(ENV, SECRET, KEY, 2),
    ):
        with pytest.raises(IntegrityError, match="fails authentication") as caught:
            decrypt_value(data_key, ciphertext, moved, where="production/payments/stripe.yaml")
        assert VALUE.decode() not in str(caught.value)
    with pytest.raises(IntegrityError):
        decrypt_value(new_data_key(), ciphertext, value_binding(ENV, SECRET, KEY, 3), where="f")


def test_file_mac_detects_any_change() -> None:
    key = mac_key(new_data_key())
    content = {"version": 2, "keys": {"A": "x", "B": "y"}}
    mac = file_mac(key, content)
    verify_file_mac(key, content, mac, where="f")
    for edited in (
        {"version": 1, "keys": {"A": "x", "B": "y"}},
        {"version": 2, "keys": {"A": "x"}},
    ):
        with pytest.raises(IntegrityError, match="file MAC does not match"):
            verify_file_mac(key, edited, mac, where="f")
    with pytest.raises(IntegrityError):
        verify_file_mac(key, content, "0" * 64, where="f")


def test_kek_wraps_with_associated_data() -> None:
    kek = AesGcmKek(b"k" * 32, key_id="test", source="memory")
    wrapped = kek.wrap(b"data key", b"production")
    assert kek.unwrap(wrapped, b"production") == b"data key"
    with pytest.raises(IntegrityError, match="wrapped key does not unwrap"):
        kek.unwrap(wrapped, b"staging")
    with pytest.raises(IntegrityError, match="wrapped key does not unwrap"):
        AesGcmKek(b"j" * 32, key_id="other", source="memory").unwrap(wrapped, b"production")
    with pytest.raises(IntegrityError, match="must be 32 bytes"):
        AesGcmKek(b"short", key_id="bad", source="memory")


@pytest.mark.parametrize(
    ("alphabet", "allowed"),
    [
        (Alphabet.ALPHANUMERIC, string.ascii_letters + string.digits),
        (Alphabet.URLSAFE, string.ascii_letters + string.digits + "-_"),
        (Alphabet.HEX, "0123456789abcdef"),
        (Alphabet.ASCII_PRINTABLE, "".join(chr(c) for c in range(0x21, 0x7F))),
    ],
)
def test_generated_values_use_the_alphabet_and_length(alphabet: Alphabet, allowed: str) -> None:
    value = generate_value(GenerateSpec(length=64, alphabet=alphabet)).decode()
    assert len(value) == 64
    assert set(value) <= set(allowed)
    assert generate_value(GenerateSpec(length=64, alphabet=alphabet)).decode() != value


def test_check_sealed_values_reports_every_failure_by_file_and_key(
    private_key: X25519PrivateKey,
) -> None:
    good = _seal(private_key)
    moved = _seal(private_key, key="OTHER")
    unknown = _seal(private_key, key_id="gone-2025-01-0000")
    change = SecretChange(
        name="rotate",
        environment=ENV,
        secret=SECRET,
        reason="rotate",
        set={KEY: good, "B": moved, "C": unknown},
        source="changes/production/rotate.yaml",
        document_index=1,
    )
    problems = check_sealed_values([change], _keys(private_key))
    assert [p.field for p in problems] == ["spec.set.B", "spec.set.C"]
    assert all(p.file == "changes/production/rotate.yaml" for p in problems)
    assert all(p.message.startswith("document 2: ") for p in problems)
    assert "sealed for another" in problems[0].message
    assert "gone-2025-01-0000 is not a sealing key" in problems[1].message
    rendered = "\n".join(str(p) for p in problems)
    for sealed in (good, moved, unknown):
        assert sealed not in rendered
    assert check_sealed_values([], _keys(private_key)) == []


def test_fingerprints_are_bound_to_secret_and_key_unambiguously() -> None:
    here = fingerprint(b"k" * 32, VALUE, **PLACE)
    assert fingerprint(b"k" * 32, VALUE, environment=ENV, secret="ns/other", key="K") != here
    assert fingerprint(b"k" * 32, VALUE, environment=ENV, secret="ns/app", key="K2") != here
    # Moving bytes between fields or into the value never reproduces another input.
    assert fingerprint_input(environment="a", secret="b/c", key="d", value=b"") != (
        fingerprint_input(environment="a", secret="b", key="c/d", value=b"")
    )
    assert fingerprint_input(environment="a", secret="b/c", key="d", value=b"x") != (
        fingerprint_input(environment="a", secret="b/c", key="dx", value=b"")
    )
