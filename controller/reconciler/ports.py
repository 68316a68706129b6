"""The narrow interfaces the reconciler needs from the world, and the metrics observer.

The concrete adapters satisfy these structurally: ``controller.store.Store`` is a
:class:`StorePort`, ``controller.kube.KubeTargets`` a :class:`TargetsPort`,
``controller.keyring.Keyring`` a :class:`KeysPort`, ``controller.notify.Notifier`` a
:class:`NotifierPort`; ``controller.github.GitHubGateway`` bundles the GitHub adapter's
pieces into a :class:`GitHubPort`. Only the adapters' plain value modules are imported here:
the reconciler may not reach PyGithub, the kubernetes client or git, even indirectly.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Protocol

from controller.errors import Problem
from controller.github.records import MergedPull, RulesAt, SyncCheck, SyncCheckState
from controller.github.summary import Summary
from controller.kube.results import DesiredSecret, SyncReport
from controller.model import (
    Grant,
    GrantState,
    NotifyTargets,
    PullRequestFacts,
    SecretChange,
    Tier,
)
from controller.notify.events import Notification
from controller.policy.reviewers import ReviewAsk
from controller.store.types import (
    ApplyResult,
    ApprovalRecord,
    PullRequestOrigin,
    SecretData,
    SecretInfo,
    VersionInfo,
)


class Snapshot(Protocol):
    """One pull request as read from GitHub (``controller.github.PullRequestSnapshot``)."""

    @property
    def repo(self) -> str: ...

    @property
    def title(self) -> str: ...

    @property
    def state(self) -> str:
        """``open``, ``closed`` (without merging) or ``merged``."""
        ...

    @property
    def facts(self) -> PullRequestFacts: ...

    @property
    def change_files(self) -> Mapping[str, bytes]: ...

    @property
    def rule_files(self) -> Mapping[str, bytes]: ...

    @property
    def proposed_rule_files(self) -> Mapping[str, bytes] | None:
        """The rules at the head when the pull request changes them, else None."""
        ...

    @property
    def problems(self) -> tuple[Problem, ...]: ...

    @property
    def refusal(self) -> str | None:
        """Why the pull request is not judged at all (its base branch or its fork)."""
        ...

    @property
    def base_ref(self) -> str: ...

    @property
    def url(self) -> str:
        """The pull request's web address (``html_url``)."""
        ...

    @property
    def rules_sha(self) -> str:
        """The commit ``rule_files`` were read at."""
        ...

    @property
    def rules_from_default_branch(self) -> bool:
        """Whether ``rule_files`` are the default branch's, at its tip."""
        ...


class GitHubPort(Protocol):
    def login(self) -> str:
        """The account sealgate acts as (its comments and checks carry it)."""
        ...

    def fetch(self, repo: str, number: int) -> Snapshot: ...

    def current_rules(self, repo: str) -> RulesAt:
        """``environments/`` and ``policies/`` files at the head of the default branch."""
        ...

    def fresh_teams(self, teams: Iterable[str]) -> Mapping[str, frozenset[str]]:
        """Members of each ``org/slug`` team read from GitHub now, bypassing any cache."""
        ...

    def expect_teams(self, repo: str, number: int, teams: Iterable[str]) -> None:
        """The teams a decision on this pull request relied on: its next :meth:`fetch`
        reads their members from GitHub alongside the reviews, so that :meth:`fresh_teams`
        right after it needs no further round trip."""
        ...

    def first_parent(self, repo: str, sha: str) -> str | None:
        """The first parent of commit ``sha`` (what a merge commit was merged into); None
        when ``sha`` is empty or has no parent."""
        ...

    def rules_at(self, repo: str, sha: str) -> Mapping[str, bytes]:
        """``environments/`` and ``policies/`` files at commit ``sha``."""
        ...

    def report(self, snapshot: Snapshot, summary: Summary) -> None:
        """The ``sealgate`` check, the sticky comment and the label; idempotent.
        ``snapshot`` is one :meth:`fetch` returned."""
        ...

    def request_reviews(self, snapshot: Snapshot, want: ReviewAsk) -> None:
        """Ask the people and teams in ``want`` to review the head, each once per head;
        idempotent, and free when nobody new is wanted."""
        ...

    def sync_state(self, repo: str, head_sha: str) -> SyncCheckState | None: ...

    def report_sync(self, repo: str, number: int, head_sha: str, check: SyncCheck) -> None: ...

    def merge(self, repo: str, number: int, head_sha: str, method: str) -> str:
        """Merge only if the head is still ``head_sha``; ``ConflictError`` when it moved."""
        ...

    def comment_once(self, repo: str, number: int, key: str, body: str) -> bool: ...

    def changed_pulls(self, repo: str) -> list[int]:
        """Open pull requests new or moved since the last call."""
        ...

    def open_pulls(self, repo: str) -> list[int]: ...

    def recently_merged(self, repo: str) -> list[MergedPull]: ...

    def merge_facts(self, repo: str, number: int) -> MergedPull | None: ...


