"""Access grants in the store: every state change one commit, with its audit record.

A write re-reads the grant from the head inside the store's writer lock, builds the new grant
file, its keyed head record and the audit records, and publishes them in one commit (a crash
leaves the old state or the new one). Reads check each file against its MAC, its head record
and the audit record that head names (see ``grantfile``): a file edited, added or copied by
hand is refused on read; one put back whole from an earlier state (file, head and all) is
valid on its own, and ``audit_verify`` reports that it is not the audit log's latest.

Reasons are text people typed, kept whole; one that looks like it holds a credential is
withheld from the file, the record and the commit (a revocation is never refused for its
reason: stopping access matters more than the note about why).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from controller.errors import InputError, Problem
from controller.model import Grant, GrantState
from controller.store.audit_log import AuditLog
from controller.store.checks import ENVIRONMENT
from controller.store.crashpoint import crashpoint
from controller.store.datakeys import DataKeys
from controller.store.gitobjects import GitObjects
from controller.store.grant_checks import (
    Quoting,
    audit_by_seq,
    check_new,
    check_time,
    collected,
    grant_files,
    latest_seqs,
    no_grant,
    refuse_rolled_back,
    safe_reason,
    use_problems,
    verify_grant,
)
from controller.store.grantfile import (
    GRANT_EVENTS,
    GRANT_HEADS_ROOT,
    GRANT_ID,
    GRANTS_ROOT,
    GrantHead,
    approval_fields,
    digest,
    encode,
    grant_head_path,
    grant_mac,
    grant_path,
    seconds,
)
from controller.store.layout import commit_message
from controller.store.trailers import one_line, origin_fields, origin_trailers
from controller.store.types import PullRequestOrigin

_log = logging.getLogger(__name__)
REFUSED_EVENT = "access-refused"
_ENDINGS = frozenset({GrantState.ENDED, GrantState.LAPSED, GrantState.REVOKED})


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


class Grants:
    """The grant half of ``controller.store.Store`` (which delegates here)."""

    def __init__(
        self,
        git: GitObjects,
        audit_log: AuditLog,
        data_keys: DataKeys,
        clock: Callable[[], datetime],
        push: Callable[[], None],
        *,
        quoting: Quoting | None = None,
    ) -> None:
        self._quoting: Quoting = quoting or (lambda environment, secrets, text: False)
        self._git = git
        self._audit = audit_log
        self._data_keys = data_keys
        self._clock = clock
        self._push = push

    # ============================================================== writes

    def record(self, grant: Grant, *, actor: str, origin: PullRequestOrigin | None) -> Grant:
        check_new(grant)
        quoted = self._quotes(grant, grant.reason)
        with self._git.writer_lock():
            head, tree = self._head()
            stored = self._find(tree, grant.id)
            if stored is not None:
                _log.info("grant %s was already recorded", grant.id)
            else:
                reason, withheld = safe_reason(grant.reason, quoted=quoted)
                stored = dataclasses.replace(grant, reason=reason)
                if origin is not None and origin.bypass_reason:
                    bypass = safe_reason(origin.bypass_reason)[0]
                    origin = dataclasses.replace(origin, bypass_reason=bypass)
                event = {
                    # The pull request's people first: the grant's own fields below win.
                    **origin_fields(origin),
                    **self._fields(stored, actor),
                    **approval_fields(stored),
                    "reasonWithheld": withheld,
                }
                subject = (
                    f"Grant {stored.id} in {stored.environment}: {len(stored.secrets)} "
                    f"secret(s) to {stored.requester} for {seconds(stored.duration)}s"
                )
                trailers = [("Actor", actor), ("Grant", stored.id), *origin_trailers(origin)]
                self._commit((head, tree), stored, [("grant-approved", event)], subject, trailers)
        self._push()
        return stored

    def use(
        self, grant_id: str, *, at: datetime, actor: str, secret: str, keys: Sequence[str], via: str
    ) -> Grant:
        check_time(grant_id, at)
        with self._git.writer_lock():
            head, tree = self._head()
            grant = self._existing(tree, grant_id)
            problems = use_problems(grant, at, secret, keys)
            if problems:
                raise InputError(problems)
            first = grant.first_used_at is None
            updated = dataclasses.replace(
                grant, first_used_at=at if first else grant.first_used_at, uses=grant.uses + 1
            )
            fields = self._fields(updated, actor)
            events: list[tuple[str, dict[str, Any]]] = []
            if first:
                events.append(
                    ("grant-activated", {**fields, "at": _iso(at), "endsAt": _iso(updated.ends_at)})
                )
            # No keys named: the keys the grant gives of that secret (none listed: all of them).
            named = list(keys) or list(grant.keys_of(secret) or ())
            used = {**fields, "at": _iso(at), "secret": secret, "keys": named, "via": via}
            events.append(("grant-used", {**used, "uses": updated.uses}))
            subject = f"Grant {grant_id}: use {updated.uses} of {secret} by {actor} ({via})"
            if first:
                subject += ", activated"
            self._commit(
                (head, tree), updated, events, subject, [("Actor", actor), ("Grant", grant_id)]
            )
        self._push()
        return updated

    def revoke(self, grant_id: str, *, at: datetime, actor: str, reason: str) -> Grant:
        check_time(grant_id, at)
        known = self.get(grant_id)
        quoted = known is not None and self._quotes(known, reason)
        with self._git.writer_lock():
            head, tree = self._head()
            grant = self._existing(tree, grant_id)
            if grant.revoked_at is not None or grant.ended_recorded or not grant.state(at).live:
                _log.info(
                    "grant %s is already over (%s): nothing to revoke", grant_id, grant.state(at)
                )
                updated = None
            else:
                text, withheld = safe_reason(reason, quoted=quoted)
                updated = dataclasses.replace(
                    grant, revoked_at=at, revoked_by=actor, revoke_reason=text
                )
                event = {
                    **self._fields(updated, actor),
                    "at": _iso(at),
                    "reason": text,
                    "reasonWithheld": withheld,
                }
                trailers = [("Actor", actor), ("Grant", grant_id), ("Reason", one_line(text))]
                subject = f"Grant {grant_id}: revoked by {actor}"
                self._commit((head, tree), updated, [("grant-revoked", event)], subject, trailers)
        self._push()
        return grant if updated is None else updated

    def end(self, grant_id: str, *, at: datetime, state: GrantState) -> Grant:
        check_time(grant_id, at)
        if state not in _ENDINGS:
            raise InputError(
                [Problem(f"grant {grant_id}", "state", "must be ended, lapsed or revoked")]
            )
        with self._git.writer_lock():
            head, tree = self._head()
            grant = self._existing(tree, grant_id)
            if grant.ended_recorded:
                updated = None
            else:
                actual = grant.state(at)
                if actual.live:
                    raise InputError(
                        [Problem(f"grant {grant_id}", "state", f"is {actual} until "
                                 f"{_iso(grant.ends_at)}: it has not ended")]
                    )  # fmt: skip
                if actual is not state:
                    # The grant's own clock is the record: a caller's stale view is not.
                    _log.warning("grant %s ended %s, not %s as asked", grant_id, actual, state)
                updated = dataclasses.replace(grant, ended_recorded=True)
                event = {**self._fields(updated, "sealgate"), "at": _iso(at), "state": str(actual)}
                subject = f"Grant {grant_id}: {actual}, access removed"
                self._commit(
                    (head, tree), updated, [("grant-ended", event)], subject, [("Grant", grant_id)]
                )
        self._push()
        return grant if updated is None else updated

    def refuse(
        self,
        *,
        at: datetime,
        actor: str,
        environment: str,
        secret: str,
        reason: str,
        grant_id: str | None,
    ) -> None:
        check_time(grant_id or "-", at)
        text, withheld = safe_reason(reason)
        event = {
            "actor": actor,
            "environment": environment,
            "secret": secret,
            "at": _iso(at),
            "reason": text,
            "reasonWithheld": withheld,
            "grantId": grant_id,
        }
        trailers = [("Actor", actor)] + ([("Grant", grant_id)] if grant_id else [])
        with self._git.writer_lock():
            head, tree = self._head()
            subject = f"Access refused: {actor} to {environment}/{secret}"
            self._commit((head, tree), None, [(REFUSED_EVENT, event)], subject, trailers)
        self._push()

    # ============================================================== reads

    def _quotes(self, grant: Grant, text: str) -> bool:
        secrets = [item.secret for item in grant.secrets]
        return bool(text.strip()) and self._quoting(grant.environment, secrets, text)

    def get(self, grant_id: str) -> Grant | None:
        return self._find(self._head()[1], grant_id)

    def all(self, *, live_only: bool = False) -> list[Grant]:
        """Every grant that verifies. One that does not (a hand edit, a forgery, a state put
        back) is left out and logged as an error, never raised: a single bad file must not
        stop the grant loop, or every ended grant would keep its Kubernetes binding. Left
        out, it gives nothing: open refuses it and its bindings count as strays, removed.
        ``sealgate audit verify`` names it."""
        problems: list[str] = []
        found = [grant for grant, _ in self._verified_all(self._head()[1], problems)]
        for problem in problems:
            _log.error("store: a grant fails verification and is ignored: %s", problem)
        found.sort(key=lambda g: (g.approved_at, g.id))
        return [g for g in found if not (live_only and g.ended_recorded)]

    def problems(
        self, tree: bytes | None, bodies: Sequence[tuple[str, Mapping[str, Any]]]
    ) -> list[str]:
        """``audit_verify``'s part: every grant file verifies and is what the audit log's
        latest record of that grant wrote; every audited grant has its file."""
        audited = {
            str(body["grantId"])
            for _, body in bodies
            if body.get("event") in GRANT_EVENTS and isinstance(body.get("grantId"), str)
        }
        problems: list[str] = []
        with collected(problems):
            self._verified_all(tree, problems)
        present = {grant_id for _, grant_id in grant_files(self._git, tree)}
        problems.extend(
            f"grant {grant_id}: the audit log records it but the store has no file"
            for grant_id in sorted(audited - present)
        )
        return problems

    # ============================================================== internals

    def _head(self) -> tuple[str | None, bytes | None]:
        head = self._git.head()
        return head, (self._git.commit_tree(head) if head else None)

    def _environments(self, tree: bytes | None) -> list[str]:
        names: set[str] = set()
        for root in (GRANTS_ROOT, GRANT_HEADS_ROOT):
            entry = self._git.lookup(tree, root)
            if entry is not None:
                names.update(self._git.tree_entries(entry[0]))
        return sorted(n for n in names if ENVIRONMENT.fullmatch(n))

    def _existing(self, tree: bytes | None, grant_id: str) -> Grant:
        grant = self._find(tree, grant_id)
        if grant is None:
            raise no_grant(grant_id)
        return grant

    def _find(self, tree: bytes | None, grant_id: str) -> Grant | None:
        if not GRANT_ID.fullmatch(grant_id):
            return None
        for env in self._environments(tree):
            data = self._git.read_path(tree, grant_path(env, grant_id))
            pin = self._git.read_path(tree, grant_head_path(env, grant_id))
            if data is not None or pin is not None:
                grant, head = self._verified(tree, env, grant_id, data=data, pin=pin, cache={})
                refuse_rolled_back(grant, head, latest_seqs(self._git, tree, head.audit_file))
                return grant
        return None

    def _verified_all(
        self, tree: bytes | None, problems: list[str] | None = None
    ) -> list[tuple[Grant, GrantHead]]:
        """Every grant, verified; with ``problems``, one that fails is told there and left out
        (``audit_verify`` reports them all), else the first failure raises."""
        cache: dict[str, dict[int, Mapping[str, Any]]] = {}
        verified: list[tuple[Grant, GrantHead]] = []
        for (env, grant_id), got in sorted(grant_files(self._git, tree).items()):
            with collected(problems):
                verified.append(
                    self._verified(
                        tree, env, grant_id, data=got.get("file"), pin=got.get("head"), cache=cache
                    )
                )
        # A grant whose end is recorded gives nothing, and no later state can follow it:
        # only a full check (``problems``) reads the log back to the oldest of those.
        checked = {g.id: h for g, h in verified if problems is not None or not g.ended_recorded}
        since = min((h.audit_file for h in checked.values()), default=None)
        latest = latest_seqs(self._git, tree, since) if since is not None else {}
        kept: list[tuple[Grant, GrantHead]] = []
        for grant, head in verified:
            with collected(problems):
                if grant.id in checked:
                    refuse_rolled_back(grant, head, latest)
                kept.append((grant, head))
        return kept

    def _verified(
        self,
        tree: bytes | None,
        env: str,
        grant_id: str,
        *,
        data: bytes | None,
        pin: bytes | None,
        cache: dict[str, dict[int, Mapping[str, Any]]],
    ) -> tuple[Grant, GrantHead]:
        def record_at(audit_file: str, seq: int) -> Mapping[str, Any] | None:
            if audit_file not in cache:
                content = self._git.read_path(tree, audit_file) or b""
                cache[audit_file] = audit_by_seq(content, where=audit_file)
            return cache[audit_file].get(seq)

        return verify_grant(
            env,
            grant_id,
            data=data,
            pin=pin,
            record_at=record_at,
            data_key=lambda key_id: self._data_keys.by_id(tree, env, key_id),
        )

    @staticmethod
    def _fields(grant: Grant, actor: str) -> dict[str, Any]:
        return {"grantId": grant.id, "environment": grant.environment, "actor": actor}

    def _commit(
        self,
        base: tuple[str | None, bytes | None],
        grant: Grant | None,
        events: list[tuple[str, dict[str, Any]]],
        subject: str,
        trailers: list[tuple[str, str]],
    ) -> str:
        head, tree = base
        now = self._clock()
        contents: dict[str, bytes] = {}
        if grant is not None:
            data = encode(grant)
            for _, fields in events:
                fields["grantDigest"] = digest(data)
            contents[grant_path(grant.environment, grant.id)] = data
        audit_path, audit_content, audit_head = self._audit.append(tree, events, now)
        contents[audit_path] = audit_content
        if grant is not None:
            env = grant.environment
            # Created with the first grant of an environment that holds no secret yet.
            key_id, data_key, key_update = self._data_keys.current(tree, env)
            contents.update(key_update)
            seq, last_hash = audit_head.split(" ")
            mac = grant_mac(data_key, env, grant.id, digest(data))
            pin = GrantHead(digest(data), audit_path, int(seq), last_hash, key_id, mac)
            contents[grant_head_path(env, grant.id)] = pin.encode()
        paths = sorted(contents)
        shas = self._git.write_blobs([contents[p] for p in paths])
        crashpoint("grant:blobs-written")
        new_tree = self._git.update_tree(tree, dict(zip(paths, shas, strict=True)))
        message = commit_message(
            one_line(subject),
            [*((k, one_line(v)) for k, v in trailers), ("Audit-Head", audit_head)],
        )
        commit = self._git.write_commit(new_tree, message, head, now)
        crashpoint("grant:commit-written")
        self._git.advance(commit, head)
        crashpoint("grant:ref-updated")
        _log.info("%s (%s)", one_line(subject), commit[:12])
        return commit
