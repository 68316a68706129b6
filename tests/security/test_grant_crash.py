"""A crash at every step of a grant write leaves the old state or the new one, a store that
verifies, and a replay that records the change exactly once.

The write runs in a child process with ``SEALGATE_CRASHPOINT`` naming the step to die at
(``os._exit(137)``, like a kill -9); the parent reopens the store, checks it, and replays.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from controller.crashpoint import CRASHPOINT_VARIABLE, GRANT_STEPS
from controller.keyring import KEK_FILE_NAME, Keyring, LocalKekFile
from controller.model import AccessDelivery, Grant, SecretAccess
from controller.store import Store

ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)

CHILD = """
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from controller.keyring import KEK_FILE_NAME, Keyring, LocalKekFile
from controller.model import AccessDelivery, Grant, SecretAccess
from controller.store import Store

store_dir, key_dir, operation = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
t0 = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)
kek = LocalKekFile(key_dir / KEK_FILE_NAME)
with Store(store_dir, kek, Keyring(key_dir, kek)) as store:
    if operation == "record":
        grant = Grant(
            id="production-pr-9-crash", environment="production", repo="acme/requests",
            pull_request=9, request_id="crash", requester="dana",
            secrets=(SecretAccess("payments/db"),), deliver=frozenset({AccessDelivery.OPEN}),
            approvers=("erin",), approved_at=t0, duration=timedelta(hours=1),
            activate_by=t0 + timedelta(hours=2),
        )
        store.record_grant(grant, actor="sealgate", origin=None)
    else:
        store.revoke_grant(
            "production-pr-8-base", at=t0 + timedelta(minutes=1), actor="ops", reason="r"
        )
print("done")
"""


def _base_grant() -> Grant:
    return Grant(
        id="production-pr-8-base",
        environment="production",
        repo="acme/requests",
        pull_request=8,
        request_id="base",
        requester="dana",
        secrets=(SecretAccess("payments/db"),),
        deliver=frozenset({AccessDelivery.OPEN}),
        approvers=("erin",),
        approved_at=T0,
        duration=timedelta(hours=1),
        activate_by=T0 + timedelta(hours=2),
    )


def _child(store_dir: Path, key_dir: Path, operation: str, crash: str | None) -> int:
    env = {k: v for k, v in os.environ.items() if k != CRASHPOINT_VARIABLE}
    if crash is not None:
        env[CRASHPOINT_VARIABLE] = crash
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(store_dir), str(key_dir), operation],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    return done.returncode


@pytest.mark.parametrize("operation", ["record", "revoke"])
@pytest.mark.parametrize("step", GRANT_STEPS)
def test_a_crash_at_any_step_leaves_one_state_and_a_replay_lands_once(
    tmp_path: Path, step: str, operation: str
) -> None:
    key_dir, store_dir = tmp_path / "keys", tmp_path / "store"
    kek = LocalKekFile(key_dir / KEK_FILE_NAME, create=True)
    keyring = Keyring(key_dir, kek)
    with Store(store_dir, kek, keyring) as store:
        store.record_grant(_base_grant(), actor="sealgate", origin=None)

    assert _child(store_dir, key_dir, operation, step) == 137

    landed = step == "grant:ref-updated"
    with Store(store_dir, kek, keyring) as store:
        report = store.audit_verify()
        assert report.ok, report.problems
        events = [r.event for r in store.audit_records()]
        assert len(events) == (2 if landed else 1)
        if operation == "record":
            assert (store.grant("production-pr-9-crash") is not None) is landed
        else:
            base = store.grant("production-pr-8-base")
            assert base is not None
            assert (base.revoked_at is not None) is landed

    assert _child(store_dir, key_dir, operation, None) == 0
    with Store(store_dir, kek, keyring) as store:
        assert store.audit_verify().ok
        events = [r.event for r in store.audit_records()]
        wanted = "grant-approved" if operation == "record" else "grant-revoked"
        assert events.count(wanted) == (2 if operation == "record" else 1)
        assert len(events) == 2
