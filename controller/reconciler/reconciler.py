"""``Reconciler``: one idempotent pass per pull request, and the loops around it."""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

from controller.documents import parse_rules
from controller.errors import (
    BackendError,
    ConflictError,
    DocumentError,
    InputError,
    IntegrityError,
    SealgateError,
)
from controller.github.records import MergedPull, SyncCheckState
from controller.model import DecisionState
from controller.notify.events import NotificationKind
from controller.policy.replies import PassOutcome
from controller.reconciler.access_flow import (
    grant_merged,
    granted_check,
    revoke_commented,
    with_grants,
)
from controller.reconciler.agent_ports import AgentHooks
from controller.reconciler.answers import CommandAnswers
from controller.reconciler.delivery import Delivery, EnvironmentOutcome, change_id_for
from controller.reconciler.drift import DriftReport, repair_environment
from controller.reconciler.evaluation import Evaluation, after_apply, assess
from controller.reconciler.freshness import relied_on, with_teams
from controller.reconciler.grants import GrantKeeper, RepairReport
from controller.reconciler.notices import all_approvers
from controller.reconciler.notifying import DecisionNotices
from controller.reconciler.overlaps import OpenOverlaps
from controller.reconciler.ports import (
    AccessTargetsPort,
    GitHubPort,
    GrantsPort,
    KeysPort,
    NotifierPort,
    NullObserver,
    Observer,
    Snapshot,
    StorePort,
    TargetsPort,
)
from controller.reconciler.provenance import origin_of, reasons_of
from controller.reconciler.reviewers import ask_reviewers
from controller.reconciler.revoking import RevokePass
from controller.reconciler.settings import ReconcilerSettings
from controller.reconciler.status import RequestStatus, Status, SyncRow, sync_rows
from controller.reconciler.status_access import access_statuses
from controller.reconciler.stored import StoredSecrets
from controller.reconciler.sync_text import refused_check, sync_check
from controller.reconciler.trust import RulesTrust
from controller.store.crashpoint import crashpoint
from controller.store.types import ApplyResult, ApprovalRecord

log = logging.getLogger(__name__)

_DECISION_STATUS = {
    DecisionState.PENDING: Status.PENDING,
    DecisionState.APPROVED: Status.APPROVED,
    DecisionState.REJECTED: Status.REJECTED,
    DecisionState.EXPIRED: Status.EXPIRED,
    DecisionState.INVALID: Status.INVALID,
}
_SNAPSHOT_ATTEMPTS = 3
_STILL_OPEN = frozenset(_DECISION_STATUS.values())


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class ExpiryReport:
    expired: tuple[int, ...] = ()
    """Open pull requests found past their expiry this run (notified once each)."""
    reminded: tuple[int, ...] = ()


