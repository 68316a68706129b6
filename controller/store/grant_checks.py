"""What grant writes refuse, and how a grant file read back is checked (see ``grantfile``)."""

from __future__ import annotations

import contextlib
import hmac
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

from controller.documents.reason_check import credential_in
from controller.errors import InputError, IntegrityError, Problem
from controller.model import Grant, GrantState
from controller.store import audit
from controller.store.checks import ENVIRONMENT, secret_problems
from controller.store.gitobjects import GitObjects
from controller.store.grantfile import (
    GRANT_EVENTS,
    GRANT_HEADS_ROOT,
    GRANT_ID,
    GRANTS_ROOT,
    GrantHead,
    decode,
    digest,
    grant_head_path,
    grant_mac,
    grant_path,
)
from controller.store.types import WITHHELD_QUOTED

WITHHELD_CREDENTIAL = "withheld: it looks like it holds {kind}"
WITHHELD_VALUE = WITHHELD_QUOTED

Quoting = Callable[[str, Sequence[str], str], bool]
"""(environment, the grant's secrets, a reason) -> whether the reason quotes a value the
store holds for one of them (``Store`` opens them to compare and drops them)."""


def safe_reason(text: str, *, quoted: bool = False) -> tuple[str, bool]:
    """(what to store, withheld?): the reason as given unless it looks like a credential
    or, ``quoted``, it quotes a value the store holds (a paste into a revoke comment)."""
    if text == WITHHELD_QUOTED:
        return text, True
    kind = credential_in(text)
    if kind is not None:
        return WITHHELD_CREDENTIAL.format(kind=kind), True
    return (WITHHELD_VALUE, True) if quoted else (text, False)


def no_grant(grant_id: str) -> InputError:
    return InputError(
        [Problem(f"grant {grant_id}", "id", "no such grant in the store; list them with "
                 "`sealgate access ls --all`")]
    )  # fmt: skip


def check_new(grant: Grant) -> None:
    where = f"grant {grant.id}"
    problems: list[Problem] = []
    if not GRANT_ID.fullmatch(grant.id):
        problems.append(Problem(where, "id", "must be a Kubernetes label value (grant_id_for)"))
    if not ENVIRONMENT.fullmatch(grant.environment):
        problems.append(Problem(where, "environment", "must match [a-z0-9][a-z0-9-]{0,62}"))
    if not grant.secrets:
        problems.append(Problem(where, "secrets", "a grant names at least one secret"))
    for item in grant.secrets:
        problems.extend(secret_problems(where, item.secret, item.keys))
    for name, moment in (("approved_at", grant.approved_at), ("activate_by", grant.activate_by)):
        problems.extend(aware_problems(where, name, moment))
    if not grant.deliver:
        problems.append(Problem(where, "deliver", "a grant names at least one delivery"))
    if grant.duration.total_seconds() <= 0:
        problems.append(Problem(where, "duration", "must be positive"))
    if grant.first_used_at is not None or grant.uses or grant.revoked_at or grant.ended_recorded:
        problems.append(
            Problem(where, "state", "a new grant is unused, unrevoked and not ended; record "
                    "uses, revocation and end through the store")
        )  # fmt: skip
    if problems:
        raise InputError(problems)


