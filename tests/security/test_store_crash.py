"""A crash at every step of ``apply`` leaves a store that verifies and, re-run, holds the
change exactly once.

The apply runs in a child process with ``SEALGATE_CRASHPOINT`` naming the step to die at
(``os._exit(137)``: no cleanup, like a kill -9 or a power cut); the parent then reopens the
store, verifies it and re-runs the same apply.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from controller.crypto import load_public_key, seal
from controller.keyring import KEK_FILE_NAME, Keyring, LocalKekFile
from controller.model import GenerateSpec, SecretChange
from controller.store import APPLY_STEPS, CRASHPOINT_VARIABLE, ApprovalRecord, Store

ROOT = Path(__file__).resolve().parents[2]
ENV = "production"

CHILD = """
import json, sys
from pathlib import Path
from controller.keyring import KEK_FILE_NAME, Keyring, LocalKekFile
from controller.model import GenerateSpec, SecretChange
from controller.store import ApprovalRecord, Store

store_dir, key_dir, spec_file = (Path(a) for a in sys.argv[1:4])
spec = json.loads(spec_file.read_text())
kek = LocalKekFile(key_dir / KEK_FILE_NAME)
changes = [
    SecretChange(
        name="c", environment=c["environment"], secret=c["secret"], reason="r",
        set=c["set"], generate={k: GenerateSpec(v) for k, v in c["generate"].items()},
        base_version=c["base_version"],
    )
    for c in spec["changes"]
]
record = ApprovalRecord(spec["change_id"], 5, "e" * 40, ("alice",), "bob")
with Store(store_dir, kek, Keyring(key_dir, kek)) as store:
    store.apply(spec["change_id"], changes, record)
print("applied")
"""


def _changes(keyring: Keyring) -> list[dict[str, object]]:
    info = keyring.list_keys(ENV)[0]
    sealed = seal(
        b"new-value",
        key_id=info.key_id,
        public_key=load_public_key(info.public_key, where="test"),
        environment=ENV,
        secret="payments/stripe",
        key="A",
    )
    return [
        {
            "environment": ENV,
            "secret": "payments/stripe",
            "set": {"A": sealed},
            "generate": {},
            "base_version": 1,
        },
        {
            "environment": ENV,
            "secret": "payments/paypal",
            "set": {},
            "generate": {"TOKEN": 20},
            "base_version": None,
        },
    ]


def _to_changes(spec: list[dict[str, object]]) -> list[SecretChange]:
    changes = []
    for c in spec:
        generate = c["generate"]
        assert isinstance(generate, dict)
        changes.append(
            SecretChange(
                name="c",
                environment=str(c["environment"]),
                secret=str(c["secret"]),
                reason="r",
                set=c["set"],  # type: ignore[arg-type]
                generate={k: GenerateSpec(v) for k, v in generate.items()},
                base_version=c["base_version"],  # type: ignore[arg-type]
            )
        )
    return changes


def _git(path: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(path), *args], check=True, capture_output=True, text=True
    ).stdout


@pytest.mark.parametrize(
    ("step", "leave_ref_lock"),
    [(step, False) for step in APPLY_STEPS] + [("apply:commit-written", True)],
    ids=[*APPLY_STEPS, "apply:commit-written+ref-lock"],
)
def test_crash_at_every_step_of_apply(tmp_path: Path, step: str, leave_ref_lock: bool) -> None:
    key_dir, store_dir = tmp_path / "keys", tmp_path / "store"
    kek = LocalKekFile(key_dir / KEK_FILE_NAME, create=True)
    keyring = Keyring(key_dir, kek)
    keyring.init(ENV)
    info = keyring.list_keys(ENV)[0]
    first = seal(
        b"old-value",
        key_id=info.key_id,
        public_key=load_public_key(info.public_key, where="test"),
        environment=ENV,
        secret="payments/stripe",
        key="A",
    )
    with Store(store_dir, kek, keyring) as store:
        store.apply(
            "c0",
            [
                SecretChange(
                    name="c",
                    environment=ENV,
                    secret="payments/stripe",
                    reason="r",
                    set={"A": first},
                )
            ],
            ApprovalRecord("c0", 4, "d" * 40, ("alice",), "bob"),
        )
    change_specs = _changes(keyring)
    spec = {"change_id": "c1", "changes": change_specs}
    spec_file = tmp_path / "spec.json"
    spec_file.write_text(json.dumps(spec))

    child = subprocess.run(
        [sys.executable, "-c", CHILD, str(store_dir), str(key_dir), str(spec_file)],
        cwd=ROOT,
        env={**os.environ, CRASHPOINT_VARIABLE: step},
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert child.returncode == 137, child.stderr
    assert "applied" not in child.stdout
    if leave_ref_lock:
        # As if update-ref was killed after taking its lock, before renaming it in place.
        (store_dir / "refs" / "heads" / "main.lock").write_text("0" * 40 + "\n")

    with Store(store_dir, kek, keyring) as store:
        report = store.audit_verify()
        assert report.ok, report.problems
        published = step == "apply:ref-updated"
        assert (store.is_applied("c1") is not None) is published
        stripe = store.read_secret(ENV, "payments/stripe")
        assert stripe is not None
        assert (stripe.version, stripe.data["A"]) == (
            (2, b"new-value") if published else (1, b"old-value")
        )

        result = store.apply(
            "c1", _to_changes(change_specs), ApprovalRecord("c1", 5, "e" * 40, ("alice",), "bob")
        )
        assert result.already_applied is published
        assert dict(result.versions) == {
            "production/payments/paypal": 1,
            "production/payments/stripe": 2,
        }
        assert store.audit_verify().ok
        stripe = store.read_secret(ENV, "payments/stripe")
        paypal = store.read_secret(ENV, "payments/paypal")
        assert stripe is not None
        assert paypal is not None
        assert (stripe.version, stripe.data["A"]) == (2, b"new-value")
        assert (paypal.version, len(paypal.data["TOKEN"])) == (1, 20)
        applies = [r.fields["changeId"] for r in store.audit_records() if r.event == "apply"]
        assert applies == ["c0", "c1"]
    commits = _git(store_dir, "log", "--format=%(trailers:key=Change-Id,valueonly)", "main").split()
    assert commits == ["c1", "c0"]
    assert not (store_dir / "refs" / "heads" / "main.lock").exists()
    _git(store_dir, "fsck", "--strict")