class StorePort(Protocol):
    def apply(
        self, change_id: str, changes: Sequence[SecretChange], record: ApprovalRecord
    ) -> ApplyResult: ...

    def is_applied(self, change_id: str) -> ApplyResult | None: ...

    def applied_sealed(self, env: str, digests: Sequence[str]) -> Mapping[str, str]:
        """Digest -> change id, for the sealed-value digests an apply already recorded."""
        ...

    def history(self, env: str, secret: str) -> list[VersionInfo]: ...

    def read(self, env: str, namespace: str | None = None) -> dict[str, SecretData]: ...

    def environments(self) -> list[str]:
        """Environments holding secrets (no secret is read)."""
        ...

    def namespaces(self, env: str) -> list[str]:
        """Namespaces of ``env`` holding secrets (no secret is read)."""
        ...

    def read_secret(self, env: str, secret: str) -> SecretData | None: ...

    def rollback(
        self,
        env: str,
        secret: str,
        to_version: int,
        *,
        actor: str,
        reason: str,
        origin: PullRequestOrigin | None = None,
    ) -> ApplyResult: ...

    def current_tiers(self) -> dict[str, Tier]:
        """Every stored secret's tier: reads the whole store, so never on a pass (use
        ``secret_info``)."""
        ...

    def trusted_rules(self) -> frozenset[str]:
        """Digests of the rule sets trusted to judge pull requests."""
        ...

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
    ) -> str: ...

    def list_secrets(self, env: str | None = None) -> list[SecretInfo]:
        """Every stored secret, each file read and verified: never on a pass."""
        ...

    def secret_info(self, env: str, secret: str) -> SecretInfo | None:
        """One secret's verified metadata, or None when it is not stored."""
        ...


class GrantsPort(Protocol):
    """Access grants in the store (``controller.store.Store``). Every state change is one
    store commit with its audit record; nothing about a grant lives only in memory."""

    def record_grant(self, grant: Grant, *, actor: str, origin: PullRequestOrigin | None) -> Grant:
        """Record a new grant (audit ``grant-approved``). Idempotent by ``grant.id``: a grant
        already recorded is returned as stored, unchanged (a replayed merge grants nothing
        twice)."""
        ...

    def grant(self, grant_id: str) -> Grant | None: ...

    def grants(self, *, live_only: bool = False) -> list[Grant]:
        """Every recorded grant (``live_only``: those whose end is not yet recorded)."""
        ...

    def record_use(
        self, grant_id: str, *, at: datetime, actor: str, secret: str, keys: Sequence[str], via: str
    ) -> Grant:
        """One use (audit ``grant-used``); the first also activates the grant (audit
        ``grant-activated``, ``first_used_at`` set), starting its duration. Refuses
        (``InputError``) a grant that is not live at ``at``."""
        ...

    def revoke_grant(self, grant_id: str, *, at: datetime, actor: str, reason: str) -> Grant:
        """Audit ``grant-revoked``; idempotent (a revoked grant stays as it was)."""
        ...

    def end_grant(self, grant_id: str, *, at: datetime, state: GrantState) -> Grant:
        """Record that the grant ended (``ended``, ``lapsed`` or ``revoked`` and its delivery
        removed): audit ``grant-ended``, ``ended_recorded`` set; idempotent."""
        ...

    def record_refusal(
        self,
        *,
        at: datetime,
        actor: str,
        environment: str,
        secret: str,
        reason: str,
        grant_id: str | None = None,
    ) -> None:
        """Audit ``access-refused``: who asked for what and why they were refused."""
        ...


