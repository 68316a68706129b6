"""``sealgate plan --pull``: read a live pull request and judge it by two rule sets.

An operator editing ``policies/`` wants to know what their edit would do to a real pull
request before proposing it (policy-bot's "simulate"). The pull request is read with the
controller's own snapshot reader, so the facts are exactly what the controller would see,
and judged by the controller's own ``assess``: once with the rules given (the working
tree) and once with the rules at the tip of its base branch, which is what the controller
decides today.

Read only: the snapshot reader sends GET requests only, and nothing else is called. What
plan cannot know is said in the notes: whether the controller's store trusts the base
rules, the tiers the store holds (unless given), values it applied before (replays).
Loaded by name from ``controller.cli.plan_pull``, so the CLI layer stays free of PyGithub.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from controller.errors import ConflictError, Problem
from controller.github import GitHubClient, PullRequestSnapshot, SnapshotReader
from controller.model import Decision, PullRequestFacts, Tier
from controller.reconciler.evaluation import assess
from controller.reconciler.ports import KeysPort

_SNAPSHOT_ATTEMPTS = 3


@dataclass(frozen=True)
class PullPlan:
    repo: str
    number: int
    head_sha: str
    base_ref: str
    rules_sha: str
    working: Decision
    """With the rules given (the working tree)."""
    base: Decision
    """With the rules at the tip of the base branch: what the controller decides."""
    facts: PullRequestFacts
    notes: tuple[str, ...]

    @property
    def differs(self) -> bool:
        return self.working != self.base


def plan_pull(
    *,
    github_url: str,
    token: str,
    repo: str,
    number: int,
    rule_files: Mapping[str, bytes],
    rule_problems: Sequence[Problem] = (),
    keys: KeysPort | None = None,
    current_tiers: Mapping[str, Tier] | None = None,
) -> PullPlan:
    """Read ``repo#number`` and judge it by ``rule_files`` and by its base branch's rules.

    ``rule_problems``: what kept ``rule_files`` from being complete. Raises ``GitHubError``.
    """
    tiers = dict(current_tiers or {})
    client = GitHubClient.from_token(token, base_url=github_url)
    try:
        snapshot = _fetch(SnapshotReader(client), repo, number)
    finally:
        client.close()
    working_snapshot = dataclasses.replace(snapshot, problems=(*snapshot.problems, *rule_problems))
    working = assess(working_snapshot, keys=keys, current_tiers=tiers, rule_files=rule_files)
    base = assess(snapshot, keys=keys, current_tiers=tiers)
    return PullPlan(
        repo=repo,
        number=number,
        head_sha=snapshot.facts.head_sha,
        base_ref=snapshot.base_ref,
        rules_sha=snapshot.rules_sha,
        working=working.decision,
        base=base.decision,
        facts=working.facts,
        notes=_notes(snapshot, keys=keys, current_tiers=tiers),
    )


def _fetch(reader: SnapshotReader, repo: str, number: int) -> PullRequestSnapshot:
    for attempt in range(_SNAPSHOT_ATTEMPTS):
        try:
            return reader.fetch(repo, number)
        except ConflictError:
            # The head moved while it was read: read again, as the controller does.
            if attempt == _SNAPSHOT_ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def _notes(
    snapshot: PullRequestSnapshot, *, keys: KeysPort | None, current_tiers: Mapping[str, Tier]
) -> tuple[str, ...]:
    notes = []
    if snapshot.refusal is not None:
        notes.append(f"the controller does not judge this pull request: {snapshot.refusal}")
    if keys is None:
        notes.append("sealed values were not opened: pass --key-dir to check them too")
    if not current_tiers:
        notes.append(
            "no --current-tier given: every secret is judged as new (defaultTier and "
            "tierFloors apply), as it is for a store that does not hold it"
        )
    notes.append(
        "not checked here (the controller's store knows): whether the base rules are "
        "trusted, and whether a sealed value was applied before"
    )
    return tuple(notes)
