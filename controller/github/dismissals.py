"""Who dismissed each dismissed review, from the pull request's issue timeline.

The reviews API turns a dismissed review's state into DISMISSED and says nothing more, yet
anyone with write access, the author included, can dismiss a review. GitHub tells who did,
and what the review was, only in the timeline's ``review_dismissed`` events. The timeline is
read only when some review is dismissed, so an ordinary pass costs nothing more, and with
conditional requests, so an unchanged timeline costs no rate-limit budget either.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from controller.github.conditional import ConditionalLists
from controller.model import Review, ReviewState


def with_dismissers(
    lists: ConditionalLists, issue_path: str, reviews: tuple[Review, ...]
) -> tuple[Review, ...]:
    """``reviews`` with ``dismissed_by`` and ``dismissed_state`` filled in where the
    timeline tells; a dismissal it does not report stays unknown (None), which the policy
    engine treats as not lifting anything. Callers wrap the call in ``github_errors``."""
    if not any(review.state is ReviewState.DISMISSED for review in reviews):
        return reviews
    found: dict[int, tuple[str | None, ReviewState | None]] = {}
    for event in lists.get(f"{issue_path}/timeline").items:
        if not isinstance(event, dict) or event.get("event") != "review_dismissed":
            continue
        dismissed = event.get("dismissed_review")
        if not isinstance(dismissed, dict) or not isinstance(dismissed.get("review_id"), int):
            continue
        # Oldest first: a later event for the same review is the one that stands.
        found[dismissed["review_id"]] = (_actor(event), _state(dismissed.get("state")))
    return tuple(
        replace(review, dismissed_by=found[review.id][0], dismissed_state=found[review.id][1])
        if review.state is ReviewState.DISMISSED and review.id in found
        else review
        for review in reviews
    )


def _actor(event: dict[str, Any]) -> str | None:
    actor = event.get("actor")
    login = actor.get("login") if isinstance(actor, dict) else None
    return login if isinstance(login, str) and login else None


def _state(value: Any) -> ReviewState | None:
    try:
        return ReviewState(str(value).upper())
    except ValueError:
        return None
