"""The store's half of a key-encryption-key rotation (``sealgate keys rewrap``).

Every environment's data key record (``.sealgate/datakeys/<env>.json``) is re-wrapped in two
commits, each atomic like every store write:

1. **stage**: each record gains the data key wrapped by the new KEK (see
   :mod:`controller.crypto.rewrap`) beside its wrap by the old one: both KEKs open the store;
2. **finish**: the new wrap replaces the old one: only the new KEK opens the store.

Data keys themselves do not change, so no value is re-encrypted, and the store's history
stays readable: older versions are opened with the data key of the current record. Each
commit appends a ``kek-rewrap`` audit record naming the KEK ids (never a key).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from controller.crypto import KeyEncryptionKeyProvider
from controller.crypto.envelope import data_key_binding
from controller.crypto.rewrap import REWRAP_FIELD, staged_entry, staged_wrap
from controller.errors import IntegrityError
from controller.store.audit_log import AuditLog
from controller.store.crashpoint import crashpoint
from controller.store.datakeys import DATAKEYS_ROOT, data_key_path
from controller.store.gitobjects import GitObjects
from controller.store.layout import commit_message


def data_key_environments(git: GitObjects, tree: bytes | None) -> list[str]:
    entry = git.lookup(tree, DATAKEYS_ROOT)
    if entry is None:
        return []
    return sorted(
        n.removesuffix(".json") for n in git.tree_entries(entry[0]) if n.endswith(".json")
    )


def _read(git: GitObjects, tree: bytes | None, env: str) -> dict[str, Any]:
    raw = git.read_path(tree, data_key_path(env))
    try:
        record = json.loads(raw or b"")
        if not isinstance(record, dict):
            raise TypeError("not an object")
        return record
    except (ValueError, TypeError) as exc:
        raise IntegrityError(
            f"{data_key_path(env)}: data key record is malformed; restore it from the store's "
            "history"
        ) from exc


def _dump(record: dict[str, Any]) -> bytes:
    return json.dumps(record, sort_keys=True, indent=2).encode()


def stage(
    record: dict[str, Any], env: str, old: KeyEncryptionKeyProvider, new: KeyEncryptionKeyProvider
) -> bool:
    """Add the new KEK's wrap to ``record`` (in place); False when it already has it."""
    binding = data_key_binding(env, str(record["id"]))
    staged = staged_wrap(record, new.key_id)
    if staged is not None:
        new.unwrap(staged, binding)
        return False
    # An earlier rotation left unfinished may hold the old KEK's wrap as the staged one.
    own = staged_wrap(record, old.key_id) or bytes.fromhex(str(record["wrapped"]))
    data_key = old.unwrap(own, binding)
    wrapped = new.wrap(data_key, binding)
    new.unwrap(wrapped, binding)  # a provider that cannot read its own wrap fails now
    record[REWRAP_FIELD] = staged_entry(new.key_id, wrapped)
    return True


def finish(record: dict[str, Any], env: str, new: KeyEncryptionKeyProvider) -> bool:
    """Make the staged wrap the record's own (in place); False when already done."""
    staged = staged_wrap(record, new.key_id)
    if staged is None:
        return False  # nothing staged: the final check unwraps every record anyway
    new.unwrap(staged, data_key_binding(env, str(record["id"])))
    record["wrapped"] = staged.hex()
    record["kek"] = new.key_id
    del record[REWRAP_FIELD]
    return True


def rewrap_commit(
    git: GitObjects,
    audit: AuditLog,
    now: datetime,
    *,
    step: Callable[[dict[str, Any], str], bool],
    stage_name: str,
    event: dict[str, Any],
    audit_always: bool = False,
) -> list[str]:
    """Apply ``step`` to every data key record in one audited commit; the environments
    changed. Nothing changed: no commit, unless ``audit_always`` (the rotation is recorded
    even in a store without data keys). The caller holds the writer lock."""
    head = git.head()
    tree = git.commit_tree(head) if head else None
    contents: dict[str, bytes] = {}
    for env in data_key_environments(git, tree):
        record = _read(git, tree, env)
        if step(record, env):
            contents[data_key_path(env)] = _dump(record)
    if not contents and not audit_always:
        return []
    changed = sorted(p.removeprefix(f"{DATAKEYS_ROOT}/").removesuffix(".json") for p in contents)
    body = {**event, "stage": stage_name, "environments": changed}
    audit_path, audit_content, audit_head = audit.append(tree, [("kek-rewrap", body)], now)
    contents[audit_path] = audit_content
    paths = sorted(contents)
    shas = git.write_blobs([contents[p] for p in paths])
    new_tree = git.update_tree(tree, dict(zip(paths, shas, strict=True)))
    crashpoint(f"rewrap:store-{stage_name}-tree")
    subject = f"Key-encryption key rotation: {stage_name} {len(changed)} data key(s)"
    trailers = [("Actor", str(event.get("actor", ""))), ("Audit-Head", audit_head)]
    commit = git.write_commit(new_tree, commit_message(subject, trailers), head, now)
    git.advance(commit, head)
    return changed


def rewrap(
    git: GitObjects,
    audit: AuditLog,
    now: datetime,
    old: KeyEncryptionKeyProvider | None,
    new: KeyEncryptionKeyProvider,
    *,
    actor: str,
    audit_always: bool = False,
    previous: str | None = None,
) -> list[str]:
    """With ``old``, stage the new wrap beside the old; without, finish (``previous``: the
    old KEK's id, for the record). The environments changed. The caller holds the lock."""
    event: dict[str, Any] = {"toKek": new.key_id, "actor": actor}
    if old is not None:
        event["fromKek"] = old.key_id
        return rewrap_commit(
            git, audit, now, stage_name="staged", event=event, audit_always=audit_always,
            step=lambda record, env: stage(record, env, old, new),
        )  # fmt: skip
    if previous is not None:
        event["fromKek"] = previous
    return rewrap_commit(
        git, audit, now, stage_name="finished", event=event, audit_always=audit_always,
        step=lambda record, env: finish(record, env, new),
    )  # fmt: skip
