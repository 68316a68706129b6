"""``GrantKeeper``: an access grant's life after approval: grant, expire, repair, revoke.

The store is the record (``GrantsPort``); Kubernetes bindings (``AccessTargetsPort``) are
derived from it and never trusted on their own. Every step can be repeated after a crash at
any point:

- **grant** records first, then binds: a crash in between leaves a recorded grant with no
  binding, which :meth:`GrantKeeper.repair` binds on its next pass.
- **expire** and **revoke** remove bindings first, then record the end: a crash in between
  leaves a grant whose end is not recorded, so the next pass unbinds again (idempotent) and
  then records it. The end is recorded only once every cluster is clean.
- **repair** compares each cluster with the store: a live ``kubernetes`` grant's Role and
  RoleBinding are written where missing or changed, a binding with no live grant is removed.

Only Kubernetes bindings depend on these loops. The ``open`` path checks a grant's clock on
every use, so it stops exactly at the grant's end; a binding is removed by the next
:meth:`GrantKeeper.expire`, so it never outlives its grant's end by more than the grant
loop's interval plus one pass.

A failing cluster never stops the others: its error is logged (the error's own message,
which by the error rules names no value; a foreign exception only by its type), counted as
``observer.failure("grants")`` and the step is retried on the next pass.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from controller.documents.reason_check import credential_in
from controller.errors import InputError, IntegrityError, Problem, SealgateError
from controller.model import (
    AccessDelivery,
    AccessRequest,
    Decision,
    Grant,
    GrantState,
    Tier,
)
from controller.reconciler.grant_reports import EndReports
from controller.reconciler.grant_terms import new_grants
from controller.reconciler.ports import AccessTargetsPort, GrantsPort, Observer
from controller.store.types import PullRequestOrigin

log = logging.getLogger(__name__)

ClustersOf = Callable[[str], Sequence[str]]
"""An environment's name -> the clusters its grants are delivered to."""

_STEP = "grants"
_VIA = "kubernetes"
_CREDENTIAL = (
    "looks like it holds {kind}, which is not shown here; a revocation's reason is kept in"
    " the audit log, so it must not hold a credential: give the reason without it, and"
    " rotate that credential"
)


@dataclass(frozen=True, slots=True)
class RepairReport:
    bound: tuple[tuple[str, str], ...] = ()
    """(cluster, grant id) of every missing binding created."""
    removed: tuple[tuple[str, str], ...] = ()
    """(cluster, grant id) of every stray binding removed (no live grant behind it)."""
    activated: tuple[str, ...] = ()
    """Grants whose first use was recorded here (bound before a crash, never recorded)."""
    failed: tuple[str, ...] = ()
    """Clusters that could not be read or repaired; retried next pass."""


def _describe(exc: Exception) -> str:
    # sealgate's errors never carry a value (see controller.errors); anything else might.
    return str(exc) if isinstance(exc, SealgateError) else type(exc).__name__


def _key(grant: Grant) -> tuple[str, str, int, str]:
    return (grant.environment, grant.repo.casefold(), grant.pull_request, grant.request_id)


def _by_kubernetes(grant: Grant) -> bool:
    return AccessDelivery.KUBERNETES in grant.deliver