class _Locks:
    """One lock per key, made on first use; the map only grows by the keys it is asked for."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[object, threading.Lock] = {}

    @contextmanager
    def hold(self, key: object) -> Iterator[None]:
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            yield


class Reconciler:
    """Facts → decision → report → (approved) merge → apply → sync → report, per pull request.

    Thread-safe: ``handle`` serialises passes over one pull request and applies+syncs of one
    environment; different pull requests and environments proceed in parallel.
    """

    def __init__(
        self,
        *,
        github: GitHubPort,
        store: StorePort,
        targets: TargetsPort,
        keys: KeysPort,
        notifier: NotifierPort | None,
        settings: ReconcilerSettings,
        observer: Observer | None = None,
        clock: Callable[[], datetime] = _utc_now,
        grants: GrantsPort | None = None,
        access: AccessTargetsPort | None = None,
    ) -> None:
        self._github = github
        self._store = store
        self._targets = targets
        self._keys = keys
        self._settings = settings
        self._observer: Observer = observer or NullObserver()
        self._clock = clock
        self._delivery = Delivery(
            store,
            targets,
            self._observer,
            actor=settings.bot_login,
            rollout_timeout_s=settings.rollout_timeout_s,
            rollback_on_failure=settings.rollback_on_failure,
        )
        self._trust = RulesTrust(store, actor=settings.bot_login)
        self.grant_keeper: GrantKeeper | None = (
            GrantKeeper(grants, access, self._observer, clock, settings.bot_login)
            if grants is not None and access is not None
            else None
        )
        """Access grants' lifecycle; None when the store or clusters offer no grant ports."""
        self._overlaps = OpenOverlaps()
        self._answers = CommandAnswers(github, self._observer)
        self._pull_locks = _Locks()
        self._env_locks = _Locks()
        self._state = threading.Lock()
        self._statuses: dict[tuple[str, int], RequestStatus] = {}
        self._clusters: dict[str, tuple[str, ...]] = dict(settings.environment_clusters)
        self._notices = DecisionNotices(github, notifier, self._observer, settings)
        self._finished: set[tuple[str, int, str]] = set()
        """Merged pull requests (repo, number, head) whose ``sealgate/sync`` is complete."""
        self.agents: AgentHooks | None = None
        """The agents' pipeline, once wired: vouches for its files, resolves its requests."""

    # ================================================================ public

    def handle(self, repo: str, number: int) -> RequestStatus:
        """One full pass for one pull request; safe to repeat and to resume after a crash."""
        with self._pull_locks.hold((repo, number)):
            started = time.monotonic()
            snapshot = self._snapshot(repo, number)
            if snapshot.state == "closed":
                self._answers.answer_closed(snapshot)
                result = self._remember(
                    RequestStatus(
                        repo,
                        number,
                        Status.CLOSED,
                        "",
                        snapshot.facts.head_sha,
                        self._clock(),
                        messages=("closed without merging: ignored",),
                    )
                )
            elif snapshot.state == "merged":
                result = self._merged(snapshot)
            else:
                result = self._open(snapshot)
            if result.status not in _STILL_OPEN:
                self._overlaps.forget(repo, number)
            if self.agents is not None:
                self.agents.after_pass(snapshot, result)
            self._observer.latency("handle", time.monotonic() - started)
            return result

    def work_items(self, repo: str) -> list[int]:
        """What a poll cycle should handle: open pull requests that changed since the last
        poll, and merged ones whose ``sealgate/sync`` is not complete (not yet applied, or
        applied but not yet synced)."""
        items = set(self._github.changed_pulls(repo)) | self._overlaps.rechecks(repo)
        if self.grant_keeper is not None:
            # A merged access request stays watched while its grants live: a `/sealgate
            # revoke` on it must be seen even without a webhook.
            items |= self.grant_keeper.live_pulls(repo)
        for merged in self._github.recently_merged(repo):
            key = (repo, merged.number, merged.head_sha)
            with self._state:
                if key in self._finished:
                    continue
            if _complete(self._github.sync_state(repo, merged.head_sha)):
                with self._state:
                    self._finished.add(key)
            else:
                items.add(merged.number)
        return sorted(items)

    def status(self, repo: str, number: int) -> RequestStatus | None:
        """The latest status this reconciler knows (None before its first pass over it)."""
        with self._state:
            return self._statuses.get((repo, number))

    def learn_environments(self, repo: str) -> tuple[str, ...]:
        """Learn every environment's clusters from the default branch of ``repo``.

        Pull requests teach the reconciler their base's environments as they are handled;
        after a start with no pull request moving, drift repair would otherwise know no
        cluster at all. Broken or untrusted rules at the head are logged and change nothing
        known.
        """
        current = self._github.current_rules(repo)
        files = current.files
        untrusted = self._trust.problem(repo, current.branch, current.sha, files)
        if untrusted is not None:
            log.warning("%s: %s; drift repair keeps the environments it knew", repo, untrusted)
            return ()
        try:
            rules = parse_rules(files)
        except DocumentError as exc:
            log.warning(
                "%s: the rules at the default branch do not parse (%d problems); drift repair"
                " keeps the environments it knew",
                repo,
                len(exc.problems),
            )
            return ()
        with self._state:
            for name, environment in rules.environments.items():
                self._clusters[name] = environment.clusters
        return tuple(sorted(rules.environments))

    def repair_drift(self) -> DriftReport:
        """Make every cluster of every stored environment equal to the store."""
        report = DriftReport()
        for environment in self._store.environments():
            with self._state:
                clusters = self._clusters.get(environment, ())
            with self._env_locks.hold(environment):
                report = report.merge(
                    repair_environment(
                        environment,
                        clusters,
                        store=self._store,
                        targets=self._targets,
                        observer=self._observer,
                        timeout_s=self._settings.rollout_timeout_s,
                    )
                )
        return report

    def expire_and_remind(self, repo: str) -> ExpiryReport:
        """Re-evaluate every open pull request (which reports and notifies expiry once) and
        remind approvers of requests waiting longer than ``reminder_after``."""
        expired: list[int] = []
        reminded: list[int] = []
        open_numbers = self._github.open_pulls(repo)
        self._overlaps.keep_only(repo, open_numbers)
        for number in open_numbers:
            try:
                result = self.handle(repo, number)
            except SealgateError as exc:
                log.warning("%s#%d: expiry check failed: %s", repo, number, exc)
                self._observer.failure("expiry")
                continue
            if result.status is Status.EXPIRED:
                expired.append(number)
            elif result.status is Status.PENDING and self._remind(repo, number):
                reminded.append(number)
        return ExpiryReport(tuple(expired), tuple(reminded))

    def keep_grants(self) -> tuple[list[str], RepairReport]:
        """One pass of the grant loop: end what is no longer live (bindings removed first),
        then repair bindings; ids of the grants ended, and the repair. Nothing until an
        environment's clusters are known (``learn_environments`` or a handled pass)."""
        with self._state:
            known = bool(self._clusters)
            every = sorted({c for clusters in self._clusters.values() for c in clusters})
        if self.grant_keeper is None or not known:
            # Before any environment is learnt (just started), an ended grant would be
            # recorded ended with no cluster to unbind it in: wait for the first learn.
            return [], RepairReport()
        ended = self.grant_keeper.expire(self.environment_clusters)
        repaired = self.grant_keeper.repair(self.environment_clusters, every_cluster=every)
        return [g.id for g in ended], repaired

    def environment_clusters(self, environment: str) -> tuple[str, ...]:
        """The clusters last learnt for ``environment`` (none when it is not known yet)."""
        with self._state:
            return self._clusters.get(environment, ())

    # ================================================================ open pull requests

    def _snapshot(self, repo: str, number: int) -> Snapshot:
        for attempt in range(_SNAPSHOT_ATTEMPTS):
            try:
                return self._github.fetch(repo, number)
            except ConflictError:
                # The head moved while it was read: read again, a bounded number of times.
                if attempt == _SNAPSHOT_ATTEMPTS - 1:
                    self._observer.failure("snapshot")
                    raise
            except BackendError:
                self._observer.failure("snapshot")
                raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _assess(
        self,
        snapshot: Snapshot,
        now: datetime,
        *,
        rules_at: tuple[str, Mapping[str, bytes]] | None = None,
    ) -> Evaluation:
        """Judge ``snapshot`` by its rules, or by ``rules_at`` (a commit and its rules)."""
        number = snapshot.facts.number
        sha, files = rules_at if rules_at is not None else (snapshot.rules_sha, snapshot.rule_files)
        untrusted = None
        if snapshot.refusal is None:
            untrusted = self._trust.problem(snapshot.repo, snapshot.base_ref, sha, files)
        # Only the secrets this pull request names are read, each once per pass.
        current = StoredSecrets(self._store)
        evaluation = assess(
            snapshot,
            keys=self._keys,
            current_tiers=current.tiers,
            current_secrets=current,
            now=now,
            applied_values=self._store,
            # A merged pull request is judged again after its own apply: not a replay.
            own_change_ids=frozenset(
                change_id_for(path.split("/")[1], number)
                for path in snapshot.change_files
                if path.count("/") >= 2
            ),
            controller_namespace=self._settings.controller_namespace,
            rule_files=files,
            untrusted=untrusted,
            # Once merged, the store decides (atomically, as it applies): a merge that was
            # fresh when judged and overtaken since is refused there, and said so.
            judge_stale=snapshot.state != "merged",
            current_values=self._store.read_secret,
            agent_requests=self.agents.vouched(snapshot) if self.agents is not None else None,
            bot_login=self._github.login() if self.agents is not None else "",
        )
        evaluation = with_grants(evaluation, self.grant_keeper)
        if snapshot.rules_from_default_branch and untrusted is None and rules_at is None:
            # Only the default branch's rules may teach drift repair where environments live:
            # a pull request into any other branch would otherwise redirect everyone's syncs.
            with self._state:
                for name, environment in evaluation.rules.environments.items():
                    self._clusters[name] = environment.clusters
        return evaluation

    def _open(self, snapshot: Snapshot) -> RequestStatus:
        now = self._clock()
        evaluation = self._assess(snapshot, now)
        others = self._overlaps.update(snapshot.repo, snapshot.facts.number, evaluation.changes)
        evaluation = dataclasses.replace(evaluation, others=others)
        # The next pass (the next review, most likely) reads these alongside the reviews:
        # then a merge it allows needs no separate read of the teams.
        self._github.expect_teams(snapshot.repo, snapshot.facts.number, relied_on(evaluation))
        if evaluation.decision.state is DecisionState.APPROVED and self._merge_requested(
            evaluation
        ):
            # About to merge: memberships come from a cache, so read the teams again and
            # decide again; someone removed from a team since no longer counts.
            evaluation = with_teams(evaluation, self._github.fresh_teams(relied_on(evaluation)))
        decision = evaluation.decision
        self._observer.decision(decision.state.value)
        approved = decision.state is DecisionState.APPROVED
        actor = self._merge_requested(evaluation) if approved else None
        if actor is None:
            self._report(evaluation)
        # else: the merge does not wait on the report: it goes out once the Secret is written
        # (``_deliver``), or when the merge fails. Until then the check stays pending, never
        # ahead of the truth.
        self._notices.decided(evaluation, now)
        status = _DECISION_STATUS[decision.state]
        if not approved:
            self._answers.answer(evaluation, PassOutcome())
            return self._remember(self._status_of(evaluation, status))
        if actor is None:
            self._answers.answer(evaluation, PassOutcome())
            return self._remember(
                self._status_of(
                    evaluation,
                    status,
                    messages=(*decision.reasons, "approved: waiting for `/sealgate merge`"),
                )
            )
        repo, number = snapshot.repo, snapshot.facts.number
        try:
            merged_sha = self._github.merge(
                repo, number, decision.head_sha, self._settings.merge_method
            )
        except ConflictError as exc:
            log.info("%s#%d: head moved before the merge; deciding again next pass", repo, number)
            self._report(evaluation)
            self._answers.answer(evaluation, PassOutcome())
            return self._remember(
                self._status_of(evaluation, status, messages=(f"not merged: {exc}",))
            )
        except BackendError as exc:
            self._observer.failure("merge")
            log.warning("%s#%d: merge failed: %s", repo, number, exc)
            self._report_quietly(evaluation)
            if exc.retryable:
                raise
            self._github.comment_once(
                repo,
                number,
                f"merge-refused:{decision.head_sha}",
                f"sealgate could not merge: {exc}",
            )
            self._answers.answer(evaluation, PassOutcome())
            return self._remember(
                self._status_of(evaluation, status, messages=(f"not merged: {exc}",))
            )
        self._observer.merged()
        log.info("%s#%d: merged at %s (asked by %s)", repo, number, decision.head_sha[:12], actor)
        self._remember(self._status_of(evaluation, Status.MERGED, messages=("merged",)))
        crashpoint("reconciler.after-merge")
        self._answers.answer(evaluation, PassOutcome(merged_now=True))
        merged = MergedPull(number, decision.head_sha, now, self._github.login(), merged_sha)
        self._trust_governance(evaluation, merged)
        if decision.bypassed:
            self._notices.send(
                NotificationKind.BYPASSED,
                evaluation,
                actor=decision.bypassed_by,
                reason=decision.bypass_reason,
                approvers=all_approvers(evaluation),
            )
        return self._deliver(evaluation, merged)

    def _trust_governance(self, evaluation: Evaluation, merge: MergedPull) -> None:
        """An approved governance pull request was merged: its rules become trusted, before
        its ``sealgate/sync`` completes, so a crash in between is repaired next pass."""
        snapshot = evaluation.snapshot
        merge_sha = merge.merge_commit_sha
        if snapshot.proposed_rule_files is None or not merge_sha:
            return
        files = self._github.rules_at(snapshot.repo, merge_sha)
        origin = origin_of(snapshot, evaluation.decision, merge, bot=self._github.login())
        digest = self._trust.trust_merge(
            snapshot.repo, snapshot.facts.number, snapshot.base_ref, merge_sha, files, origin=origin
        )
        log.info(
            "%s#%d: the rules at %s@%s (%s) are trusted",
            snapshot.repo,
            snapshot.facts.number,
            snapshot.base_ref,
            merge_sha[:12],
            digest,
        )

    def _merge_requested(self, evaluation: Evaluation) -> str | None:
        """Who asked for the merge: the policy (auto-merge), a bypasser, or a commenter."""
        decision = evaluation.decision
        facts = evaluation.facts  # carries the fresh memberships once they were read
        if decision.bypassed:
            return decision.bypassed_by or facts.author
        if decision.auto_merge:
            return "auto-merge"
        # The policy engine judged the merge commands: on this head, unedited, not quoted,
        # by the author or an eligible approver; the ones it ignored are in its reasons.
        requested = decision.merge_requested_by
        if requested is not None and requested == self._github.login().casefold():
            return None
        return requested

    def _report_quietly(self, evaluation: Evaluation, *, applied: bool = False) -> None:
        """Report, where a failed report must not stop what follows (a delivery, the sync
        check): the next pass reports again."""
        try:
            self._report(evaluation, applied=applied)
        except SealgateError as exc:
            snapshot = evaluation.snapshot
            log.warning("%s#%d: report failed: %s", snapshot.repo, snapshot.facts.number, exc)

    def _report(self, evaluation: Evaluation, *, applied: bool = False) -> None:
        ask_reviewers(self._github, self._observer, evaluation)
        try:
            self._github.report(evaluation.snapshot, evaluation.summary(applied=applied))
        except BackendError:
            self._observer.failure("report")
            raise

    # ================================================================ merged pull requests

    def _merged(self, snapshot: Snapshot) -> RequestStatus:
        repo, number, head = snapshot.repo, snapshot.facts.number, snapshot.facts.head_sha
        state = self._github.sync_state(repo, head)
        merge = self._github.merge_facts(repo, number)
        when = merge.merged_at if merge is not None else self._clock()
        # Judged as of the merge, from the same head and base facts: an approval that has
        # since expired still covered the merge, and a crash after the merge is repaired.
        evaluation = self._assess(snapshot, when)
        if _complete(state) and evaluation.decision.access and evaluation.grants:
            return self._keep_access(evaluation, when)
        if _complete(state):
            self._answers.answer(evaluation, PassOutcome("merged", merged_at=when))
            with self._state:
                self._finished.add((repo, number, head))
            return self._remember(self._finished_status(evaluation, state))
        if merge is None:
            merge = MergedPull(number, head, when, "")
        if evaluation.rules_untrusted and snapshot.proposed_rule_files is not None:
            # A governance pull request merged (by sealgate, then a crash) leaves its own
            # rules at the tip, untrusted until it is handled: judge it by the rules it was
            # merged into, as it was judged before the merge.
            parent = self._github.first_parent(repo, merge.merge_commit_sha)
            if parent is not None:
                parent_rules = self._github.rules_at(repo, parent)
                evaluation = self._assess(snapshot, when, rules_at=(parent, parent_rules))
        granting = (
            evaluation.decision.access and evaluation.decision.state is DecisionState.APPROVED
        )
        if not granting:
            # An access request is answered once its grants exist (`/sealgate revoke`).
            self._answers.answer(evaluation, PassOutcome("merged", merged_at=merge.merged_at))
        if evaluation.decision.state is not DecisionState.APPROVED:
            return self._refuse(evaluation, merge)
        self._remember(self._status_of(evaluation, Status.MERGED, messages=("merged",)))
        self._trust_governance(evaluation, merge)
        return self._deliver(evaluation, merge)

    def _refuse(self, evaluation: Evaluation, merge: MergedPull) -> RequestStatus:
        repo, number = evaluation.snapshot.repo, evaluation.snapshot.facts.number
        head = evaluation.snapshot.facts.head_sha
        refusal = evaluation.snapshot.refusal
        reason = (
            f"merged by {merge.merged_by or 'someone'} without an approved sealgate decision "
            f"({refusal or evaluation.decision.state.value}): nothing was applied to the store "
            "or clusters"
        )
        log.warning("%s#%d: %s", repo, number, reason)
        self._observer.failure("merged-unapproved")
        self._report(evaluation)
        self._github.comment_once(
            repo,
            number,
            f"merged-unapproved:{head}",
            f"**sealgate did not apply this pull request.** It was {reason}. "
            "Propose the change again and have it approved.",
        )
        self._notices.send(
            NotificationKind.FAILED, evaluation, actor=merge.merged_by, reason=reason
        )
        self._github.report_sync(repo, number, head, refused_check(reason))
        with self._state:
            self._finished.add((repo, number, head))
        return self._remember(self._status_of(evaluation, Status.FAILED, messages=(reason,)))

    def _deliver(self, evaluation: Evaluation, merge: MergedPull) -> RequestStatus:
        if evaluation.decision.access:
            return self._grant(evaluation, merge)
        snapshot = evaluation.snapshot
        decision = evaluation.decision
        repo, number, head = snapshot.repo, snapshot.facts.number, snapshot.facts.head_sha
        approvers = tuple(sorted({login for s in decision.steps for login in s.approved_by}))
        origin = origin_of(snapshot, decision, merge, bot=self._github.login())
        outcomes: list[EnvironmentOutcome] = []
        try:
            for environment in evaluation.environments:
                change_id = change_id_for(environment, number)
                record = ApprovalRecord(
                    change_id=change_id,
                    pull_request=number,
                    head_sha=head,
                    approved_by=approvers,
                    merged_by=merge.merged_by or self._settings.bot_login,
                    bypass_reason=decision.bypass_reason if decision.bypassed else None,
                    bypassed_by=decision.bypassed_by if decision.bypassed else None,
                    origin=origin,
                    reasons=reasons_of(evaluation.changes_of(environment)),
                )
                clusters = self._clusters_of(evaluation, environment)
                last = environment == evaluation.environments[-1]
                with self._env_locks.hold(environment):
                    applied = self._delivery.apply(
                        change_id, evaluation.changes_of(environment), record
                    )
                    outcomes.append(
                        self._delivery.deliver(
                            environment,
                            applied,
                            clusters,
                            origin=origin,
                            # Approved, merged, applied and written: said on the pull request
                            # now, while the rollouts are watched.
                            on_written=(
                                lambda: self._report_quietly(
                                    after_apply(evaluation, self._store), applied=True
                                )
                            )
                            if last
                            else None,
                        )
                    )
        except (InputError, ConflictError) as exc:
            # The store refused the change as it stands (e.g. proposed against an older
            # version): retrying cannot help, a new pull request must.
            return self._failed(evaluation, outcomes, f"the store refused the change: {exc}")
        except BackendError as exc:
            if not exc.retryable:
                return self._failed(evaluation, outcomes, f"apply failed: {exc}")
            # Left unfinished on purpose: no completed sealgate/sync, so the next poll's
            # work_items picks this pull request up again.
            self._observer.failure("apply")
            log.warning("%s#%d: apply or sync failed, will retry: %s", repo, number, exc)
            self._report_quietly(evaluation)
            raise
        return self._outcome(evaluation, merge, tuple(outcomes))

    def _grant(self, evaluation: Evaluation, merge: MergedPull) -> RequestStatus:
        """A merged access request: record its grants, deliver them, report what was
        granted. Idempotent: a replayed pass finds the grants recorded."""
        keeper = self.grant_keeper
        if keeper is None:
            return self._failed(
                evaluation,
                [],
                "this controller records no access grants (no store grants or clusters are"
                " configured); nothing was granted",
            )
        judged = evaluation
        try:
            evaluation = grant_merged(
                keeper,
                judged,
                merge,
                bot_login=self._github.login(),
                clusters_of=lambda environment: self._clusters_of(judged, environment),
            )
        except (InputError, IntegrityError) as exc:
            return self._failed(evaluation, [], f"no access was granted: {exc}")
        except BackendError as exc:
            if not exc.retryable:
                return self._failed(evaluation, [], f"no access was granted: {exc}")
            self._observer.failure("grant")
            raise
        snapshot = evaluation.snapshot
        repo, number, head = snapshot.repo, snapshot.facts.number, snapshot.facts.head_sha
        log.info(
            "%s#%d: granted %s",
            repo,
            number,
            ", ".join(f"{g.id} to {g.requester}" for g in evaluation.grants) or "nothing",
        )
        status = self._keep_access(evaluation, merge.merged_at, fresh=True)
        self._notices.send(
            NotificationKind.APPLIED,
            evaluation,
            actor=merge.merged_by,
            details=tuple(
                f"access {g.id}: {g.requester}, {', '.join(i.secret for i in g.secrets)}"
                for g in evaluation.grants
            ),
        )
        self._github.report_sync(repo, number, head, granted_check(evaluation.grants))
        with self._state:
            self._finished.add((repo, number, head))
        return status

    def _keep_access(
        self, evaluation: Evaluation, merged_at: datetime, *, fresh: bool = False
    ) -> RequestStatus:
        """Every pass over a granted access request: its revocations, its summary (the
        grants' states move with the clock and every use), the replies."""
        keeper = self.grant_keeper
        if keeper is not None:
            judged = evaluation
            revoking = revoke_commented(
                keeper,
                evaluation,
                bot_login=self._github.login(),
                clusters_of=lambda environment: self._clusters_of(judged, environment),
            )
            if revoking.revoked:
                evaluation = with_grants(evaluation, keeper)
        else:
            revoking = RevokePass()
        self._report(evaluation, applied=True)
        if keeper is not None:
            snapshot = evaluation.snapshot
            keeper.reports.reported(snapshot.repo, snapshot.facts.number, evaluation.grants)
        self._answers.answer(
            evaluation,
            PassOutcome("merged", merged_at=merged_at, revoke_replies=revoking.replies),
        )
        return self._remember(
            self._status_of(
                evaluation,
                Status.GRANTED,
                messages=("access granted" if fresh else "granted",),
            )
        )

    def _clusters_of(self, evaluation: Evaluation, environment: str) -> tuple[str, ...]:
        """Where this delivery goes: the environment's clusters in the rules that judged it
        (the tip of an accepted base branch), never a map other pull requests can write."""
        declared = evaluation.rules.environments.get(environment)
        return declared.clusters if declared is not None else ()

    def _outcome(
        self, evaluation: Evaluation, merge: MergedPull, outcomes: tuple[EnvironmentOutcome, ...]
    ) -> RequestStatus:
        snapshot = evaluation.snapshot
        repo, number, head = snapshot.repo, snapshot.facts.number, snapshot.facts.head_sha
        ok = all(o.ok for o in outcomes)
        final_failure = any(o.rollout_failed for o in outcomes) or any(
            not o.ok and not o.sync.retryable for o in outcomes
        )
        retrying = not ok and not final_failure
        for o in outcomes:
            # The store's API records applies and rollbacks, not syncs: this line is the
            # sync's record (names and outcomes only).
            log.info(
                "%s#%d: %s synced to %s: %s",
                repo,
                number,
                o.change_id,
                ", ".join(o.clusters) or "no clusters",
                "; ".join(
                    f"{r.cluster} {r.kind} {r.namespace}/{r.name} {r.outcome}"
                    for report in (o.sync, o.rollback_sync)
                    if report is not None
                    for r in sync_rows(report)
                )
                or "nothing to sync",
            )
        details = tuple(
            f"{r.cluster} {r.kind} {r.namespace}/{r.name}: {r.outcome}"
            for o in outcomes
            for r in sync_rows(o.sync)
        )
        # Usually reported already, as the Secrets were written (then this costs nothing).
        if ok:
            # A failure here leaves the sync check unfinished: the next pass, which finds the
            # delivery done, reports again.
            self._report(after_apply(evaluation, self._store), applied=True)
            self._notices.send(
                NotificationKind.APPLIED, evaluation, actor=merge.merged_by, details=details
            )
            status = Status.SYNCED
            messages: tuple[str, ...] = ("applied and synced",)
        elif retrying:
            # Some Secret could not be written: nothing reported the apply yet.
            self._report_quietly(after_apply(evaluation, self._store), applied=True)
            status = Status.APPLIED
            messages = ("applied; some clusters could not be synced yet: retrying",)
        else:
            self._report_quietly(after_apply(evaluation, self._store), applied=True)
            status = Status.FAILED
            reason = _rollout_failure_reason(outcomes)
            messages = (reason,)
            self._github.comment_once(
                repo,
                number,
                f"rollout-failed:{head}",
                f"**sealgate: {reason}.** See the `sealgate/sync` check for each cluster "
                "and workload.",
            )
            self._notices.send(
                NotificationKind.FAILED,
                evaluation,
                reason=reason,
                details=details,
                approvers=all_approvers(evaluation),
            )
        self._github.report_sync(repo, number, head, sync_check(outcomes, retrying=retrying))
        crashpoint("reconciler.after-report")
        if not retrying:
            with self._state:
                self._finished.add((repo, number, head))
        return self._remember(
            self._status_of(
                evaluation,
                status,
                messages=messages,
                change_ids=tuple(o.change_id for o in outcomes),
                versions=_versions(o.applied for o in outcomes),
                sync=tuple(
                    row
                    for o in outcomes
                    for report in (o.sync, o.rollback_sync)
                    if report is not None
                    for row in sync_rows(report)
                ),
            )
        )

    def _failed(
        self, evaluation: Evaluation, outcomes: list[EnvironmentOutcome], reason: str
    ) -> RequestStatus:
        snapshot = evaluation.snapshot
        repo, number, head = snapshot.repo, snapshot.facts.number, snapshot.facts.head_sha
        log.warning("%s#%d: %s", repo, number, reason)
        self._observer.failure("apply")
        self._report_quietly(evaluation)
        self._github.comment_once(repo, number, f"apply-failed:{head}", f"**sealgate:** {reason}")
        self._notices.send(NotificationKind.FAILED, evaluation, reason=reason)
        check = refused_check(reason)
        if outcomes:
            partial = sync_check(outcomes, retrying=False)
            check = type(check)(check.title, check.text + "\n" + partial.text, "failure")
        self._github.report_sync(repo, number, head, check)
        with self._state:
            self._finished.add((repo, number, head))
        return self._remember(self._status_of(evaluation, Status.FAILED, messages=(reason,)))

    def _finished_status(
        self, evaluation: Evaluation, state: SyncCheckState | None
    ) -> RequestStatus:
        """The status of a merged pull request sealgate already finished: reads only."""
        repo, number = evaluation.snapshot.repo, evaluation.snapshot.facts.number
        known = self.status(repo, number)
        if known is not None and known.head_sha == evaluation.snapshot.facts.head_sha:
            return known
        applied = [
            result
            for environment in evaluation.environments
            if (result := self._store.is_applied(change_id_for(environment, number))) is not None
        ]
        success = state is not None and state.conclusion == "success"
        return self._status_of(
            evaluation,
            Status.SYNCED if success else Status.FAILED,
            messages=(state.title if state is not None else "",),
            change_ids=tuple(r.change_id for r in applied),
            versions=_versions(applied),
        )

    # ================================================================ notifications

    def _remind(self, repo: str, number: int) -> bool:
        since = self._notices.reminder_due(repo, number, self._clock())
        if since is None:
            return False
        snapshot = self._github.fetch(repo, number)
        evaluation = self._assess(snapshot, self._clock())
        if evaluation.decision.state is not DecisionState.PENDING:
            return False
        self._notices.send(
            NotificationKind.REMINDER,
            evaluation,
            reason=f"waiting for approval since {since.isoformat(timespec='minutes')}",
        )
        return True

    # ================================================================ status

    def _status_of(
        self,
        evaluation: Evaluation,
        status: Status,
        *,
        messages: tuple[str, ...] | None = None,
        change_ids: tuple[str, ...] = (),
        versions: tuple[tuple[str, int], ...] = (),
        sync: tuple[SyncRow, ...] = (),
    ) -> RequestStatus:
        snapshot = evaluation.snapshot
        return RequestStatus.from_decision(
            snapshot.repo,
            snapshot.facts.number,
            status,
            evaluation.decision,
            updated_at=self._clock(),
            head_sha=snapshot.facts.head_sha,
            change_ids=change_ids,
            versions=versions,
            sync=sync,
            messages=messages,
            access=access_statuses(
                evaluation.access_requests, evaluation.decision, evaluation.grants
            ),
        )

    def _remember(self, status: RequestStatus) -> RequestStatus:
        with self._state:
            self._statuses[(status.repo, status.number)] = status
        return status


def _rollout_failure_reason(outcomes: tuple[EnvironmentOutcome, ...]) -> str:
    """Says plainly whether the replaced value is back: a rotation never silently undoes."""
    reason = "a rollout failed"
    rolled = sorted(p for o in outcomes for r in o.rollbacks for p in r.versions)
    kept = sorted(p for o in outcomes for p in o.kept)
    if rolled:
        reason += (
            f"; {', '.join(rolled)} rolled back to its previous content (onRolloutFailure: "
            "rollback): the value this change replaced is in use again"
        )
    if kept:
        reason += (
            f"; {', '.join(kept)} kept the new value in store and cluster (onRolloutFailure: "
            "keep): fix the workload"
        )
    return reason


def _complete(state: SyncCheckState | None) -> bool:
    return state is not None and state.status == "completed"


def _versions(results: Iterator[ApplyResult] | list[ApplyResult]) -> tuple[tuple[str, int], ...]:
    return tuple(sorted((path, v) for r in results for path, v in r.versions.items()))
