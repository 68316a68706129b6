"""The encrypted, versioned store: one bare git repository that only the controller writes.

Layout of every commit's tree::

    <env>/<namespace>/<name>.yaml              one StoredSecret per secret (see secretfile)
    .sealgate/heads/<env>/<namespace>/<name>.json   latest version and MAC of that file
    .sealgate/datakeys/<env>.json              the environment's data key, wrapped by the KEK
    .sealgate/index/<h0h1>/<h2h3>/<sha256(change id)>.json   applied change ids
    .sealgate/audit/<yyyy-mm>/<yyyy-mm-dd>.<part>.jsonl      the hash-chained audit log

Every write is one commit built from new blobs and the untouched subtrees' SHAs, published by
a guarded ``update-ref``: a crash leaves the old or the new commit. The heads record pins
each file to its latest version and MAC, so putting back an older (validly MACed) file is
detected on read; the audit log pins the heads, and ``audit_verify`` checks all three.
"""

from __future__ import annotations

import functools
import json
import logging
import secrets
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from controller.crypto import KeyEncryptionKeyProvider, SealedValueOpener
from controller.crypto.envelope import (
    decrypt_value,
    encrypt_value,
    value_binding,
)
from controller.crypto.generate import generate_value
from controller.crypto.quoting import quotes_any
from controller.errors import InputError, IntegrityError, Problem
from controller.model import (
    DEFAULT_SHAPE,
    MAX_SECRET_BYTES,
    SecretChange,
    SecretShape,
    Tier,
    frozen_map,
)
from controller.store import audit
from controller.store.access_records import AccessRecords
from controller.store.agent_requests import AgentRequests
from controller.store.audit_log import AuditLog, anchor_problems, audited_versions
from controller.store.checks import ENVIRONMENT, check_names
from controller.store.crashpoint import crashpoint
from controller.store.datakeys import DataKeys
from controller.store.gitobjects import TREE_MODE, GitObjects
from controller.store.grants import Grants
from controller.store.kek_rewrap import data_key_environments, rewrap
from controller.store.layout import (
    HEADS_ROOT,
    TRUSTED_RULES_ROOT,
    apply_events,
    approval_trailers,
    commit_message,
    head_path,
    index_entry,
    index_path,
    secret_contents,
    trusted_rules_path,
)
from controller.store.replays import (
    applied_elsewhere,
    read_intent,
    rollout_intent,
    sealed_entries,
)
from controller.store.restore import restored_values
from controller.store.secretfile import StoredKey, StoredSecret, decode, file_path
from controller.store.staleness import refuse_stale
from controller.store.trailers import origin_fields, origin_trailers, withhold_values
from controller.store.types import (
    ApplyResult,
    ApprovalRecord,
    AuditRecord,
    AuditReport,
    KeyState,
    PullRequestOrigin,
    SecretData,
    SecretInfo,
    VersionInfo,
)

_log = logging.getLogger(__name__)
DEFAULT_TIER = Tier.SENSITIVE
"""Tier of a new secret whose change names none. The reconciler always names one (the
environment's ``defaultTier`` or floor, see ``controller.policy.tiers``); this is the
fallback for callers that do not know the rules."""


@dataclass
class _Pending:
    """A secret being rewritten in this commit: plaintext only in memory."""

    current: StoredSecret | None
    values: dict[str, bytes]
    keys: dict[str, tuple[str, str, datetime]]
    """key -> (fingerprint, change id that set it, time it was set)."""
    tier: Tier
    operations: dict[str, str]
    shape: SecretShape = DEFAULT_SHAPE
    previous: tuple[bytes, ...] = ()
    """The values before this change: a reason must not quote those either."""


