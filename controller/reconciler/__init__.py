"""Composes the adapters: one pull request from facts to synced Secrets.

:class:`Reconciler` runs one idempotent pass per pull request (``handle``): snapshot (GitHub)
→ current tiers (store) → parse and check the documents → open every sealed value to prove
its binding (plaintext dropped at once; only keyed fingerprints are kept for the summary) →
decide → report (``sealgate`` check, sticky comment, label) → notify → when approved and
asked to (policy ``autoMerge``, a bypass, or ``/sealgate merge`` by the author or an
eligible approver) merge guarded by the decided head SHA → apply to the store → sync every
cluster of the environment → restarts and rollouts → report the outcome (the
``sealgate/sync`` check, per cluster and per workload, and the ``sealgate:applied`` label).
It talks to the world only through the Protocols in :mod:`~controller.reconciler.ports`
(``controller.github.GitHubGateway``, ``Store``, ``KubeTargets``, ``Keyring`` and ``Notifier``
satisfy them), and imports only the adapters' plain value modules, never a client.

Decisions a reader may wonder about:

- **Change ids.** One store apply per (environment, pull request), id ``<env>/pr-<number>``,
  holding all of that pull request's changes to the environment: they land in one commit or
  not at all, which is stronger than one apply per file.
- **Exactly once.** Every step can be repeated: the store's change-id index makes a second
  apply a lookup, the Secrets' keyed checksums make a second sync read-only (and a workload
  is restarted only when its checksum annotation differs), the reporters compare before
  writing, and one-off comments carry a marker that is looked for before posting.
- **Completion record.** The ``sealgate/sync`` check on a merged pull request's head is
  completed only after apply, sync and rollouts. ``work_items`` returns every recently merged
  pull request whose ``sealgate/sync`` is missing or in progress — merged but not applied
  (a crash after the merge), or applied but not synced (a crash, or a cluster outage) —
  and ``handle`` finishes it. A merged pull request is judged again from the same head and
  base facts as of its merge time: approved, it is applied; not approved (merged around
  sealgate), it is **not** applied and is reported (comment, failed check, notification).
- **Crash points.** ``reconciler.after-merge``, ``reconciler.after-apply``,
  ``reconciler.after-sync``, ``reconciler.after-rollback`` and ``reconciler.after-report``
  use the store's ``SEALGATE_CRASHPOINT`` hook so tests can kill a pass at each step.
- **Serialisation.** One lock per pull request around ``handle``; one lock per environment
  around apply and sync, so two merges never interleave in the store while different
  environments proceed in parallel.
- **Clusters.** An environment's clusters come from its ``environments/`` document
  (``spec.clusters``, names known to the Kubernetes targets) at each pull request's base;
  ``ReconcilerSettings.environment_clusters`` seeds them for drift repair after a restart.
- **Rollout safety.** A failed or timed-out rollout is reported on the pull request and to
  every approver. What happens to the value is the change's ``onRolloutFailure`` (its
  environment's default otherwise, ``keep`` unless set), decided at review and recorded
  with the apply: ``keep`` leaves the new value in store and cluster, so a workload that
  cannot start cannot undo the rotation of a leaked credential; ``rollback`` returns the
  Secret to its previous store version through the store's audited rollback (only while
  the store still holds the failed version, so a repeat never rolls back twice) and says
  everywhere that the replaced value is in use again. ``rollback_on_failure=False``
  disables rollbacks whatever a change asks.
- **Drift.** ``repair_drift`` syncs every stored Secret of every environment into its
  clusters; a Secret edited or deleted by hand is restored, logged and counted. The store
  has no audit event for drift, so the log is its record.
- **Memory.** Notifications of waiting, approval, rejection and expiry are sent once per
  head (expiry once per pull request) as remembered in memory; a restart may repeat one.
  Expiry and rollout-failure comments are durable (marker comments).
- **Stale changes.** A change proposed against a ``baseVersion`` that a later version
  overtook on a key it touches makes its open pull request ``invalid``, naming the pull
  request that got there first (``versions``); the store checks again inside its writer
  lock, so of two merges that were both fresh when judged the second apply is refused whole.
  Summaries name the other open pull requests on the same keys (``overlaps``: from the
  passes made anyway, no extra GitHub request). A change without ``baseVersion`` is applied
  on top of whatever the store holds when it merges.
- **Restores.** ``spec.restore`` is resolved against the store's history (versions and keys
  must exist), judged at least at the restored version's tier, and applied as a new version.
"""

from controller.reconciler.delivery import change_id_for
from controller.reconciler.drift import DriftReport
from controller.reconciler.ports import (
    GitHubPort,
    KeysPort,
    NotifierPort,
    NullObserver,
    Observer,
    Snapshot,
    StorePort,
    TargetsPort,
)
from controller.reconciler.reconciler import ExpiryReport, Reconciler
from controller.reconciler.settings import ReconcilerSettings
from controller.reconciler.status import RequestStatus, Status, StepStatus, SyncRow

__all__ = [
    "DriftReport",
    "ExpiryReport",
    "GitHubPort",
    "KeysPort",
    "NotifierPort",
    "NullObserver",
    "Observer",
    "Reconciler",
    "ReconcilerSettings",
    "RequestStatus",
    "Snapshot",
    "Status",
    "StepStatus",
    "StorePort",
    "SyncRow",
    "TargetsPort",
    "change_id_for",
]
