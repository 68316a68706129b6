"""Store figures: apply cost against store size, full read, and opening sealed values.

``store_apply_ms_100`` / ``store_apply_ms_10000``: median wall time of applying one change
(one sealed value into an existing secret) to a store of 100 and of 10,000 secrets; O(touched)
means their ratio stays close to 1. ``store_read_10000_s``: ``Store.read`` of an environment
of 10,000 secrets (every file verified and decrypted). ``open_vs_raw_aesgcm_ratio``: opening
10,000 sealed values (X25519 + HKDF + AES-GCM) against raw AES-GCM decryption of the same
sizes, measured in the same run.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from controller.crypto import load_public_key, seal
from controller.crypto.sealing import binding
from controller.keyring import KEK_FILE_NAME, Keyring, LocalKekFile
from controller.model import GenerateSpec, SecretChange
from controller.store import ApprovalRecord, Store

ENV = "production"
APPLY_REPEATS = 15
OPEN_COUNT = 10_000
VALUE_BYTES = 32


def _record(change_id: str) -> ApprovalRecord:
    return ApprovalRecord(change_id, 1, "b" * 40, ("alice",), "bob")


def _seal(keyring: Keyring, secret: str, key: str, value: bytes) -> str:
    info = keyring.list_keys(ENV)[0]
    return seal(
        value,
        key_id=info.key_id,
        public_key=load_public_key(info.public_key, where="bench"),
        environment=ENV,
        secret=secret,
        key=key,
    )


def _populate(store: Store, secrets: int) -> list[str]:
    """One apply of ``secrets`` generated secrets, spread over ~sqrt(n) namespaces."""
    per_namespace = max(1, int(secrets**0.5))
    names = [f"ns{i // per_namespace:03d}/app{i % per_namespace:03d}" for i in range(secrets)]
    changes = [
        SecretChange(
            name="seed",
            environment=ENV,
            secret=name,
            reason="bench",
            generate={"PASSWORD": GenerateSpec(24), "TOKEN": GenerateSpec(40)},
        )
        for name in names
    ]
    store.apply("seed", changes, _record("seed"))
    return names


def _apply_once(store: Store, keyring: Keyring, names: list[str], round_number: int) -> float:
    secret = names[(round_number * 7919) % len(names)]
    sealed = _seal(keyring, secret, "PASSWORD", os.urandom(16).hex().encode())
    change = SecretChange(
        name="bench", environment=ENV, secret=secret, reason="bench", set={"PASSWORD": sealed}
    )
    change_id = f"bench-{round_number}"
    started = time.perf_counter()
    store.apply(change_id, [change], _record(change_id))
    return (time.perf_counter() - started) * 1000


def _store_figures(root: Path, keyring: Keyring, kek: LocalKekFile) -> dict[str, float]:
    sizes = (100, 10_000)
    stores = {size: Store(root / f"store-{size}", kek, keyring) for size in sizes}
    try:
        names = {size: _populate(stores[size], size) for size in sizes}
        samples: dict[int, list[float]] = {size: [] for size in sizes}
        # Interleaved, so load from other processes on a shared machine hits both alike.
        for round_number in range(APPLY_REPEATS):
            for size in sizes:
                samples[size].append(_apply_once(stores[size], keyring, names[size], round_number))
        started = time.perf_counter()
        data = stores[10_000].read(ENV)
        read_s = time.perf_counter() - started
        assert len(data) == 10_000
    finally:
        for store in stores.values():
            store.close()
    figures = {f"store_apply_ms_{size}": statistics.median(samples[size]) for size in sizes}
    figures["store_read_10000_s"] = read_s
    figures["store_apply_ratio_10000_vs_100"] = (
        figures["store_apply_ms_10000"] / figures["store_apply_ms_100"]
    )
    return figures


def _open_figures(keyring: Keyring) -> dict[str, float]:
    keys = keyring.key_set()
    secret, key = "payments/stripe", "API_KEY"
    values = [os.urandom(VALUE_BYTES) for _ in range(OPEN_COUNT)]
    sealed = [_seal(keyring, secret, key, value) for value in values]

    started = time.perf_counter()
    for item in sealed:
        keys.open(item, environment=ENV, secret=secret, key=key)
    open_s = time.perf_counter() - started

    aad = binding(ENV, secret, key)
    raw_key = AESGCM.generate_key(bit_length=256)
    nonces = [os.urandom(12) for _ in values]
    ciphertexts = [AESGCM(raw_key).encrypt(n, v, aad) for n, v in zip(nonces, values, strict=True)]
    started = time.perf_counter()
    for nonce, ciphertext in zip(nonces, ciphertexts, strict=True):
        AESGCM(raw_key).decrypt(nonce, ciphertext, aad)
    raw_s = time.perf_counter() - started
    return {
        "open_10000_sealed_s": open_s,
        "raw_aesgcm_10000_s": raw_s,
        "open_vs_raw_aesgcm_ratio": open_s / raw_s,
    }


def run() -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="sealgate-bench-") as directory:
        root = Path(directory)
        kek = LocalKekFile(root / "keys" / KEK_FILE_NAME, create=True)
        keyring = Keyring(root / "keys", kek)
        keyring.init(ENV)
        return {**_store_figures(root, keyring, kek), **_open_figures(keyring)}
