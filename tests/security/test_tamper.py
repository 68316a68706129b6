"""Every tamper and binding case fails loudly: store files, data keys, audit log, KEK.

The attacker here can write the store's git repository (commit whatever they like, even
copying the trailers of the real head) but does not hold the key-encryption key.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from controller.crypto import load_public_key, seal
from controller.errors import IntegrityError
from controller.keyring import KEK_FILE_NAME, Keyring, LocalKekFile
from controller.model import SecretChange
from controller.store import ApprovalRecord, Store
from controller.store.gitobjects import GitObjects

STRIPE = "production/payments/stripe.yaml"
PAYPAL = "production/payments/paypal.yaml"
STRIPE_HEAD = ".sealgate/heads/production/payments/stripe.json"


@dataclass
class Setup:
    store: Store
    path: Path
    kek: LocalKekFile
    keyring: Keyring


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Build the store once; each test tampers with its own copy."""
    root = tmp_path_factory.mktemp("tamper-base")
    kek = LocalKekFile(root / "keys" / KEK_FILE_NAME, create=True)
    keyring = Keyring(root / "keys", kek)
    for env in ("production", "staging"):
        keyring.init(env)

    def change(env: str, secret: str, values: dict[str, bytes]) -> SecretChange:
        info = keyring.list_keys(env)[0]
        public = load_public_key(info.public_key, where="test")
        sealed = {
            key: seal(
                value,
                key_id=info.key_id,
                public_key=public,
                environment=env,
                secret=secret,
                key=key,
            )
            for key, value in values.items()
        }
        return SecretChange(name="c", environment=env, secret=secret, reason="r", set=sealed)

    with Store(root / "store", kek, keyring) as store:

        def apply(change_id: str, *changes: SecretChange) -> None:
            store.apply(change_id, changes, ApprovalRecord(change_id, 1, "f" * 40, ("a",), "m"))

        apply(
            "c1",
            change("production", "payments/stripe", {"A": b"a1", "B": b"b1"}),
            change("production", "payments/paypal", {"A": b"p1"}),
        )
        apply("c2", change("production", "payments/stripe", {"A": b"a2"}))
        apply("c3", change("staging", "payments/stripe", {"A": b"s1"}))
        assert store.audit_verify().ok
    return root


@pytest.fixture
def setup(base: Path, tmp_path: Path) -> Iterator[Setup]:
    shutil.copytree(base, tmp_path / "copy", symlinks=True)
    root = tmp_path / "copy"
    kek = LocalKekFile(root / "keys" / KEK_FILE_NAME)
    keyring = Keyring(root / "keys", kek)
    store = Store(root / "store", kek, keyring)
    assert store.audit_verify().ok
    yield Setup(store, root / "store", kek, keyring)
    store.close()


def _git(path: Path, *args: str) -> bytes:
    return subprocess.run(["git", "-C", str(path), *args], check=True, capture_output=True).stdout


def _commit(path: Path, updates: dict[str, bytes | None]) -> None:
    """Commit outside the controller, copying the real head's message and trailers."""
    repo = GitObjects(path)
    try:
        head = repo.head()
        assert head is not None
        blobs = {p: None if data is None else repo.write_blob(data) for p, data in updates.items()}
        tree = repo.update_tree(repo.commit_tree(head), blobs)
        commit = repo.write_commit(tree, repo.commit_message(head), head, repo.commit_time(head))
        repo.advance(commit, head)
    finally:
        repo.close()


def _show(path: Path, revision: str, file: str) -> bytes:
    return _git(path, "show", f"{revision}:{file}")


def _edit_yaml(setup: Setup, file: str, edit: Callable[[dict[str, Any]], object]) -> None:
    document = yaml.safe_load(_show(setup.path, "main", file))
    edit(document)
    _commit(setup.path, {file: yaml.safe_dump(document, sort_keys=False).encode()})


def _assert_read_fails(setup: Setup, match: str, name: str = "payments/stripe") -> None:
    with pytest.raises(IntegrityError, match=match) as caught:
        setup.store.read("production")
    with pytest.raises(IntegrityError, match=match):
        setup.store.read_secret("production", name)
    with pytest.raises(IntegrityError, match=match):
        setup.store.secret_info("production", name)
    with pytest.raises(IntegrityError, match=match):
        setup.store.read("production", name.split("/", maxsplit=1)[0])
    report = setup.store.audit_verify()
    assert not report.ok
    for text in (str(caught.value), *report.problems):
        for value in ("a1", "a2", "b1", "p1", "s1"):
            assert f"'{value}'" not in text