class Store(AccessRecords):
    """Apply, read, history, rollback and audit over the store repository at ``path``."""

    def __init__(
        self,
        path: Path,
        kek: KeyEncryptionKeyProvider,
        opener: SealedValueOpener,
        *,
        remote: str | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.path = path
        self._git = GitObjects(path)
        self._opener = opener
        self._remote = remote
        self._clock = clock or (lambda: datetime.now(UTC))
        self._data_keys = DataKeys(self._git, kek)
        self._audit = AuditLog(self._git)
        self._grants = Grants(
            self._git,
            self._audit,
            self._data_keys,
            self._clock,
            self._push,
            quoting=self._quotes_held,
        )
        self._agent_requests = AgentRequests(self._git, self._audit, self._clock, self._push)
        self.repaired = self._git.repair()
        if self.repaired:
            _log.warning("store %s: removed stale git locks %s", path, ", ".join(self.repaired))

    def close(self) -> None:
        self._git.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # ================================================================== apply

    def apply(
        self, change_id: str, changes: Sequence[SecretChange], record: ApprovalRecord
    ) -> ApplyResult:
        """Apply one environment's changes from one pull request in one commit, once."""
        environment = self._check_apply_input(change_id, changes, record)
        with self._git.writer_lock():
            earlier = self.is_applied(change_id)
            if earlier is not None:
                _log.info("change %s was already applied in %s", change_id, earlier.commit[:12])
                self._push()
                return earlier
            # Inside the lock: of two changes judged fresh, the second to get here is refused.
            refuse_stale(changes, self.history)
            head = self._git.head()
            tree = self._git.commit_tree(head) if head else None
            now = self._clock()
            # Before anything is opened: a sealed value copied from an earlier change.
            replays = sealed_entries(
                self._git, tree, environment, changes, change_id=change_id, now=now
            )
            data_key_id, data_key, key_update = self._data_keys.current(tree, environment)
            pending = self._prepare(
                tree=tree,
                environment=environment,
                changes=changes,
                change_id=change_id,
                now=now,
                data_key=data_key,
            )
            crashpoint("apply:opened")
            record = withhold_values(
                record, (v for p in pending.values() for v in (*p.values.values(), *p.previous))
            )

            contents: dict[str, bytes] = {**key_update, **replays}
            versions: dict[str, int] = {}
            secrets_audit: dict[str, Any] = {}
            for secret, item in sorted(pending.items()):
                stored = self._build(
                    environment=environment,
                    secret=secret,
                    item=item,
                    data_key_id=data_key_id,
                    data_key=data_key,
                    change_id=change_id,
                    now=now,
                )
                contents.update(secret_contents(stored))
                versions[stored.path] = stored.version
                secrets_audit[stored.path] = _audited_secret(stored, item)
            intent = rollout_intent(changes)
            for path, choice in intent.items():
                secrets_audit[path]["onRolloutFailure"] = choice.value
            events = apply_events(environment, record, secrets_audit)
            contents[index_path(change_id)] = index_entry(
                change_id, "apply", versions, now, on_rollout_failure=intent
            )
            audit_path, audit_content, audit_head = self._audit.append(tree, events, now)
            contents[audit_path] = audit_content
            updates = self._write(contents)
            crashpoint("apply:blobs-written")

            new_tree = self._git.update_tree(tree, updates)
            crashpoint("apply:tree-written")
            subject = f"Apply {change_id} to {environment}: {len(versions)} secret(s)"
            text = commit_message(subject, [*approval_trailers(record), ("Audit-Head", audit_head)])
            commit = self._git.write_commit(new_tree, text, head, now)
            crashpoint("apply:commit-written")
            self._git.advance(commit, head)
            crashpoint("apply:ref-updated")
        _log.info("applied %s to %s as %s: %s", change_id, environment, commit[:12], versions)
        self._push()
        return ApplyResult(
            change_id,
            commit,
            frozen_map(versions),
            already_applied=False,
            on_rollout_failure=frozen_map(intent),
        )

    def applied_sealed(self, env: str, digests: Sequence[str]) -> dict[str, str]:
        """Digest -> the change id that applied it, for the digests already applied."""
        return applied_elsewhere(self._git, self._head_tree(), env, digests)

    def is_applied(self, change_id: str) -> ApplyResult | None:
        """The earlier result of ``change_id``, or None when it was never applied."""
        head = self._git.head()
        if head is None:
            return None
        entry_path = index_path(change_id)
        data = self._git.read_path(self._git.commit_tree(head), entry_path)
        if data is None:
            return None
        try:
            entry = json.loads(data)
            versions = {str(k): int(v) for k, v in dict(entry["versions"]).items()}
            recorded = str(entry["changeId"])
            intent = read_intent(entry)
        except (ValueError, KeyError, TypeError) as exc:
            raise IntegrityError(f"{entry_path}: applied-change index entry is malformed") from exc
        if recorded != change_id:
            raise IntegrityError(f"{entry_path}: index entry names another change id")
        commit = self._git.first_commit_adding(entry_path) or head
        return ApplyResult(
            change_id,
            commit,
            frozen_map(versions),
            already_applied=True,
            on_rollout_failure=frozen_map(intent),
        )

    def _check_apply_input(
        self, change_id: str, changes: Sequence[SecretChange], record: ApprovalRecord
    ) -> str:
        problems: list[Problem] = []
        if not change_id or "\n" in change_id:
            problems.append(Problem("apply", "change id", "must be one non-empty line"))
        if record.change_id != change_id:
            problems.append(
                Problem("apply", "record.change_id", "must equal the change id being applied")
            )
        if not changes:
            problems.append(Problem("apply", "changes", "nothing to apply"))
        environments = {change.environment for change in changes}
        if len(environments) > 1:
            problems.append(
                Problem("apply", "changes", "one apply takes the changes of one environment")
            )
        for change in changes:
            problems.extend(check_names(change))
        if problems:
            raise InputError(problems)
        return changes[0].environment

    def _prepare(
        self,
        *,
        tree: bytes | None,
        environment: str,
        changes: Sequence[SecretChange],
        change_id: str,
        now: datetime,
        data_key: bytes,
    ) -> dict[str, _Pending]:
        pending: dict[str, _Pending] = {}
        for change in changes:
            item = pending.get(change.secret)
            if item is None:
                current = self._load(tree, environment, change.secret)
                values = self._decrypt(current, data_key) if current else {}
                keys = {
                    name: (key.fingerprint, key.change_id, key.set_at)
                    for name, key in (current.keys.items() if current else ())
                }
                tier = current.tier if current else DEFAULT_TIER
                shape = current.shape if current else SecretShape()
                item = _Pending(current, values, keys, tier, {}, shape, tuple(values.values()))
                pending[change.secret] = item
            if change.tier is not None:
                item.tier = change.tier
            if item.current is not None and change.type not in (None, item.current.shape.type):
                raise InputError(
                    [
                        Problem(
                            change.path,
                            "spec.type",
                            f"stored as a {item.current.shape.type} Secret; a Secret's type "
                            "cannot change: nothing was applied",
                        )
                    ]
                )
            item.shape = change.shape_after(item.shape)
            restored = restored_values(
                change, functools.partial(self._values_at, tree, environment, change.secret)
            )
            if change.restores_whole:
                for key in sorted(set(item.values) - set(restored)):
                    item.values.pop(key)
                    item.keys.pop(key, None)
                    item.operations[key] = "delete"
            for key, value in restored.items():
                self._put(
                    item=item,
                    environment=environment,
                    secret=change.secret,
                    key=key,
                    value=value,
                    change_id=change_id,
                    now=now,
                    operation="restore",
                )
            for key, sealed in change.set.items():
                value = self._opener.open(
                    sealed, environment=environment, secret=change.secret, key=key
                )
                self._put(
                    item=item,
                    environment=environment,
                    secret=change.secret,
                    key=key,
                    value=value,
                    change_id=change_id,
                    now=now,
                    operation="set",
                )
            for key, spec in change.generate.items():
                self._put(
                    item=item,
                    environment=environment,
                    secret=change.secret,
                    key=key,
                    value=generate_value(spec),
                    change_id=change_id,
                    now=now,
                    operation="generate",
                )
            for key in change.delete:
                item.values.pop(key, None)
                item.keys.pop(key, None)
                item.operations[key] = "delete"
        too_large = [
            Problem(
                f"{environment}/{secret}",
                "data",
                f"the Secret would hold {size} bytes of keys and values, and Kubernetes refuses"
                f" one over {MAX_SECRET_BYTES}: nothing was applied; split it",
            )
            for secret, item in sorted(pending.items())
            if (size := sum(len(k) + len(v) for k, v in item.values.items())) > MAX_SECRET_BYTES
        ]
        if too_large:
            raise InputError(too_large)
        return pending

    def _put(
        self,
        *,
        item: _Pending,
        environment: str,
        secret: str,
        key: str,
        value: bytes,
        change_id: str,
        now: datetime,
        operation: str,
    ) -> None:
        item.values[key] = value
        fingerprint = self._opener.fingerprint(
            value, environment=environment, secret=secret, key=key
        )
        item.keys[key] = (fingerprint, change_id, now)
        item.operations[key] = operation

    def _build(
        self,
        *,
        environment: str,
        secret: str,
        item: _Pending,
        data_key_id: str,
        data_key: bytes,
        change_id: str,
        now: datetime,
    ) -> StoredSecret:
        version = (item.current.version if item.current else 0) + 1
        return self._encrypt(
            environment,
            secret,
            version=version,
            tier=item.tier,
            data_key_id=data_key_id,
            data_key=data_key,
            change_id=change_id,
            now=now,
            values=item.values,
            keys=item.keys,
            shape=item.shape,
        )

    def _encrypt(
        self,
        environment: str,
        secret: str,
        *,
        version: int,
        tier: Tier,
        data_key_id: str,
        data_key: bytes,
        change_id: str,
        now: datetime,
        values: Mapping[str, bytes],
        keys: Mapping[str, tuple[str, str, datetime]],
        shape: SecretShape = DEFAULT_SHAPE,
    ) -> StoredSecret:
        # Every value is re-encrypted: its associated data carries the new version.
        stored_keys = {
            name: StoredKey(
                ciphertext=encrypt_value(
                    data_key, values[name], value_binding(environment, secret, name, version)
                ),
                fingerprint=keys[name][0],
                change_id=keys[name][1],
                set_at=keys[name][2],
            )
            for name in sorted(values)
        }
        return StoredSecret(
            environment=environment,
            secret=secret,
            version=version,
            tier=tier,
            data_key_id=data_key_id,
            change_id=change_id,
            updated_at=now,
            keys=stored_keys,
            shape=shape,
        ).sealed_with(data_key)

    def _write(self, contents: Mapping[str, bytes]) -> dict[str, bytes | None]:
        """Write every new blob in one batch; returns the tree updates (path -> SHA)."""
        paths = sorted(contents)
        shas = self._git.write_blobs([contents[path] for path in paths])
        return dict(zip(paths, shas, strict=True))

    # ================================================================== rollback

    def rollback(
        self,
        env: str,
        secret: str,
        to_version: int,
        *,
        actor: str,
        reason: str,
        origin: PullRequestOrigin | None = None,
    ) -> ApplyResult:
        """A new version whose keys and values equal ``to_version``'s; audited."""
        with self._git.writer_lock():
            head = self._git.head()
            tree = self._git.commit_tree(head) if head else None
            current = self._load(tree, env, secret)
            if current is None or head is None:
                raise InputError(
                    [Problem(f"{env}/{secret}", "secret", "no such secret in the store")]
                )
            old = self._version(env, secret, to_version)
            data_key = self._data_keys.by_id(tree, env, old.data_key_id)
            now = self._clock()
            change_id = f"rollback-{now:%Y%m%dT%H%M%S}-{secrets.token_hex(4)}"
            stored = self._encrypt(
                env,
                secret,
                version=current.version + 1,
                tier=old.tier,
                data_key_id=old.data_key_id,
                data_key=data_key,
                change_id=change_id,
                now=now,
                values=self._decrypt(old, data_key),
                keys={n: (k.fingerprint, k.change_id, k.set_at) for n, k in old.keys.items()},
                shape=old.shape,
            )
            contents = secret_contents(stored)
            versions = {stored.path: stored.version}
            contents[index_path(change_id)] = index_entry(change_id, "rollback", versions, now)
            event = {
                **origin_fields(origin, bypass_reason=False),
                "changeId": change_id,
                "environment": env,
                "path": stored.path,
                "fromVersion": current.version,
                "toVersion": to_version,
                "version": stored.version,
                "tier": stored.tier.value,
                "mac": stored.mac,
                "actor": actor,
                "reason": reason,
                "fingerprints": {n: k.fingerprint for n, k in sorted(stored.keys.items())},
            }
            audit_path, audit_content, audit_head = self._audit.append(
                tree, [("rollback", event)], now
            )
            contents[audit_path] = audit_content
            new_tree = self._git.update_tree(tree, self._write(contents))
            trailers = [
                ("Change-Id", change_id),
                ("Rolled-Back-By", actor),
                ("Reason", reason),
                *origin_trailers(origin, bypass_reason=False),
                ("Audit-Head", audit_head),
            ]
            subject = f"Roll back {stored.path} to version {to_version}"
            commit = self._git.write_commit(new_tree, commit_message(subject, trailers), head, now)
            self._git.advance(commit, head)
        _log.info(
            "rolled back %s to version %d as version %d", stored.path, to_version, stored.version
        )
        self._push()
        return ApplyResult(change_id, commit, frozen_map(versions), already_applied=False)

    def record_key_event(self, environment: str, action: str, key_id: str, *, actor: str) -> str:
        """Audit a sealing-key event (init, rotate, retire); returns the commit."""
        with self._git.writer_lock():
            head = self._git.head()
            tree = self._git.commit_tree(head) if head else None
            now = self._clock()
            event = {"environment": environment, "action": action, "keyId": key_id, "actor": actor}
            audit_path, audit_content, audit_head = self._audit.append(tree, [("key", event)], now)
            new_tree = self._git.update_tree(tree, self._write({audit_path: audit_content}))
            subject = f"Key {action} {key_id} in {environment}"
            trailers = [("Actor", actor), ("Audit-Head", audit_head)]
            commit = self._git.write_commit(new_tree, commit_message(subject, trailers), head, now)
            self._git.advance(commit, head)
        self._push()
        return commit

    def unwrap_data_keys(self) -> list[str]:
        """Unwrap every environment's data key now (a start-up check); the environments."""
        tree = self._head_tree()
        environments = data_key_environments(self._git, tree)
        for env in environments:
            self._data_keys.by_id(tree, env, str(self._data_keys.record(tree, env)["id"]))
        return environments

    def rewrap_data_keys(
        self,
        old: KeyEncryptionKeyProvider | None,
        new: KeyEncryptionKeyProvider,
        *,
        actor: str,
        audit_always: bool = False,
        previous: str | None = None,
    ) -> list[str]:
        """One step of a KEK rotation (see ``kek_rewrap.rewrap``); audited."""
        with self._git.writer_lock():
            changed = rewrap(
                self._git, self._audit, self._clock(), old, new,
                actor=actor, audit_always=audit_always, previous=previous,
            )  # fmt: skip
        if changed or audit_always:
            self._push()
        return changed

    def trust_rules(
        self,
        digest: str,
        *,
        how: str,
        repo: str,
        ref: str,
        sha: str,
        actor: str,
        reason: str,
        origin: PullRequestOrigin | None = None,
    ) -> str:
        """Record the rule set ``digest`` as trusted, audited with who and why; returns the
        commit. Trusting a digest already trusted records the new event all the same."""
        with self._git.writer_lock():
            head = self._git.head()
            tree = self._git.commit_tree(head) if head else None
            now = self._clock()
            event = {
                **origin_fields(origin),
                "digest": digest,
                "how": how,
                "repository": repo,
                "ref": ref,
                "sha": sha,
                "actor": actor,
                "reason": reason,
            }
            audit_path, audit_content, audit_head = self._audit.append(
                tree, [("rules-trusted", event)], now
            )
            record = json.dumps({**event, "at": now.isoformat()}, sort_keys=True).encode()
            contents = {audit_path: audit_content, trusted_rules_path(digest): record}
            new_tree = self._git.update_tree(tree, self._write(contents))
            subject = f"Trust the rules of {repo} at {ref}@{sha[:12]} ({how})"
            trailers = [
                ("Actor", actor),
                ("Rules-Digest", digest),
                *origin_trailers(origin),
                ("Audit-Head", audit_head),
            ]
            commit = self._git.write_commit(new_tree, commit_message(subject, trailers), head, now)
            self._git.advance(commit, head)
        _log.info("trusted the rules %s of %s at %s (%s by %s)", digest, repo, sha[:12], how, actor)
        self._push()
        return commit

    def trusted_rules(self) -> frozenset[str]:
        """Digests of every rule set trusted so far (empty before the first)."""
        entry = self._git.lookup(self._head_tree(), TRUSTED_RULES_ROOT)
        if entry is None:
            return frozenset()
        return frozenset(
            name.removesuffix(".json").replace("-", ":", 1)
            for name in self._git.tree_entries(entry[0])
            if name.endswith(".json")
        )

    # ================================================================== grants

    def _quotes_held(self, environment: str, secrets: Sequence[str], text: str) -> bool:
        """Whether ``text`` quotes a value held for one of ``secrets`` (opened only here)."""
        for secret in secrets:
            held = self.read_secret(environment, secret)
            quoted = held is not None and quotes_any(text, held.data.values())
            del held
            if quoted:
                return True
        return False

    # ================================================================== reads

    def read(self, env: str, namespace: str | None = None) -> dict[str, SecretData]:
        """``<namespace>/<name>`` -> plaintext data of every secret of ``env`` (of one
        ``namespace`` of it: a caller going through a big store one part at a time holds
        only that part), verified."""
        tree = self._head_tree()
        result: dict[str, SecretData] = {}
        for secret, data, head in self._raw_files(tree, env, namespace):
            stored = self._check(tree, env, secret, data, head)
            if stored is not None:
                result[secret] = self._plain(tree, stored)
        return result

    def environments(self) -> list[str]:
        """Environments holding secrets, from the tree alone (no secret is read)."""
        return self._environments(self._head_tree())

    def namespaces(self, env: str) -> list[str]:
        """Namespaces of ``env`` holding secrets (a file or a head record), from the tree."""
        tree = self._head_tree()
        found: set[str] = set()
        if ENVIRONMENT.fullmatch(env):
            for root in (env, f"{HEADS_ROOT}/{env}"):
                entry = self._git.lookup(tree, root)
                if entry is not None:
                    found.update(
                        name
                        for name, (_, mode) in self._git.tree_entries(entry[0]).items()
                        if mode == TREE_MODE
                    )
        return sorted(found)

    def read_secret(self, env: str, secret: str) -> SecretData | None:
        return self._secret_data(self._head_tree(), env, secret)

    def list_secrets(self, env: str | None = None) -> list[SecretInfo]:
        tree = self._head_tree()
        environments = [env] if env is not None else self._environments(tree)
        infos: list[SecretInfo] = []
        for environment in environments:
            for secret, data, head in self._raw_files(tree, environment):
                stored = self._check(tree, environment, secret, data, head)
                if stored is not None:
                    infos.append(_info(stored))
        return infos

    def secret_info(self, env: str, secret: str) -> SecretInfo | None:
        """One secret's verified metadata (None when it is not stored): what a pass reads
        instead of ``list_secrets``, whose cost grows with the whole store."""
        if not ENVIRONMENT.fullmatch(env):
            return None
        stored = self._load(self._head_tree(), env, secret)
        return None if stored is None else _info(stored)

    def history(self, env: str, secret: str) -> list[VersionInfo]:
        """Every version of one secret, newest first, each checked against its MAC."""
        versions: list[VersionInfo] = []
        for commit, stored in self._versions(env, secret):
            versions.append(
                VersionInfo(
                    version=stored.version,
                    commit=commit,
                    change_id=stored.change_id,
                    time=stored.updated_at,
                    tier=stored.tier,
                    fingerprints=frozen_map(
                        {n: k.fingerprint for n, k in sorted(stored.keys.items())}
                    ),
                    shape=stored.shape,
                )
            )
        return versions

    def current_tiers(self) -> dict[str, Tier]:
        return {info.path: info.tier for info in self.list_secrets()}

    # ================================================================== audit

    def audit_records(self) -> Iterator[AuditRecord]:
        for where, body in self._audit.bodies(self._head_tree()):
            yield audit.to_record(body, where=where)

    def audit_verify(self) -> AuditReport:
        """Check the hash chain, its anchor in the commit, and every secret against it."""
        head = self._git.head()
        if head is None:
            return AuditReport(records=0, secrets=0, head="")
        tree = self._git.commit_tree(head)
        problems: list[str] = []
        bodies: list[tuple[str, dict[str, Any]]] = []
        try:
            bodies = list(self._audit.bodies(tree))
        except IntegrityError as exc:
            problems.append(str(exc))
        count, last_hash, chain = audit.chain_problems(bodies)
        problems.extend(chain)
        problems.extend(anchor_problems(head, self._git.commit_message(head), count, last_hash))
        audited = audited_versions(bodies)
        secrets_seen = 0
        for environment in self._environments(tree):
            for secret, data, pinned in self._raw_files(tree, environment):
                secrets_seen += 1
                path = f"{environment}/{secret}"
                try:
                    stored = self._check(tree, environment, secret, data, pinned)
                    if stored is not None:
                        self._decrypt(
                            stored, self._data_keys.by_id(tree, environment, stored.data_key_id)
                        )
                except IntegrityError as exc:
                    problems.append(str(exc))
                    continue
                expected = audited.pop(path, None)
                if stored is not None and expected != (stored.version, stored.mac):
                    problems.append(
                        f"{file_path(environment, secret)}: holds version {stored.version} but "
                        f"the audit log's latest is {expected[0] if expected else 'none'}: "
                        "the file and its head were rolled back or written outside the controller"
                    )
        for path in sorted(audited):
            problems.append(f"{path}: the audit log records it but the store has no file")
        problems.extend(self._grants.problems(tree, bodies))
        return AuditReport(
            records=count, secrets=secrets_seen, head=last_hash, problems=tuple(problems)
        )

    # ================================================================== loading

    def _head_tree(self) -> bytes | None:
        head = self._git.head()
        return self._git.commit_tree(head) if head else None

    def _environments(self, tree: bytes | None) -> list[str]:
        return sorted(
            name
            for name, (_, mode) in self._git.tree_entries(tree).items()
            if ENVIRONMENT.fullmatch(name) and mode == 0o040000
        )

    def _secret_names(self, tree: bytes | None, env: str, namespace: str | None) -> list[str]:
        """Secrets with a file or a head record: a file deleted behind our back still shows."""
        if not ENVIRONMENT.fullmatch(env) or (namespace is not None and "/" in namespace):
            return []
        below = "" if namespace is None else f"/{namespace}"
        prefix = "" if namespace is None else f"{namespace}/"
        names: set[str] = set()
        for root, suffix in ((env, ".yaml"), (f"{HEADS_ROOT}/{env}", ".json")):
            entry = self._git.lookup(tree, root + below)
            if entry is not None:
                names.update(
                    path.removesuffix(suffix)
                    for path, _ in self._git.walk_blobs(entry[0], prefix)
                    if path.endswith(suffix)
                )
        return sorted(names)

    def _raw_files(
        self, tree: bytes | None, env: str, namespace: str | None = None
    ) -> Iterator[tuple[str, bytes | None, bytes | None]]:
        """(secret, file, head record) for every secret of ``env`` (or of one namespace of
        it), read in one batch."""
        names = self._secret_names(tree, env, namespace)
        entries = [
            self._git.lookup(tree, path)
            for secret in names
            for path in (file_path(env, secret), head_path(env, secret))
        ]
        blobs = iter(self._git.read_blobs([e[0] for e in entries if e is not None]))
        contents = [None if entry is None else next(blobs) for entry in entries]
        for number, secret in enumerate(names):
            yield secret, contents[2 * number], contents[2 * number + 1]

    def _secret_data(self, tree: bytes | None, env: str, secret: str) -> SecretData | None:
        stored = self._load(tree, env, secret)
        return None if stored is None else self._plain(tree, stored)

    def _plain(self, tree: bytes | None, stored: StoredSecret) -> SecretData:
        env = stored.environment
        data_key = self._data_keys.by_id(tree, env, stored.data_key_id)
        return SecretData(
            path=stored.path,
            version=stored.version,
            tier=stored.tier,
            data=frozen_map(self._decrypt(stored, data_key)),
            change_id=stored.change_id,
            shape=stored.shape,
        )

    def _load(self, tree: bytes | None, env: str, secret: str) -> StoredSecret | None:
        """The verified current file: MAC, place and head record all agree."""
        data = self._git.read_path(tree, file_path(env, secret))
        head = self._git.read_path(tree, head_path(env, secret))
        return self._check(tree, env, secret, data, head)

    def _check(
        self, tree: bytes | None, env: str, secret: str, data: bytes | None, head: bytes | None
    ) -> StoredSecret | None:
        where = file_path(env, secret)
        if data is None:
            if head is not None:
                raise IntegrityError(
                    f"{where}: the file is missing but the store's head record says it "
                    "exists; restore it from the store's history"
                )
            return None
        stored = decode(data, where=where)
        if (stored.environment, stored.secret) != (env, secret):
            raise IntegrityError(
                f"{where}: the file belongs to {stored.environment}/{stored.secret}: it was "
                "moved or copied; restore the original from the store's history"
            )
        stored.verify(self._data_keys.by_id(tree, env, stored.data_key_id), where=where)
        try:
            pinned = json.loads(head) if head is not None else None
            version, mac = (int(pinned["version"]), str(pinned["mac"])) if pinned else (None, None)
        except (ValueError, KeyError, TypeError) as exc:
            raise IntegrityError(f"{head_path(env, secret)}: head record is malformed") from exc
        if version is None:
            raise IntegrityError(
                f"{where}: the store has no head record for this file: it was added outside "
                "the controller; remove it or restore the store from its remote"
            )
        if (version, mac) != (stored.version, stored.mac):
            raise IntegrityError(
                f"{where}: the file holds version {stored.version} but the store's head "
                f"record says {version}: the file was rolled back or replaced outside the "
                "controller; restore the latest version from the store's history"
            )
        return stored

    def _decrypt(self, stored: StoredSecret, data_key: bytes) -> dict[str, bytes]:
        where = file_path(stored.environment, stored.secret)
        return {
            name: decrypt_value(
                data_key,
                key.ciphertext,
                value_binding(stored.environment, stored.secret, name, stored.version),
                where=f"{where}: keys.{name}",
            )
            for name, key in stored.keys.items()
        }

    def _versions(self, env: str, secret: str) -> Iterator[tuple[str, StoredSecret]]:
        where = file_path(env, secret)
        current = self._head_tree()
        for commit in self._git.log(where):
            tree = self._git.commit_tree(commit)
            data = self._git.read_path(tree, where)
            if data is None:
                continue
            stored = decode(data, where=f"{where}@{commit[:12]}")
            # The current record: data keys never change, and after a KEK rotation only
            # the current record is wrapped by the KEK this store holds.
            stored.verify(
                self._data_keys.by_id(current, env, stored.data_key_id),
                where=f"{where}@{commit[:12]}",
            )
            yield commit, stored

    def _version(self, env: str, secret: str, version: int) -> StoredSecret:
        for _, stored in self._versions(env, secret):
            if stored.version == version:
                return stored
        raise InputError(
            [
                Problem(
                    file_path(env, secret),
                    "version",
                    f"no version {version}; see `sealgate store history`",
                )
            ]
        )

    def _values_at(
        self, tree: bytes | None, env: str, secret: str, version: int
    ) -> dict[str, bytes] | None:
        """Plaintext of an earlier version, or None when the secret never had it."""
        old = next((s for _, s in self._versions(env, secret) if s.version == version), None)
        return (
            None
            if old is None
            else self._decrypt(old, self._data_keys.by_id(tree, env, old.data_key_id))
        )

    def _push(self) -> None:
        if self._remote is not None:
            self._git.push(self._remote)


# ====================================================================== helpers


def _audited_secret(stored: StoredSecret, item: _Pending) -> dict[str, Any]:
    """What the audit log keeps of one rewritten secret: never a value."""
    return {
        "version": stored.version,
        "tier": stored.tier.value,
        "mac": stored.mac,
        "keys": {
            key: {"op": op} if op == "delete" else {"op": op, "fingerprint": item.keys[key][0]}
            for key, op in sorted(item.operations.items())
        },
    }


def _info(stored: StoredSecret) -> SecretInfo:
    return SecretInfo(
        path=stored.path,
        version=stored.version,
        tier=stored.tier,
        change_id=stored.change_id,
        updated_at=stored.updated_at,
        keys=frozen_map(
            {
                name: KeyState(key.fingerprint, key.change_id, key.set_at)
                for name, key in sorted(stored.keys.items())
            }
        ),
        shape=stored.shape,
    )