def aware_problems(where: str, name: str, moment: datetime) -> list[Problem]:
    """A time without a zone cannot be compared with the grant's: refuse it up front."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        return [Problem(where, name, "must carry a time zone (UTC)")]
    return []


def check_time(grant_id: str, at: datetime) -> None:
    problems = aware_problems(f"grant {grant_id}", "at", at)
    if problems:
        raise InputError(problems)


def use_problems(grant: Grant, at: datetime, secret: str, keys: Sequence[str]) -> list[Problem]:
    where = f"grant {grant.id}"
    state = grant.state(at)
    if grant.ended_recorded or grant.revoked_at is not None or not state.live:
        over = GrantState.REVOKED if grant.revoked_at is not None else state
        return [Problem(where, "state", f"is {over}: it gives no access any more")]
    if at < grant.approved_at:
        return [Problem(where, "at", "is before the grant was approved")]
    missing = [k for k in keys if not grant.covers(secret, k)]
    if not grant.covers(secret) or missing:
        named = f"{secret} ({', '.join(missing)})" if missing and grant.covers(secret) else secret
        return [Problem(where, "secret", f"does not cover {named}")]
    return []


def audit_by_seq(content: bytes, *, where: str) -> dict[int, Mapping[str, Any]]:
    found: dict[int, Mapping[str, Any]] = {}
    for body in audit.parse_lines(content, where=where):
        seq = body.get("seq")
        if isinstance(seq, int):
            found[seq] = body
    return found


def verify_grant(
    env: str,
    grant_id: str,
    *,
    data: bytes | None,
    pin: bytes | None,
    record_at: Callable[[str, int], Mapping[str, Any] | None],
    data_key: Callable[[str], bytes],
) -> tuple[Grant, GrantHead]:
    """The grant in ``data`` and its head record, once file, MAC, head record and audit record
    agree. ``data_key`` gives the environment's data key by id."""
    where = grant_path(env, grant_id)
    if data is None or pin is None:
        missing = "file" if data is None else "head record"
        raise IntegrityError(
            f"{where}: the grant's {missing} is missing: it was deleted or added outside "
            "the controller; restore the store from its history or its remote"
        )
    grant = decode(data, where=where)
    if (grant.environment, grant.id) != (env, grant_id):
        raise IntegrityError(f"{where}: holds grant {grant.id}: it was moved or copied")
    head = GrantHead.decode(pin, where=grant_head_path(env, grant_id))
    file_digest = digest(data)
    if head.digest != file_digest:
        raise IntegrityError(
            f"{where}: the file is not the one the controller last wrote (its digest "
            "differs from the head record's): it was edited outside the controller; "
            "restore it from the store's history"
        )
    expected = grant_mac(data_key(head.data_key_id), env, grant_id, file_digest)
    if not hmac.compare_digest(expected, head.mac):
        raise IntegrityError(
            f"{where}: the grant's MAC does not match: it was written outside the controller "
            "(or copied from another store); restore it from the store's history"
        )
    record = record_at(head.audit_file, head.seq)
    if (
        record is None
        or record.get("event") not in GRANT_EVENTS
        or record.get("hash") != head.hash
        or audit.record_hash(record) != head.hash
        or record.get("grantId") != grant_id
        or record.get("grantDigest") != file_digest
    ):
        raise IntegrityError(
            f"{where}: the audit record {head.seq} its head names does not record this "
            "file: the grant or the audit log was edited outside the controller; run "
            "`sealgate audit verify`"
        )
    return grant, head


def latest_seqs(git: GitObjects, tree: bytes | None, since: str) -> dict[str, int]:
    """Grant id -> the sequence number of its latest state change, from the audit files
    ``since`` on (their names sort in the order they were written)."""
    root = git.lookup(tree, audit.AUDIT_ROOT)
    latest: dict[str, int] = {}
    if root is None:
        return latest
    for path, sha in git.walk_blobs(root[0], audit.AUDIT_ROOT + "/"):
        if path < since:
            continue
        for body in audit.parse_lines(git.read_blob(sha), where=path):
            grant_id, seq = body.get("grantId"), body.get("seq")
            if body.get("event") in GRANT_EVENTS and isinstance(grant_id, str):
                latest[grant_id] = seq if isinstance(seq, int) else -1
    return latest


def refuse_rolled_back(grant: Grant, head: GrantHead, latest: Mapping[str, int]) -> None:
    """A whole earlier state put back (file, head and MAC all valid) is still not the one
    the audit log ends with: a revocation undone that way must not give access again."""
    if latest.get(grant.id) != head.seq:
        raise IntegrityError(
            f"{grant_path(grant.environment, grant.id)}: an earlier state of the grant was put "
            f"back (the audit log records a later one than record {head.seq}): it was rolled "
            "back outside the controller; restore the latest from the store's history"
        )


def grant_files(git: GitObjects, tree: bytes | None) -> dict[tuple[str, str], dict[str, bytes]]:
    """(environment, grant id) -> its ``file`` and ``head`` blobs, read in one batch each."""
    files: dict[tuple[str, str], dict[str, bytes]] = {}
    for root, kind in ((GRANTS_ROOT, "file"), (GRANT_HEADS_ROOT, "head")):
        entry = git.lookup(tree, root)
        if entry is None:
            continue
        listed = [(p, sha) for p, sha in git.walk_blobs(entry[0]) if p.endswith(".json")]
        blobs = git.read_blobs([sha for _, sha in listed])
        for (path, _), blob in zip(listed, blobs, strict=True):
            env, _, name = path.partition("/")
            files.setdefault((env, name.removesuffix(".json")), {})[kind] = blob
    return files


@contextlib.contextmanager
def collected(problems: list[str] | None) -> Iterator[None]:
    """Integrity failures raise, or with a list to collect them in, are told there."""
    try:
        yield
    except IntegrityError as exc:
        if problems is None:
            raise
        problems.append(str(exc))