def _swap_keys(document: dict[str, Any]) -> None:
    keys = document["keys"]
    keys["A"]["ciphertext"], keys["B"]["ciphertext"] = (
        keys["B"]["ciphertext"],
        keys["A"]["ciphertext"],
    )


def test_value_swapped_between_keys_fails(setup: Setup) -> None:
    _edit_yaml(setup, STRIPE, _swap_keys)
    _assert_read_fails(setup, "file MAC does not match")


def test_value_moved_from_another_secret_fails(setup: Setup) -> None:
    paypal = yaml.safe_load(_show(setup.path, "main", PAYPAL))

    def move(document: dict[str, Any]) -> None:
        document["keys"]["A"]["ciphertext"] = paypal["keys"]["A"]["ciphertext"]

    _edit_yaml(setup, STRIPE, move)
    _assert_read_fails(setup, "file MAC does not match")


def test_file_moved_to_another_environment_fails(setup: Setup) -> None:
    _commit(
        setup.path,
        {
            "staging/payments/stripe.yaml": _show(setup.path, "main", STRIPE),
            ".sealgate/heads/staging/payments/stripe.json": _show(setup.path, "main", STRIPE_HEAD),
        },
    )
    with pytest.raises(IntegrityError, match="belongs to production/payments/stripe"):
        setup.store.read("staging")
    assert not setup.store.audit_verify().ok


def test_file_moved_to_another_secret_fails(setup: Setup) -> None:
    _commit(
        setup.path,
        {
            PAYPAL: _show(setup.path, "main", STRIPE),
            ".sealgate/heads/production/payments/paypal.json": _show(
                setup.path, "main", STRIPE_HEAD
            ),
        },
    )
    _assert_read_fails(setup, "belongs to production/payments/stripe", "payments/paypal")


def test_file_rolled_back_to_an_older_valid_version_fails(setup: Setup) -> None:
    older = _show(setup.path, "main~2", STRIPE)
    assert b"version: 1" in older
    _commit(setup.path, {STRIPE: older})
    _assert_read_fails(setup, "holds version 1 but the store's head record says 2")


def test_file_and_head_rolled_back_together_are_caught_by_the_audit_log(setup: Setup) -> None:
    _commit(
        setup.path,
        {
            STRIPE: _show(setup.path, "main~2", STRIPE),
            STRIPE_HEAD: _show(setup.path, "main~2", STRIPE_HEAD),
        },
    )
    report = setup.store.audit_verify()
    assert not report.ok
    assert any("holds version 1 but the audit log's latest is 2" in p for p in report.problems)


@pytest.mark.parametrize(
    ("edit", "match"),
    [
        (lambda d: d["keys"].pop("B"), "file MAC does not match"),
        (lambda d: d.update(mac="0" * 64), "file MAC does not match"),
        (lambda d: d.update(version=3), "file MAC does not match"),
        (lambda d: d.update(tier="standard"), "file MAC does not match"),
        (lambda d: d["keys"]["A"].update(fingerprint="000000000000"), "file MAC does not match"),
        (lambda d: d["keys"].update(C=d["keys"]["A"]), "file MAC does not match"),
        (lambda d: d.pop("secret"), "field header is missing or malformed"),
    ],
    ids=[
        "key-dropped",
        "mac-edited",
        "version-edited",
        "tier-lowered",
        "fingerprint-edited",
        "key-added",
        "field-removed",
    ],
)
def test_edited_file_fails(
    setup: Setup, edit: Callable[[dict[str, Any]], object], match: str
) -> None:
    _edit_yaml(setup, STRIPE, edit)
    _assert_read_fails(setup, match)


def test_deleted_file_with_its_head_left_fails(setup: Setup) -> None:
    _commit(setup.path, {STRIPE: None})
    _assert_read_fails(setup, "file is missing but the store's head record says it exists")


def test_deleted_file_and_head_are_caught_by_the_audit_log(setup: Setup) -> None:
    _commit(setup.path, {STRIPE: None, STRIPE_HEAD: None})
    report = setup.store.audit_verify()
    assert any("audit log records it but the store has no file" in p for p in report.problems)


def test_data_key_swapped_between_environments_fails(setup: Setup) -> None:
    staging_key = _show(setup.path, "main", ".sealgate/datakeys/staging.json")
    _commit(setup.path, {".sealgate/datakeys/production.json": staging_key})
    _assert_read_fails(setup, "written with dk-")
    # Even with the id made to match, the wrapped key is bound to its environment.
    record = json.loads(staging_key)
    production = json.loads(_show(setup.path, "main~1", ".sealgate/datakeys/production.json"))
    record["id"] = production["id"]
    _commit(setup.path, {".sealgate/datakeys/production.json": json.dumps(record).encode()})
    _assert_read_fails(setup, "does not unwrap with key-encryption key")


