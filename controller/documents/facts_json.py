"""A ``PullRequestFacts`` snapshot as FACTS.json (``schemas/facts.schema.json``).

``sealgate plan --pull ... --save-facts`` writes what it read from GitHub, so the same pull
request can be planned again offline (``--facts``), edited to ask "what if bob approves".
``parse_facts`` reads back exactly what this writes.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from controller.model import Comment, Commit, PullRequestFacts, Push, Review


def facts_to_json(facts: PullRequestFacts) -> dict[str, Any]:
    document: dict[str, Any] = {
        "number": facts.number,
        "author": facts.author,
        "head_sha": facts.head_sha,
        "created_at": _time(facts.created_at),
        "now": _time(facts.now),
        "commits": [_commit(commit) for commit in facts.commits],
        "reviews": [_review(review) for review in facts.reviews],
        "teams": {team: sorted(members) for team, members in sorted(facts.teams.items())},
        "comments": [_comment(comment) for comment in facts.comments],
        "current_tiers": {path: tier.value for path, tier in sorted(facts.current_tiers.items())},
        "changed_files": list(facts.changed_files),
        "pushes": [_push(push) for push in facts.pushes],
    }
    if facts.base_sha:
        document["base_sha"] = facts.base_sha
    return document


def _time(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _commit(commit: Commit) -> dict[str, Any]:
    return {
        "sha": commit.sha,
        "author": commit.author,
        "committer": commit.committer,
        "co_authors": list(commit.co_authors),
        "unlinked_co_authors": list(commit.unlinked_co_authors),
        "verified": commit.verified,
    }


def _review(review: Review) -> dict[str, Any]:
    document: dict[str, Any] = {
        "id": review.id,
        "user": review.user,
        "state": review.state.value,
        "commit_id": review.commit_id,
        "submitted_at": _time(review.submitted_at),
    }
    if review.dismissed_by is not None:
        document["dismissed_by"] = review.dismissed_by
    if review.dismissed_state is not None:
        document["dismissed_state"] = review.dismissed_state.value
    return document


def _comment(comment: Comment) -> dict[str, Any]:
    return {
        "id": comment.id,
        "user": comment.user,
        "body": comment.body,
        "created_at": _time(comment.created_at),
        "updated_at": None if comment.updated_at is None else _time(comment.updated_at),
    }


def _push(push: Push) -> dict[str, Any]:
    return {"sha": push.sha, "pusher": push.pusher, "pushed_at": _time(push.pushed_at)}
