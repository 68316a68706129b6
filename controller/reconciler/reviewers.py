"""Ask whoever can still approve a pending pull request to review it (GitHub's requested
reviewers), before its summary is reported so the sticky comment records and mentions them.
A failure to ask never stops the decision from being reported."""

from __future__ import annotations

import logging

from controller.errors import BackendError
from controller.policy.reviewers import wanted_reviewers
from controller.reconciler.evaluation import Evaluation
from controller.reconciler.ports import GitHubPort, Observer

log = logging.getLogger(__name__)


def ask_reviewers(github: GitHubPort, observer: Observer, evaluation: Evaluation) -> None:
    snapshot = evaluation.snapshot
    if snapshot.state != "open" or snapshot.refusal is not None:
        return
    want = wanted_reviewers(
        evaluation.decision, evaluation.policies, evaluation.facts, bot=github.login()
    )
    if not want:
        return
    try:
        github.request_reviews(snapshot, want)
    except BackendError as exc:
        observer.failure("reviewers")
        log.warning("%s#%d: reviews not requested: %s", snapshot.repo, snapshot.facts.number, exc)