def _audit_file(setup: Setup) -> tuple[str, list[bytes]]:
    [name] = [
        n
        for n in _git(setup.path, "ls-tree", "-r", "--name-only", "main").decode().split()
        if n.startswith(".sealgate/audit/")
    ]
    return name, _show(setup.path, "main", name).splitlines(keepends=True)


def _rewrite_audit(setup: Setup, change: Callable[[list[bytes]], list[bytes]]) -> list[str]:
    name, lines = _audit_file(setup)
    _commit(setup.path, {name: b"".join(change(lines))})
    report = setup.store.audit_verify()
    assert not report.ok
    return list(report.problems)


def _edit_record(line: bytes, *, rehash: bool) -> bytes:
    from controller.store.audit import encode_line, record_hash

    body = json.loads(line)
    body["mergedBy"] = "mallory"
    if rehash:
        body["hash"] = record_hash(body)
    return encode_line(body)


def test_audit_record_edited_is_detected(setup: Setup) -> None:
    problems = _rewrite_audit(setup, lambda ls: [ls[0], _edit_record(ls[1], rehash=False), *ls[2:]])
    assert any("record 2 was edited" in p for p in problems)


def test_audit_record_edited_and_rehashed_breaks_the_chain(setup: Setup) -> None:
    problems = _rewrite_audit(setup, lambda ls: [ls[0], _edit_record(ls[1], rehash=True), *ls[2:]])
    assert any("record 3 does not follow" in p for p in problems)


def test_last_audit_record_edited_and_rehashed_breaks_the_anchor(setup: Setup) -> None:
    problems = _rewrite_audit(setup, lambda ls: [*ls[:-1], _edit_record(ls[-1], rehash=True)])
    assert any("Audit-Head" in p or "the commit says" in p for p in problems)


def test_audit_record_dropped_is_detected(setup: Setup) -> None:
    problems = _rewrite_audit(setup, lambda ls: [ls[0], *ls[2:]])
    assert any("does not follow" in p for p in problems)
    assert any("record 3 found where record 2 belongs" in p for p in problems)


def test_audit_records_reordered_are_detected(setup: Setup) -> None:
    problems = _rewrite_audit(setup, lambda ls: [ls[1], ls[0], *ls[2:]])
    assert any("record 2 found where record 1 belongs" in p for p in problems)


def test_audit_tail_dropped_is_detected(setup: Setup) -> None:
    problems = _rewrite_audit(setup, lambda ls: ls[:-1])
    assert any("audit log ends at record 2 but the commit says 3" in p for p in problems)


def test_audit_line_that_is_not_json_is_reported(setup: Setup) -> None:
    problems = _rewrite_audit(setup, lambda ls: [*ls, b"{not json\n"])
    assert any("audit record is not JSON" in p for p in problems)


def test_wrong_kek_fails_loudly(setup: Setup, tmp_path: Path) -> None:
    other = LocalKekFile(tmp_path / "other" / KEK_FILE_NAME, create=True)
    with (
        Store(setup.path, other, setup.keyring) as store,
        pytest.raises(IntegrityError, match="does not unwrap with key-encryption key local-"),
    ):
        store.read("production")


def test_missing_kek_fails_loudly(setup: Setup) -> None:
    (setup.kek.path).unlink()
    with pytest.raises(IntegrityError, match="key-encryption key file is missing"):
        LocalKekFile(setup.kek.path)


def test_audit_verify_command_fails_on_tampering(setup: Setup) -> None:
    from click.testing import CliRunner

    from controller.cli import main
    from controller.cli.exit_codes import ExitCode

    key_dir = str(setup.kek.path.parent)
    args = ["audit", "verify", "--store", str(setup.path), "--key-dir", key_dir]
    clean = CliRunner().invoke(main, args)
    assert clean.exit_code == 0, clean.output
    assert clean.stdout.startswith("ok: 3 records, 3 secrets")
    _edit_yaml(setup, STRIPE, _swap_keys)
    tampered = CliRunner().invoke(main, args)
    assert tampered.exit_code == ExitCode.INVALID
    assert "FAIL production/payments/stripe.yaml: file MAC does not match" in tampered.stderr
    assert "audit log does not verify" in tampered.stderr
    as_json = CliRunner().invoke(main, [*args, "-o", "json"])
    assert as_json.exit_code == ExitCode.INVALID
    body = json.loads(as_json.stdout)
    assert body["ok"] is False
    assert any("stripe.yaml: file MAC does not match" in p for p in body["problems"])


def test_head_record_removed_fails(setup: Setup) -> None:
    _commit(setup.path, {STRIPE_HEAD: None})
    _assert_read_fails(setup, "the store has no head record for this file")
