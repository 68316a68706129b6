"""Who asked for a merged pull request, who approved and merged it, and why: what the store
records with every write the pull request causes (see ``controller.store.trailers``)."""

from __future__ import annotations

from collections.abc import Sequence

from controller.github.records import MergedPull
from controller.model import Decision, SecretChange
from controller.reconciler.ports import Snapshot
from controller.store.types import ChangeReason, CountedApproval, PullRequestOrigin


def _trigger(decision: Decision, merged_by: str, bot: str, author: str) -> tuple[str, str | None]:
    """(how the merge came about, who asked for it)."""
    if merged_by and merged_by.casefold() != bot.casefold():
        return "outside", None
    if decision.bypassed:
        return "bypass", decision.bypassed_by or author
    if decision.merge_requested_by is not None:
        return "command", decision.merge_requested_by
    if decision.auto_merge:
        return "auto-merge", None
    return "unknown", None


def origin_of(
    snapshot: Snapshot, decision: Decision, merge: MergedPull, *, bot: str
) -> PullRequestOrigin:
    """``bot``: the login sealgate merges as; a merge by anyone else happened on GitHub."""
    merged_by = merge.merged_by or bot
    author = snapshot.facts.author
    trigger, requested_by = _trigger(decision, merge.merged_by, bot, author)
    return PullRequestOrigin(
        repository=snapshot.repo,
        number=snapshot.facts.number,
        url=snapshot.url,
        head_sha=snapshot.facts.head_sha,
        requester=author,
        approvals=tuple(
            CountedApproval(login, step.policy, step.step)
            for step in decision.steps
            for login in step.approved_by
        ),
        merged_by=merged_by,
        merge_trigger=trigger,
        merge_requested_by=requested_by,
        bypassed_by=(decision.bypassed_by or author) if decision.bypassed else None,
        bypass_reason=decision.bypass_reason if decision.bypassed else None,
    )


def reasons_of(changes: Sequence[SecretChange]) -> tuple[ChangeReason, ...]:
    return tuple(ChangeReason(change.path, change.reason, change.source) for change in changes)
