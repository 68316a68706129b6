"""From a pull-request snapshot to a decision and the summary that reports it.

Every sealed value is opened with the keyring to prove it belongs where it claims (the
environment, secret and key are bound into the ciphertext); the plaintext is used only to
compute the keyed fingerprint reviewers see, and dropped at once.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from controller.crypto import replay_problems, sealed_digests
from controller.crypto.quoting import QUOTED_MESSAGE, quotes_any
from controller.crypto.strength import generate_problem, value_problem
from controller.documents import Rules
from controller.documents.access_rules import access_store_problems
from controller.documents.secret_shape import content_problem, shape_problems
from controller.errors import Problem, SealedValueError
from controller.github.summary import Summary, render_summary
from controller.github.summary_access import access_view
from controller.github.summary_keys import StoredSecret
from controller.model import (
    MAX_SECRET_BYTES,
    OPAQUE,
    AccessRequest,
    Decision,
    Environment,
    Grant,
    Policy,
    PullRequestFacts,
    RolloutFailure,
    SecretChange,
    Tier,
    frozen_map,
)
from controller.policy import applicable_policies, evaluate
from controller.policy.people import self_excluded
from controller.policy.scope import covers, rollout_failure
from controller.policy.tiers import current_tier, new_tier, with_new_tiers
from controller.reconciler.access_reasons import reasons_quoting_values
from controller.reconciler.judging import judge_documents
from controller.reconciler.ports import KeysPort, Snapshot
from controller.reconciler.store_state import HistoryCache, store_states
from controller.reconciler.stored import Lookup
from controller.reconciler.versions import (
    RestoreRow,
    VersionView,
    judge_versions,
    with_restored_tiers,
)
from controller.store.types import SecretData, SecretInfo, VersionInfo


@dataclass(frozen=True)
class Evaluation:
    snapshot: Snapshot
    facts: PullRequestFacts
    """The snapshot's facts with current tiers and the clock the decision used."""
    rules: Rules
    changes: tuple[SecretChange, ...]
    problems: tuple[Problem, ...]
    decision: Decision
    fingerprints: Mapping[tuple[str, str], str]
    """``(change.path, key)`` -> keyed fingerprint of the new value, as this pull request
    shows it (bound to the pull request, so it matches nothing shown anywhere else)."""
    rollout: Mapping[str, RolloutFailure] = field(default_factory=frozen_map)
    """Per path, what a failed rollout does; ``changes`` carry it resolved."""
    warnings: tuple[str, ...] = ()
    tier_moves: Mapping[str, tuple[Tier, Tier]] = field(default_factory=frozen_map)
    """``change.path`` -> (tier now, tier the store keeps after the change)."""
    rules_untrusted: bool = False
    """The rules it was judged by are not trusted (``controller.reconciler.trust``)."""
    restores: Mapping[str, tuple[RestoreRow, ...]] = field(default_factory=frozen_map)
    """Per path, what a ``spec.restore`` writes back (store fingerprints now and restored)."""
    others: tuple[str, ...] = ()
    """Other open pull requests changing the same keys, one line each, for the summary."""
    before: Mapping[str, StoredSecret] | None = None
    """Per path, the store's state this pull request replaces (None: no store asked)."""
    after: Mapping[str, StoredSecret] = field(default_factory=frozen_map)
    """Per path, the version this pull request's own apply wrote, once it did."""
    own_change_ids: frozenset[str] = frozenset()
    reasons_withheld: frozenset[str] = frozenset()
    """Sources whose reason quotes a value the store holds now: the summary leaves it out
    (the store withholds it from the audit log as it applies)."""
    access_requests: tuple[AccessRequest, ...] = ()
    """The pull request's access requests (``changes`` is then empty: nothing is applied)."""
    grants: tuple[Grant, ...] = ()
    """The grants recorded for this pull request's access requests, as the store holds them."""
    grants_read_at: datetime | None = None
    """When ``grants`` were read: their states are shown as of then. A merged pull request
    is judged as of its merge (``facts.now``), but its grants move on after it."""

    @property
    def policies(self) -> tuple[Policy, ...]:
        """The policies that apply to this pull request."""
        return applicable_policies(self.decision, self.rules.policies)

    @property
    def environments(self) -> tuple[str, ...]:
        return tuple(sorted({c.environment for c in self.changes}))

    def changes_of(self, environment: str) -> tuple[SecretChange, ...]:
        return tuple(c for c in self.changes if c.environment == environment)

    def summary(self, *, applied: bool = False) -> Summary:
        return render_summary(
            self.decision,
            self.changes,
            fingerprints=self.fingerprints,
            problems=self.problems,
            change_policies=self._change_policies(),
            applied=applied,
            rollout=self.rollout,
            # Whether a value equals one the store holds is said only once it is applied:
            # said before, every pull request would be a guess answered yes or no.
            warnings=self.warnings if applied else (),
            tier_moves=self.tier_moves,
            restores={
                path: [(r.key, r.operation, r.current, r.restored) for r in rows]
                for path, rows in self.restores.items()
            },
            others=self.others,
            reasons_withheld=self.reasons_withheld,
            policies=self.policies,
            requester=self.facts.author,
            now=self.facts.now,
            before=self.before,
            after=self.after if applied else None,
            clusters={
                name: env.clusters
                for name, env in self.rules.environments.items()
                if name in self.environments
            },
            contributors=self_excluded(self.facts),
            access=(
                access_view(
                    self.access_requests,
                    self.decision,
                    {},
                    None,
                    self.grants_read_at or self.facts.now,
                    grants=self.grants,
                    withheld=self.reasons_withheld,
                )
                if self.decision.access
                else None
            ),
        )

    def _change_policies(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for change in self.changes:
            tier = self.decision.tiers.get(change.path)
            if tier is not None:
                out[change.path] = [p.name for p in self.rules.policies if covers(p, change, tier)]
        return out


@dataclass(frozen=True, slots=True)
class OpenedValues:
    shown: dict[tuple[str, str], str]
    stored: dict[tuple[str, str], str]
    problems: list[Problem]


class AppliedValues(Protocol):
    """The store's index of applied sealed values (``controller.store.Store``)."""

    def applied_sealed(self, env: str, digests: Sequence[str]) -> Mapping[str, str]: ...

    def history(self, env: str, secret: str) -> list[VersionInfo]: ...


def assess(
    snapshot: Snapshot,
    *,
    keys: KeysPort | None,
    current_tiers: Lookup[Tier],
    now: datetime | None = None,
    applied_values: AppliedValues | None = None,
    own_change_ids: frozenset[str] = frozenset(),
    controller_namespace: str | None = None,
    rule_files: Mapping[str, bytes] | None = None,
    untrusted: Problem | None = None,
    current_secrets: Lookup[SecretInfo] | None = None,
    judge_stale: bool = True,
    current_values: Callable[[str, str], SecretData | None] | None = None,
    agent_requests: Mapping[str, str] | None = None,
    bot_login: str = "",
) -> Evaluation:
    """Parse, validate, open and evaluate. ``now`` replaces the snapshot's clock (a merged
    pull request is judged as of its merge). ``applied_values`` refuses sealed values an
    earlier change applied (``own_change_ids``, this pull request's own applies, excepted).
    ``rule_files`` replace the snapshot's rules; ``untrusted`` says why they may not judge
    (the decision is then invalid). ``current_secrets`` (path -> what the store holds) lets
    a change be judged against the Secret it edits: its type and keys. Without ``keys``
    (``sealgate plan --pull`` with no key directory) sealed values are not opened, so
    nothing about them is checked or shown. ``judge_stale``: a change overtaken since its
    ``baseVersion`` makes the decision invalid (the store checks again when it applies).
    ``current_values`` reads what the store holds now, only to keep a reason that quotes a
    value about to be replaced out of the summary. ``agent_requests`` and ``bot_login``:
    the agent requests the store vouches for (``PullRequestFacts.agent_requests``)."""
    facts = dataclasses.replace(
        snapshot.facts,
        now=now if now is not None else snapshot.facts.now,
        agent_requests=dict(agent_requests or {}),
        bot_login=bot_login,
    )
    problems: list[Problem] = list(snapshot.problems)
    if untrusted is not None:
        problems.append(untrusted)
    judged = judge_documents(
        snapshot.rule_files if rule_files is None else rule_files,
        snapshot.change_files,
        proposed_rule_files=snapshot.proposed_rule_files,
        controller_namespace=controller_namespace,
    )
    problems.extend(judged.problems)
    rules = judged.rules
    changes = judged.secret_changes
    requests = judged.access_requests
    # Only the secrets the documents name are looked up: the store's view reads them one by one.
    asked = sorted({path for request in requests for path in request.paths})
    paths = {c.path for c in changes} | set(asked)
    tiers = {path: t for path in paths if (t := current_tiers.get(path)) is not None}
    facts = dataclasses.replace(facts, current_tiers=tiers)
    if requests and current_secrets is not None:
        held = {path: info for path in asked if (info := current_secrets.get(path)) is not None}
        problems.extend(
            access_store_problems(
                requests, {path: frozenset(info.keys) for path, info in held.items()}
            )
        )
    # From here on every change carries the tier the store must keep, so a new secret is
    # stored at the tier it is judged at (its environment's default, or its floor).
    moves = _tier_moves(changes, rules.environments, tiers)
    changes = with_new_tiers(changes, rules.environments, tiers)
    versions = VersionView()
    if applied_values is not None:
        # One read of each secret's history serves staleness, before/after and replays.
        applied_values = HistoryCache(applied_values)
        versions = judge_versions(
            changes, applied_values.history, own=own_change_ids, stale=judge_stale
        )
        problems.extend(versions.problems)
        changes, moves = with_restored_tiers(changes, moves, versions.tiers)
    rollout = rollout_failure(changes, rules.environments)
    changes = [dataclasses.replace(c, on_rollout_failure=rollout[c.path]) for c in changes]
    before: dict[str, StoredSecret] | None = None
    after: dict[str, StoredSecret] = {}
    if applied_values is not None:
        before, after = store_states(changes, applied_values, own_change_ids)
        problems.extend(replay_problems(changes, _applied(changes, applied_values, own_change_ids)))
    current = {
        c.path: info
        for c in changes
        if current_secrets is not None and (info := current_secrets.get(c.path)) is not None
    }
    found = shape_problems(
        changes,
        {path: info.shape.type for path, info in current.items()},
        {path: frozenset(info.keys) for path, info in current.items()},
    )
    problems.extend(Problem(p.change.source or p.change.path, p.field, p.message) for p in found)
    opened = (
        OpenedValues(shown={}, stored={}, problems=[])
        if keys is None
        else open_values(
            changes,
            keys,
            environments=rules.environments,
            tiers=_judged(moves),
            shown_in=f"{snapshot.repo}#{facts.number}",
            types={
                c.path: c.shape_after(current[c.path].shape if c.path in current else None).type
                for c in changes
            },
        )
    )
    problems.extend(opened.problems)
    decision = evaluate(
        environments=rules.environments,
        policies=rules.policies,
        changes=changes,
        facts=facts,
        problems=problems,
        access_requests=requests,
    )
    if decision.access:
        # Approved access is recorded as a grant, never applied as a change: stray change
        # documents of a mixed (invalid) pull request must not reach the store either.
        changes = []
    return Evaluation(
        snapshot=snapshot,
        facts=facts,
        rules=rules,
        changes=tuple(changes),
        problems=tuple(problems),
        decision=decision,
        fingerprints=opened.shown,
        rollout=frozen_map(rollout),
        warnings=tuple(reuse_warnings(changes, opened.stored, applied_values, own_change_ids)),
        tier_moves=frozen_map(moves),
        rules_untrusted=untrusted is not None,
        restores=versions.restores,
        reasons_withheld=_quoting_current(changes, current_values)
        | reasons_quoting_values(requests, current_values),
        before=None if before is None else frozen_map(before),
        after=frozen_map(after),
        own_change_ids=own_change_ids,
        access_requests=tuple(requests),
    )


def _quoting_current(
    changes: Sequence[SecretChange],
    read: Callable[[str, str], SecretData | None] | None,
) -> frozenset[str]:
    if read is None:
        return frozenset()
    withheld: set[str] = set()
    for change in changes:
        held = read(change.environment, change.secret)
        if held is not None and quotes_any(change.reason, held.data.values()):
            withheld.add(change.source)
        del held
    return frozenset(withheld)


def after_apply(evaluation: Evaluation, store: AppliedValues) -> Evaluation:
    """The evaluation with the versions its apply just wrote, for the "applied" summary."""
    _, after = store_states(evaluation.changes, HistoryCache(store), evaluation.own_change_ids)
    return dataclasses.replace(evaluation, after=frozen_map(after))


def reuse_warnings(
    changes: Sequence[SecretChange],
    fingerprints: Mapping[tuple[str, str], str],
    store: AppliedValues | None,
    own_change_ids: frozenset[str] = frozenset(),
) -> list[str]:
    """A new value equal to one the key held before, found by keyed fingerprint.

    Versions this pull request wrote itself (``own_change_ids``) are not "before": a pass
    that resumes after its apply would otherwise find its own value there.

    Warned, not refused: returning to an earlier value is sometimes the point (a vendor
    revoked the new credential), and a refusal would push it out of review into an
    operator's rollback. Reviewers must see it, though: a "rotation" that reinstates a
    replaced value rotates nothing. Fingerprints only: no value is opened or shown.
    """
    if store is None:
        return []
    warnings: list[str] = []
    for change in changes:
        wanted = {
            k: fingerprints[(change.path, k)]
            for k in change.set
            if (change.path, k) in fingerprints
        }
        if not wanted:
            continue
        versions = [
            v
            for v in store.history(change.environment, change.secret)
            if v.change_id not in own_change_ids
        ]
        current = versions[0].version if versions else 0
        for key, fp in sorted(wanted.items()):
            held = [v.version for v in versions if v.fingerprints.get(key) == fp]
            if not held:
                continue
            when = (
                "the value it holds now"
                if held[0] == current
                else f"the value of version {held[0]}, which was replaced since"
            )
            warnings.append(
                f"{change.source or change.path}: spec.set.{key}: the new value of "
                f"{change.path} key {key} equals {when} (same fingerprint): it rotates "
                "nothing; approve only if returning to it is intended"
            )
    return warnings


def _applied(
    changes: Sequence[SecretChange], store: AppliedValues, own: frozenset[str]
) -> dict[tuple[str, str], str]:
    """``(environment, digest)`` -> the other change that already applied that value."""
    wanted: dict[str, list[str]] = {}
    for change in changes:
        wanted.setdefault(change.environment, []).extend(d for _, d in sealed_digests(change))
    found: dict[tuple[str, str], str] = {}
    for environment, digests in sorted(wanted.items()):
        if not digests:
            continue
        for digest, change_id in store.applied_sealed(environment, digests).items():
            if change_id not in own:
                found[(environment, digest)] = change_id
    return found


def _tier_moves(
    changes: Sequence[SecretChange],
    environments: Mapping[str, Environment],
    current_tiers: Mapping[str, Tier],
) -> dict[str, tuple[Tier, Tier]]:
    moves: dict[str, tuple[Tier, Tier]] = {}
    for change in changes:
        environment = environments.get(change.environment)
        if environment is not None:
            moves[change.path] = (
                current_tier(change, environment, current_tiers),
                new_tier(change, environment, current_tiers),
            )
    return moves


def _judged(moves: Mapping[str, tuple[Tier, Tier]]) -> dict[str, Tier]:
    return {path: Tier.highest(*move) for path, move in moves.items()}


def open_values(
    changes: Sequence[SecretChange],
    keys: KeysPort,
    *,
    environments: Mapping[str, Environment] | None = None,
    tiers: Mapping[str, Tier] | None = None,
    shown_in: str = "",
    types: Mapping[str, str] | None = None,
) -> OpenedValues:
    """Fingerprint every sealed value that opens; one problem per value that does not, or
    that is too weak for the tier it is judged at (``tiers``: path -> tier).

    Two fingerprints per value: the store's (comparable with its history, never shown on a
    pull request) and the one shown in ``shown_in`` (bound to it)."""
    stored: dict[tuple[str, str], str] = {}
    shown: dict[tuple[str, str], str] = {}
    problems: list[Problem] = []
    sizes: dict[str, int] = {}
    """Per path, the bytes the change itself writes (keys and values, as Kubernetes counts)."""
    for change in changes:
        where = change.source or change.path
        prefix = f"document {change.document_index + 1}: " if change.document_index else ""
        environment = (environments or {}).get(change.environment)
        tier = (tiers or {}).get(change.path)
        rule = environment.value_policy.get(tier) if environment and tier else None
        if rule is not None and tier is not None:
            for key, spec in change.generate.items():
                weak = generate_problem(spec, tier, rule)
                if weak:
                    problems.append(Problem(where, f"spec.generate.{key}", prefix + weak))
        for key, sealed in change.set.items():
            try:
                plain = keys.open(
                    sealed, environment=change.environment, secret=change.secret, key=key
                )
                sizes[change.path] = sizes.get(change.path, 0) + len(key) + len(plain)
                place = {"environment": change.environment, "secret": change.secret, "key": key}
                stored[(change.path, key)] = keys.fingerprint(plain, **place)
                shown[(change.path, key)] = keys.fingerprint(plain, **place, context=shown_in)
                weak = value_problem(plain, tier, rule) if rule and tier else None
                weak = content_problem((types or {}).get(change.path, OPAQUE), key, plain) or weak
                quoted = quotes_any(change.reason, (plain,))
                del plain
                if weak:
                    problems.append(Problem(where, f"spec.set.{key}", prefix + weak))
                if quoted:
                    problems.append(
                        Problem(where, "spec.reason", prefix + QUOTED_MESSAGE.format(key=key))
                    )
            except SealedValueError as exc:
                problems.extend(
                    Problem(where, f"spec.set.{key}", prefix + p.message) for p in exc.problems
                )
    for change in changes:
        sizes[change.path] = sizes.get(change.path, 0) + sum(
            len(key) + spec.length for key, spec in change.generate.items()
        )
    for change in changes:
        size = sizes.pop(change.path, 0)
        if size > MAX_SECRET_BYTES:
            problems.append(
                Problem(
                    change.source or change.path,
                    "spec",
                    f"{change.path} would hold {size} bytes of keys and values, and Kubernetes"
                    f" refuses a Secret over {MAX_SECRET_BYTES} bytes; split it into several"
                    " secrets",
                )
            )
    return OpenedValues(shown=shown, stored=stored, problems=problems)
