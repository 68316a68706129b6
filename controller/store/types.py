"""What the store takes and returns. None of these hold a value except ``SecretData``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from controller.model import DEFAULT_SHAPE, RolloutFailure, SecretShape, Tier, frozen_map


@dataclass(frozen=True, slots=True)
class CountedApproval:
    """One approval that counted toward one step of one applicable policy."""

    login: str
    policy: str
    step: str


@dataclass(frozen=True, slots=True)
class ChangeReason:
    """``spec.reason`` of one change: text a person typed, never a value."""

    secret: str
    """``<env>/<namespace>/<name>``."""
    reason: str
    source: str = ""
    """``changes/<env>/<file>.yaml``."""


@dataclass(frozen=True, slots=True)
class PullRequestOrigin:
    """Who asked, who approved, who merged, and where: recorded with every store write a
    pull request caused (apply, bypass, governance merge, rollback after its rollout)."""

    repository: str
    number: int
    url: str
    head_sha: str
    requester: str
    """The pull request's author."""
    approvals: tuple[CountedApproval, ...] = ()
    merged_by: str = ""
    merge_trigger: str = ""
    """``command`` (a ``/sealgate merge``), ``auto-merge``, ``bypass``, or ``outside``
    (merged on GitHub by someone other than sealgate)."""
    merge_requested_by: str | None = None
    """Who gave the ``/sealgate merge`` (or the bypass) that sealgate merged on."""
    bypassed_by: str | None = None
    bypass_reason: str | None = None


@dataclass(frozen=True, slots=True)
class ApprovalRecord:
    """Why a change may be applied: written to the commit trailers and the audit log."""

    change_id: str
    pull_request: int
    head_sha: str
    approved_by: tuple[str, ...]
    merged_by: str
    bypass_reason: str | None = None
    bypassed_by: str | None = None
    """Who broke the glass, when ``bypass_reason`` is set: the audit names the person."""
    origin: PullRequestOrigin | None = None
    """The pull request behind the change (None for records written before it existed)."""
    reasons: tuple[ChangeReason, ...] = ()


@dataclass(frozen=True, slots=True)
class ApplyResult:
    change_id: str
    commit: str
    versions: Mapping[str, int]
    """``<env>/<namespace>/<name>`` -> the version this change produced."""
    already_applied: bool
    on_rollout_failure: Mapping[str, RolloutFailure] = field(default_factory=frozen_map)
    """Per path, what a failed rollout does, as recorded with the apply (empty for
    rollbacks and applies recorded before the field existed)."""


@dataclass(frozen=True, slots=True)
class SecretData:
    """Plaintext values, in memory only, for the sync. Never log or persist ``data``."""

    path: str
    """``<env>/<namespace>/<name>``."""
    version: int
    tier: Tier
    data: Mapping[str, bytes] = field(repr=False)
    change_id: str
    shape: SecretShape = DEFAULT_SHAPE

    @property
    def environment(self) -> str:
        return self.path.split("/", 1)[0]

    @property
    def secret(self) -> str:
        """``<namespace>/<name>``."""
        return self.path.split("/", 1)[1]


@dataclass(frozen=True, slots=True)
class KeyState:
    fingerprint: str
    change_id: str
    set_at: datetime


@dataclass(frozen=True, slots=True)
class SecretInfo:
    """What ``sealgate store ls`` shows: never a value."""

    path: str
    version: int
    tier: Tier
    change_id: str
    updated_at: datetime
    keys: Mapping[str, KeyState] = field(default_factory=frozen_map)
    shape: SecretShape = DEFAULT_SHAPE


@dataclass(frozen=True, slots=True)
class VersionInfo:
    version: int
    commit: str
    change_id: str
    time: datetime
    tier: Tier
    fingerprints: Mapping[str, str] = field(default_factory=frozen_map)
    shape: SecretShape = DEFAULT_SHAPE


@dataclass(frozen=True, slots=True)
class AuditRecord:
    seq: int
    time: datetime
    event: str
    """``apply``, ``bypass``, ``rollback`` or ``key``."""
    hash: str
    prev: str
    fields: Mapping[str, Any] = field(default_factory=frozen_map)
    """Everything else the record holds (change id, approvers, versions, fingerprints)."""


@dataclass(frozen=True, slots=True)
class AuditReport:
    records: int
    secrets: int
    head: str
    """Hash of the last audit record (empty for an empty store)."""
    problems: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.problems


WITHHELD_QUOTED = "withheld: it quotes a value of a secret it names"
"""What a grant keeps of a reason that quotes a stored value: the reconciler, which reads
the values, puts it there, and the store records the reason as withheld."""
