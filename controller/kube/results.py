"""What a sync asked for and what it did, as immutable values the reconciler reports on.

Desired data is plaintext: it lives only in memory and is kept out of every ``repr`` so a
stray log line or traceback cannot show it.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field

from controller.model import DEFAULT_SHAPE, SecretShape, frozen_map


@dataclass(frozen=True, slots=True)
class Provenance:
    """Where a Secret's content came from: written to its annotations and its events."""

    store_version: int
    change_id: str
    pull_request: int | None = None


@dataclass(frozen=True, slots=True)
class DesiredSecret:
    namespace: str
    name: str
    data: Mapping[str, bytes] = field(repr=False, default_factory=frozen_map)
    provenance: Provenance = Provenance(store_version=0, change_id="")
    shape: SecretShape = DEFAULT_SHAPE


class SecretOutcome(enum.StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    REFUSED = "refused"
    """A Secret of that name exists and sealgate does not manage it; left untouched."""
    FAILED = "failed"


class RolloutOutcome(enum.StrEnum):
    ROLLED = "rolled"
    """Restarted (now or by an earlier, interrupted sync) and the rollout completed."""
    RESTARTED = "restarted"
    """Restarted, but not watched: ``wait=False`` or an update strategy with no rollout."""
    UNCHANGED = "unchanged"
    """Already runs with this content: not restarted."""
    SKIPPED = "skipped"
    """Uses the Secret but opted out of restarts: its pods keep the old content."""
    FAILED = "failed"
    TIMEOUT = "timeout"


@dataclass(frozen=True, slots=True)
class SecretSync:
    cluster: str
    namespace: str
    name: str
    outcome: SecretOutcome
    message: str = ""
    retryable: bool = False
    """For ``failed``: whether syncing again later can help (throttling, outages)."""
    checksum: str = ""


@dataclass(frozen=True, slots=True)
class WorkloadOutcome:
    cluster: str
    kind: str
    namespace: str
    name: str
    outcome: RolloutOutcome
    message: str = ""
    secrets: tuple[str, ...] = ()
    """Names of the synced Secrets (same namespace) this workload uses."""


_BAD_SECRET = frozenset({SecretOutcome.REFUSED, SecretOutcome.FAILED})
_BAD_ROLLOUT = frozenset({RolloutOutcome.FAILED, RolloutOutcome.TIMEOUT})


@dataclass(frozen=True, slots=True)
class SyncReport:
    secrets: tuple[SecretSync, ...] = ()
    workloads: tuple[WorkloadOutcome, ...] = ()

    @property
    def ok(self) -> bool:
        """Every Secret is in place and every restarted workload rolled out (or was not watched)."""
        return not any(s.outcome in _BAD_SECRET for s in self.secrets) and not any(
            w.outcome in _BAD_ROLLOUT for w in self.workloads
        )

    @property
    def retryable(self) -> bool:
        """Some failure may clear by itself: worth syncing again later."""
        return any(s.outcome is SecretOutcome.FAILED and s.retryable for s in self.secrets) or any(
            w.outcome is RolloutOutcome.TIMEOUT for w in self.workloads
        )

    @property
    def changed(self) -> tuple[SecretSync, ...]:
        return tuple(
            s for s in self.secrets if s.outcome in (SecretOutcome.CREATED, SecretOutcome.UPDATED)
        )

    def merge(self, other: SyncReport) -> SyncReport:
        return SyncReport(self.secrets + other.secrets, self.workloads + other.workloads)
