"""The hash-chained audit log: JSON lines, one file per day, chained across files.

Each record holds its sequence number and the hash of the record before it; its own hash is
SHA-256 over its canonical JSON without the ``hash`` field. Editing a record breaks its hash,
dropping or reordering breaks the chain and the sequence, and cutting the tail is caught by
the ``Audit-Head`` trailer every store commit carries. Records never hold values: names,
versions, fingerprints, people and reasons only.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from controller.crypto.canonical import canonical_json
from controller.errors import IntegrityError
from controller.store.types import AuditRecord

AUDIT_ROOT = ".sealgate/audit"
GENESIS = "0" * 64
PART_BYTES = 256 * 1024
_RESERVED = ("seq", "time", "event", "prev", "hash")


def day_file(when: datetime, part: int = 0) -> str:
    """``.sealgate/audit/<yyyy-mm>/<yyyy-mm-dd>.<part>.jsonl``.

    One directory per month, one file per day, and a new part once a file passes
    ``PART_BYTES``: an append rewrites one bounded file, never an ever-growing one.
    """
    day = when.astimezone(UTC)
    return f"{AUDIT_ROOT}/{day:%Y-%m}/{day:%Y-%m-%d}.{part:04d}.jsonl"


def next_part(path: str) -> str:
    stem, part, suffix = path.rsplit(".", 2)
    return f"{stem}.{int(part) + 1:04d}.{suffix}"


def record_hash(body: Mapping[str, Any]) -> str:
    return hashlib.sha256(
        canonical_json({k: v for k, v in body.items() if k != "hash"})
    ).hexdigest()


def new_record(
    *, seq: int, prev: str, when: datetime, event: str, fields: Mapping[str, Any]
) -> dict[str, Any]:
    clashing = set(fields) & set(_RESERVED)
    if clashing:
        raise ValueError(f"audit fields may not be named {sorted(clashing)}")
    body: dict[str, Any] = {
        "seq": seq,
        "time": when.astimezone(UTC).isoformat(),
        "event": event,
        "prev": prev,
        **fields,
    }
    body["hash"] = record_hash(body)
    return body


def encode_line(body: Mapping[str, Any]) -> bytes:
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode() + b"\n"


def parse_lines(data: bytes, *, where: str) -> Iterator[dict[str, Any]]:
    for number, line in enumerate(data.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            body = json.loads(line)
        except ValueError as exc:
            raise IntegrityError(f"{where}:{number}: audit record is not JSON") from exc
        if not isinstance(body, dict):
            raise IntegrityError(f"{where}:{number}: audit record is not a JSON object")
        yield body


def to_record(body: Mapping[str, Any], *, where: str) -> AuditRecord:
    try:
        return AuditRecord(
            seq=int(body["seq"]),
            time=datetime.fromisoformat(str(body["time"])),
            event=str(body["event"]),
            hash=str(body["hash"]),
            prev=str(body["prev"]),
            fields={k: v for k, v in body.items() if k not in _RESERVED},
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise IntegrityError(f"{where}: audit record lacks seq, time, event, prev or hash") from exc


def chain_problems(records: Iterable[tuple[str, dict[str, Any]]]) -> tuple[int, str, list[str]]:
    """Check every link. Returns (records seen, last hash, problems)."""
    problems: list[str] = []
    expected_prev, expected_seq, count = GENESIS, 1, 0
    for where, body in records:
        count += 1
        seq = body.get("seq")
        if body.get("hash") != record_hash(body):
            problems.append(f"{where}: record {seq} was edited (its hash does not match)")
        if body.get("prev") != expected_prev:
            problems.append(
                f"{where}: record {seq} does not follow the record before it (a record was "
                "dropped, inserted or reordered)"
            )
        if seq != expected_seq:
            problems.append(f"{where}: record {seq} found where record {expected_seq} belongs")
        expected_prev = str(body.get("hash"))
        expected_seq = (seq if isinstance(seq, int) else expected_seq) + 1
    return count, expected_prev if count else "", problems