class GrantKeeper:
    """Grants, expires, repairs and revokes access grants. Thread-safe: one pass at a time,
    so a repair never sees a binding a concurrent grant made before its record."""

    def __init__(
        self,
        grants: GrantsPort,
        targets: AccessTargetsPort,
        observer: Observer,
        clock: Callable[[], datetime],
        actor: str,
    ) -> None:
        self._grants = grants
        self._targets = targets
        self._observer = observer
        self._clock = clock
        self._actor = actor
        self._lock = threading.RLock()
        self._annotated: dict[tuple[str, str], datetime] = {}
        """(cluster, grant id) -> the end its binding was last written with. Empty after a
        restart, so every live binding is written once again: idempotent, and it brings an
        ``ends-at`` annotation written before an activation up to date."""
        self._environments_seen: set[str] = set()
        """Environments whose active-grants gauge was set: kept at 0 once their last ends."""
        self.reports = EndReports(clock)
        """Pull requests whose grant's end was recorded since their last report."""

    new_grants = staticmethod(new_grants)

    def now(self) -> datetime:
        """The keeper's clock: grants' states are read at it."""
        return self._clock()

    def live_pulls(self, repo: str) -> set[int]:
        """Pull requests of ``repo`` with a grant whose end is not recorded yet, or whose
        recorded end is not reported yet (``EndReports``)."""
        key = repo.casefold()
        unended = {
            g.pull_request
            for g in self._grants.grants(live_only=True)
            if g.repo.casefold() == key and not g.ended_recorded
        }
        return unended | self.reports.due(repo, self._grants.grants)

    def of_pull(self, repo: str, number: int) -> list[Grant]:
        """Every grant recorded for pull request ``repo#number``, ended ones included."""
        key = repo.casefold()
        return [
            g
            for g in self._grants.grants()
            if g.repo.casefold() == key and g.pull_request == number
        ]

    # ------------------------------------------------------------------ grant

    def grant(
        self,
        requests: Sequence[AccessRequest],
        decision: Decision,
        *,
        repo: str,
        number: int,
        approved_at: datetime,
        approvers: Sequence[str],
        tiers: Mapping[str, Tier] | None,
        clusters: ClustersOf,
        origin: PullRequestOrigin | None,
    ) -> list[Grant]:
        """Record every grant (idempotent by id: a replayed merge grants nothing twice),
        then deliver the ``kubernetes`` ones in every cluster of their environment.

        A Kubernetes delivery is the grant's first use: once a binding exists in any
        cluster the subject can read the Secrets, so the duration starts then
        (``record_use`` via ``kubernetes``), not at some later read sealgate cannot see.
        Until a binding exists the grant waits like any other, and lapses at
        ``activate_by``. A grant already ended, or no longer live, is never bound again.
        """
        wanted = new_grants(
            requests,
            decision,
            repo=repo,
            number=number,
            approved_at=approved_at,
            approvers=approvers,
            tiers=tiers,
        )
        with self._lock:
            known = {grant.id for grant in wanted if self._grants.grant(grant.id) is not None}
            stored = [
                self._grants.record_grant(grant, actor=self._actor, origin=origin)
                for grant in wanted
            ]
            for grant in wanted:
                if grant.id not in known:
                    self._observer.grant_event("granted")
            foreign = [s.id for s, w in zip(stored, wanted, strict=True) if _key(s) != _key(w)]
            delivered = [
                self._deliver(grant, clusters(grant.environment))
                for grant in stored
                if grant.id not in foreign
            ]
        if foreign:
            # Only a digest collision of two long ids gets here: never deliver another
            # request's grant on this one's behalf.
            raise IntegrityError(
                f"grant id {', '.join(foreign)} is already recorded for another request;"
                " rename the access request file and open a new pull request"
            )
        return delivered

    def _deliver(self, grant: Grant, clusters: Sequence[str]) -> Grant:
        if not _by_kubernetes(grant) or grant.ended_recorded:
            return grant
        if not grant.state(self._clock()).live:
            return grant
        if not clusters:
            log.warning(
                "grant %s: environment %s has no clusters; its kubernetes access is not"
                " delivered and lapses unless a cluster is configured",
                grant.id,
                grant.environment,
            )
            self._observer.failure(_STEP)
            return grant
        bound = [c for c in clusters if self._bind(c, grant)]
        if bound and grant.first_used_at is None:
            grant = self._activate(grant)
            for cluster in bound:  # its end moved from activate_by to first use + duration
                self._bind(cluster, grant)
        return grant

    def _activate(self, grant: Grant) -> Grant:
        now = self._clock()
        try:
            for item in grant.secrets:
                grant = self._grants.record_use(
                    grant.id,
                    at=now,
                    actor=self._actor,
                    secret=item.secret,
                    keys=item.keys,
                    via=_VIA,
                )
        except Exception as exc:
            # Bound but not recorded: repair records it on its next pass.
            log.warning("grant %s: recording its first use failed: %s", grant.id, _describe(exc))
            self._observer.failure(_STEP)
        return grant

    def _refresh(self, cluster: str, grant: Grant) -> None:
        if self._annotated.get((cluster, grant.id)) != grant.ends_at:
            self._bind(cluster, grant)

    def _bind(self, cluster: str, grant: Grant) -> bool:
        try:
            self._targets.bind_access(cluster, grant)
        except Exception as exc:
            log.warning(
                "grant %s: binding in cluster %s failed, retrying next pass: %s",
                grant.id,
                cluster,
                _describe(exc),
            )
            self._observer.failure(_STEP)
            return False
        self._annotated[cluster, grant.id] = grant.ends_at
        return True

    def _unbind(self, cluster: str, grant_id: str, namespaces: Sequence[str]) -> bool:
        try:
            self._targets.unbind_access(cluster, grant_id, namespaces=namespaces)
        except Exception as exc:
            log.warning(
                "grant %s: removing its binding in cluster %s failed, retrying next pass: %s",
                grant_id,
                cluster,
                _describe(exc),
            )
            self._observer.failure(_STEP)
            return False
        self._annotated.pop((cluster, grant_id), None)
        return True

    # ------------------------------------------------------------------ expire

    def expire(self, clusters_of: ClustersOf) -> list[Grant]:
        """End every grant whose end is not recorded and that is no longer live now
        (lapsed, ended or revoked): remove its bindings in every cluster first, then record
        the end. Returns the grants whose end was recorded by this pass. A live, activated
        ``kubernetes`` grant is bound again when its binding still carries an older end."""
        ended: list[Grant] = []
        with self._lock:
            now = self._clock()
            unended = self._grants.grants(live_only=True)
            active: dict[str, int] = dict.fromkeys(self._environments_seen, 0)
            for grant in unended:
                self._environments_seen.add(grant.environment)
                if grant.state(now).live:
                    active[grant.environment] = active.get(grant.environment, 0) + 1
                else:
                    active.setdefault(grant.environment, 0)
            # Every environment ever seen is set, 0 included: an ended grant leaves the gauge.
            for environment, count in sorted(active.items()):
                self._observer.grants_active(environment, count)
            for grant in unended:
                if grant.ended_recorded:
                    continue
                state = grant.state(now)
                clusters = clusters_of(grant.environment) if _by_kubernetes(grant) else ()
                if state.live:
                    if grant.first_used_at is not None:
                        for cluster in clusters:
                            self._refresh(cluster, grant)
                    continue
                finished = self._finish(grant, state, clusters, now)
                if finished is not None:
                    ended.append(finished)
        return ended

    def _finish(
        self, grant: Grant, state: GrantState, clusters: Sequence[str], now: datetime
    ) -> Grant | None:
        spaces = _namespaces([grant])
        results = [self._unbind(cluster, grant.id, spaces) for cluster in clusters]
        if not all(results):
            return None  # the end is recorded only once no cluster grants access any more
        try:
            done = self._grants.end_grant(grant.id, at=now, state=state)
        except Exception as exc:
            log.warning(
                "grant %s: recording its end (%s) failed, retrying next pass: %s",
                grant.id,
                state.value,
                _describe(exc),
            )
            self._observer.failure(_STEP)
            return None
        log.info("grant %s %s; its access is removed", grant.id, state.value)
        self.reports.ended(done)
        self._observer.grant_event(state.value)
        return done

    # ------------------------------------------------------------------ repair

    def repair(self, clusters_of: ClustersOf, *, every_cluster: Sequence[str] = ()) -> RepairReport:
        """Make each cluster's bindings match the store: bind every live ``kubernetes``
        grant where its binding is missing (and record its first use if a crash came
        between bind and record), remove every binding with no live grant behind it.

        The clusters read are those of every recorded grant's environment plus
        ``every_cluster`` (pass every cluster sealgate can reach): a binding left in a
        cluster its environment no longer lists is found only there.

        Bindings are read before grants: a grant is recorded before it is bound, so a
        binding read first always has its grant in the list read after. A binding of a
        live grant whose environment's clusters are not known yet is left alone.
        """
        with self._lock:
            now = self._clock()
            every = self._grants.grants()
            scanned: dict[str, frozenset[str]] = {}
            failed: list[str] = []
            environments = {g.environment for g in every}
            wanted = {c for env in environments for c in clusters_of(env)} | set(every_cluster)
            # sealgate may only read RBAC in the namespaces it manages: those its grants
            # ever named are where a binding of its own can be.
            spaces = _namespaces(every)
            for cluster in sorted(wanted):
                try:
                    scanned[cluster] = self._targets.bound_grants(cluster, namespaces=spaces)
                except Exception as exc:
                    log.warning(
                        "grants: reading the bindings of cluster %s failed: %s",
                        cluster,
                        _describe(exc),
                    )
                    self._observer.failure(_STEP)
                    failed.append(cluster)
            live = {
                g.id: g
                for g in self._grants.grants(live_only=True)
                if not g.ended_recorded and g.state(now).live and _by_kubernetes(g)
            }
            bound: list[tuple[str, str]] = []
            removed: list[tuple[str, str]] = []
            activated: list[str] = []
            for cluster, present in scanned.items():
                for grant_id in sorted(present):
                    owner = live.get(grant_id)
                    homes = clusters_of(owner.environment) if owner is not None else ()
                    if owner is not None and (cluster in homes or not homes):
                        continue
                    if self._unbind(cluster, grant_id, spaces):
                        log.warning("grants: removed a stray binding %s in %s", grant_id, cluster)
                        removed.append((cluster, grant_id))
            for grant in live.values():
                homes = [c for c in clusters_of(grant.environment) if c in scanned]
                for cluster in homes:
                    # Written every pass, not only when nothing is found: a binding deleted
                    # by hand under a Role still there, or a Role widened by hand, is found
                    # only by comparing each object (a write only when one differs).
                    missing = grant.id not in scanned[cluster]
                    if self._bind(cluster, grant) and missing:
                        bound.append((cluster, grant.id))
                has_binding = any(grant.id in scanned[c] or (c, grant.id) in bound for c in homes)
                if grant.first_used_at is None and has_binding:
                    after = self._activate(grant)
                    if after.first_used_at is not None:
                        activated.append(grant.id)
                        for cluster in homes:
                            self._bind(cluster, after)
            return RepairReport(tuple(bound), tuple(removed), tuple(activated), tuple(failed))

    # ------------------------------------------------------------------ revoke

    def revoke(self, grant_id: str, *, actor: str, reason: str, clusters_of: ClustersOf) -> Grant:
        """Revoke a grant now: record the revocation, remove its bindings, record its end.

        Unknown id, an empty reason or one quoting a credential: ``InputError``. A cluster
        that cannot be cleaned leaves the end unrecorded; :meth:`expire` finishes it. A
        grant whose end is already recorded is returned unchanged.
        """
        problems: list[Problem] = []
        if not reason.strip():
            problems.append(Problem("revoke", "reason", "a reason is required: say why"))
        else:
            kind = credential_in(reason)
            if kind is not None:
                problems.append(Problem("revoke", "reason", _CREDENTIAL.format(kind=kind)))
        with self._lock:
            grant = self._grants.grant(grant_id)
            if grant is None:
                unknown = f"no grant has the id {grant_id!r}: list grants to find its id"
                raise InputError([Problem("revoke", "grant", unknown), *problems])
            if problems:
                raise InputError(problems)
            if grant.ended_recorded:
                return grant
            now = self._clock()
            revoked = self._grants.revoke_grant(grant_id, at=now, actor=actor, reason=reason)
            clusters = clusters_of(revoked.environment) if _by_kubernetes(revoked) else ()
            state = revoked.state(now)
            if state.live:  # a store that kept an earlier grant unrevoked: never end it live
                return revoked
            finished = self._finish(revoked, state, clusters, now)
            return finished if finished is not None else revoked


def _namespaces(grants: Iterable[Grant]) -> tuple[str, ...]:
    """Every namespace the grants' secrets live in: where their Roles and bindings are."""
    return tuple(sorted({item.secret.split("/", 1)[0] for g in grants for item in g.secrets}))