class AccessTargetsPort(Protocol):
    """Kubernetes delivery of grants (``controller.kube.KubeTargets``)."""

    def bind_access(self, cluster: str, grant: Grant) -> None:
        """Create or repair, in every namespace the grant's secrets live in, a Role allowing
        ``get`` on exactly those Secrets and a RoleBinding to ``grant.kubernetes_subject``,
        labelled with the grant id and annotated with its end. Idempotent."""
        ...

    def unbind_access(
        self, cluster: str, grant_id: str, *, namespaces: Iterable[str] | None = None
    ) -> None:
        """Delete every Role and RoleBinding labelled with ``grant_id``. Idempotent.
        ``namespaces``: where to look (``controller.kube.access_rbac.access_namespaces``
        of the grants); None looks in every namespace, which needs ``list`` on Roles and
        RoleBindings cluster-wide, a right the shipped ``deploy/rbac`` does not grant."""
        ...

    def bound_grants(
        self, cluster: str, *, namespaces: Iterable[str] | None = None
    ) -> frozenset[str]:
        """Grant ids of every sealgate access Role or RoleBinding found in ``cluster`` (in
        ``namespaces``, as for :meth:`unbind_access`)."""
        ...


class TargetsPort(Protocol):
    def sync_many(
        self,
        cluster: str,
        secrets: Sequence[DesiredSecret],
        *,
        wait: bool = True,
        timeout_s: float = 300.0,
        on_written: Callable[[], None] | None = None,
    ) -> SyncReport:
        """``on_written``: called once the Secrets are in place and before the rollouts
        are watched; not called when one could not be written."""
        ...

    def checksum(self, data: Mapping[str, bytes]) -> str: ...

    def read_checksum(self, cluster: str, namespace: str, name: str) -> str | None: ...


class KeysPort(Protocol):
    def open(self, sealed: str, *, environment: str, secret: str, key: str) -> bytes: ...

    def fingerprint(
        self, value: bytes, *, environment: str, secret: str, key: str, context: str = ""
    ) -> str:
        """``context`` binds a fingerprint to where it is shown (a pull request)."""
        ...


class NotifierPort(Protocol):
    def send(self, notification: Notification, targets: NotifyTargets) -> None: ...


class Observer(Protocol):
    """Receives what happened, for metrics. Must be quick and must not raise."""

    def decision(self, state: str) -> None: ...

    def merged(self) -> None: ...

    def applied(self, environment: str) -> None: ...

    def synced(self, cluster: str, outcome: str) -> None:
        """One per Secret per cluster: ``created``, ``updated``, ``unchanged``, ``failed``..."""
        ...

    def workload(self, cluster: str, outcome: str) -> None:
        """One per workload: ``rolled``, ``failed``, ``timeout``..."""
        ...

    def rolled_back(self, environment: str) -> None: ...

    def drift_repaired(self, cluster: str, count: int) -> None: ...

    def failure(self, step: str) -> None:
        """A step failed: ``snapshot``, ``report``, ``merge``, ``apply``, ``notify``,
        ``expiry``, ``grants`` (a grant's binding, unbinding or record; retried next pass),
        or ``merged-unapproved`` (merged around sealgate, not applied)."""
        ...

    def latency(self, step: str, seconds: float) -> None: ...

    def grants_active(self, environment: str, count: int) -> None:
        """How many grants of ``environment`` are live (approved or active) now; set for
        every environment each pass, 0 included, so an ended grant leaves the gauge."""
        ...

    def access_opened(self, environment: str) -> None:
        """One ``sealgate open`` answered with values."""
        ...

    def access_refused(self, reason: str) -> None:
        """One refused open, by class (``ACCESS_REFUSALS``); never the secret."""
        ...

    def grant_event(self, outcome: str) -> None:
        """A grant was recorded or ended: ``GRANT_OUTCOMES``."""
        ...


ACCESS_REFUSALS = (
    "no-grant",
    "not-approved",
    "not-open-delivery",
    "key-not-granted",
    "key-not-found",
    "lapsed",
    "ended",
    "revoked",
    "rate-limited",
    "unauthenticated",
)
"""Why an open is refused, as metrics count it: a bounded set (anything else is ``other``).
The open path's own reason codes (``controller.reconciler.access_open``) are counted as they are."""
GRANT_OUTCOMES = ("granted", "ended", "lapsed", "revoked")


class NullObserver:
    """The default observer: ignores everything."""

    def decision(self, state: str) -> None:
        return

    def merged(self) -> None:
        return

    def applied(self, environment: str) -> None:
        return

    def synced(self, cluster: str, outcome: str) -> None:
        return

    def workload(self, cluster: str, outcome: str) -> None:
        return

    def rolled_back(self, environment: str) -> None:
        return

    def drift_repaired(self, cluster: str, count: int) -> None:
        return

    def failure(self, step: str) -> None:
        return

    def latency(self, step: str, seconds: float) -> None:
        return

    def grants_active(self, environment: str, count: int) -> None:
        return

    def access_opened(self, environment: str) -> None:
        return

    def access_refused(self, reason: str) -> None:
        return

    def grant_event(self, outcome: str) -> None:
        return
