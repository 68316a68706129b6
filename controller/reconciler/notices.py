"""Notifications the reconciler sends, built from an evaluation: metadata only, never values."""

from __future__ import annotations

from collections.abc import Sequence

from controller.model import NotifyTargets, Policy
from controller.notify.events import Notification, NotificationKind
from controller.reconciler.evaluation import Evaluation


def targets_of(policies: Sequence[Policy]) -> NotifyTargets:
    """Every channel any applicable policy names, each once."""
    return NotifyTargets(
        slack=tuple(dict.fromkeys(t for p in policies for t in p.notify.slack)),
        email=tuple(dict.fromkeys(t for p in policies for t in p.notify.email)),
        teams=tuple(dict.fromkeys(t for p in policies for t in p.notify.teams)),
    )


def all_approvers(evaluation: Evaluation) -> tuple[str, ...]:
    """Everyone who approved or still could: a bypass is told to all of them."""
    people = {
        login
        for step in evaluation.decision.steps
        for login in (*step.approved_by, *step.eligible_remaining)
    }
    return tuple(sorted(people))


def notification(
    kind: NotificationKind,
    evaluation: Evaluation,
    *,
    url: str,
    actor: str | None = None,
    reason: str | None = None,
    details: Sequence[str] = (),
    approvers: Sequence[str] | None = None,
) -> Notification:
    snapshot = evaluation.snapshot
    decision = evaluation.decision
    if approvers is None:
        approvers = sorted(
            {login for s in decision.steps if not s.satisfied for login in s.eligible_remaining}
        )
    return Notification(
        kind=kind,
        repository=snapshot.repo,
        pull_request=snapshot.facts.number,
        url=url,
        title=snapshot.title,
        environment=", ".join(evaluation.environments) or "governance",
        secrets=tuple(sorted({c.path for c in evaluation.changes})),
        requester=snapshot.facts.author,
        approvers_needed=tuple(approvers),
        actor=actor,
        reason=reason,
        details=tuple(details),
    )
