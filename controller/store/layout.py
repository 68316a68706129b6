"""Where things live in the store's tree, and the small records written beside each secret."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from controller.store.secretfile import StoredSecret, file_path
from controller.store.trailers import origin_fields, reason_fields, record_trailers
from controller.store.types import ApprovalRecord

META = ".sealgate"
HEADS_ROOT = f"{META}/heads"
INDEX_ROOT = f"{META}/index"
TRUSTED_RULES_ROOT = f"{META}/trusted-rules"


def trusted_rules_path(digest: str) -> str:
    """Where the record of one trusted rule set lives (``sha256:<hex>`` -> a file name)."""
    return f"{TRUSTED_RULES_ROOT}/{digest.replace(':', '-')}.json"


def head_path(env: str, secret: str) -> str:
    return f"{HEADS_ROOT}/{env}/{secret}.json"


def index_path(change_id: str) -> str:
    digest = hashlib.sha256(change_id.encode()).hexdigest()
    return f"{INDEX_ROOT}/{digest[:2]}/{digest[2:4]}/{digest}.json"


def index_entry(
    change_id: str,
    event: str,
    versions: Mapping[str, int],
    now: datetime,
    *,
    on_rollout_failure: Mapping[str, str] | None = None,
) -> bytes:
    entry: dict[str, Any] = {
        "changeId": change_id,
        "event": event,
        "versions": dict(sorted(versions.items())),
        "appliedAt": now.astimezone(UTC).isoformat(),
    }
    if on_rollout_failure is not None:
        # What a failed rollout of this apply does, decided at review: a resumed delivery
        # reads it here rather than from rules that may have changed since.
        entry["onRolloutFailure"] = dict(sorted(on_rollout_failure.items()))
    return json.dumps(entry, sort_keys=True).encode()


def secret_contents(stored: StoredSecret) -> dict[str, bytes]:
    head = json.dumps({"version": stored.version, "mac": stored.mac}, sort_keys=True).encode()
    return {
        file_path(stored.environment, stored.secret): stored.encode(),
        head_path(stored.environment, stored.secret): head,
    }


def apply_events(
    environment: str, record: ApprovalRecord, secrets_audit: Mapping[str, Any]
) -> list[tuple[str, dict[str, Any]]]:
    approval = {
        # The pull request's people and URL first: the record's own fields below win.
        **origin_fields(record.origin),
        "changeId": record.change_id,
        "environment": environment,
        "pullRequest": record.pull_request,
        "headSha": record.head_sha,
        "approvedBy": list(record.approved_by),
        "mergedBy": record.merged_by,
    }
    events: list[tuple[str, dict[str, Any]]] = [
        (
            "apply",
            {
                **approval,
                "bypassReason": record.bypass_reason,
                "bypassedBy": record.bypassed_by,
                # Only when known: a record without them stays as records were before.
                **({"reasons": reason_fields(record.reasons)} if record.reasons else {}),
                "secrets": secrets_audit,
            },
        )
    ]
    if record.bypass_reason is not None:
        events.append(
            ("bypass", {**approval, "reason": record.bypass_reason, "by": record.bypassed_by})
        )
    return events


def approval_trailers(record: ApprovalRecord) -> list[tuple[str, str]]:
    trailers = [
        ("Change-Id", record.change_id),
        ("Pull-Request", str(record.pull_request)),
        ("Head-Sha", record.head_sha),
        ("Approved-By", ", ".join(record.approved_by)),
        ("Merged-By", record.merged_by),
    ]
    if record.bypass_reason is not None:
        trailers.append(("Bypass", record.bypass_reason))
        trailers.append(("Bypassed-By", record.bypassed_by or "unknown"))
    return [*trailers, *record_trailers(record)]


def commit_message(subject: str, trailers: Sequence[tuple[str, str]]) -> str:
    # Trailers must stay one line each, whatever a reason or name contains.
    lines = [f"{name}: {' '.join(value.split())}" for name, value in trailers]
    return subject + "\n\n" + "\n".join(lines) + "\n"
