"""The first round of a snapshot's reads: the pull request and what does not depend on its
head, through one GraphQL query when GitHub offers it, through REST's several otherwise.

Whichever API answers, the caller gets the same: the pull request as :class:`PullHead`, its
reviews and comments in REST's shapes, the members of the teams asked for (fresh from
GitHub, also for a merge this pass may decide), and the reads that depend on the head,
started from where the head stood last time so they overlap with this one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import quote

from controller.github.conditional import ConditionalLists
from controller.github.graph_pull import read_pull
from controller.github.graphql import GraphQLEndpoint, GraphQLUnavailable
from controller.github.pull_head import PullHead, head_from_rest, with_labels
from controller.github.pull_reads import HeadReads, PullReads, Where, at_head
from controller.github.teams import TeamDirectory
from controller.model import frozen_map

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class FirstReads:
    head: PullHead
    reviews: Future[tuple[Any, ...]]
    comments: Future[tuple[Any, ...]]
    teams: Mapping[str, Future[frozenset[str]]]
    """The teams asked for, read from GitHub during this snapshot."""
    base_tip: str | None
    """Where the base branch stands, when the read brought it (GraphQL)."""
    early: HeadReads | None
    """The head-dependent reads, started from the last snapshot's guess."""
    label_ids: Mapping[str, str]
    """Node ids of the asked-for labels that GitHub showed."""


def _done(value: T) -> Future[T]:
    future: Future[T] = Future()
    future.set_result(value)
    return future


def first_reads(
    reads: PullReads,
    graph: GraphQLEndpoint,
    lists: ConditionalLists,
    team_directory: TeamDirectory,
    repo: str,
    *,
    number: int,
    guess: Where | None,
    teams: Sequence[str] | None,
    labels: Sequence[str],
) -> FirstReads:
    """``guess``: where the head stood last time; ``teams``: those the last snapshot's rules
    named (None when there was none); ``labels``: whose node ids a report will need."""
    if graph.enabled:
        pending = reads.submit(read_pull, graph, repo, number, teams=teams or (), labels=labels)
        early = at_head(reads, repo, number, guess, tip=False) if guess is not None else None
        try:
            answer = pending.result()
        except GraphQLUnavailable:
            pass  # this server has no GraphQL: REST below, now and from now on
        else:
            known: dict[str, Future[frozenset[str]]] = {}
            for team, members in answer.teams.items():
                team_directory.learned(team, members)
                known[team] = _done(members)
            # A team past one page of members is read whole over REST.
            rest = team_directory.start(t for t in teams or () if t not in answer.teams)
            reads.track(rest.values())
            known.update(rest)
            head = answer.head
            if not answer.labels_whole:
                # A page of labels put on by hand must not hide one of sealgate's: a report
                # judged on part of them would leave a stale `sealgate:approved` on.
                head = with_labels(head, reads.issue_list(repo, number, "labels"))
            ids = {**answer.label_ids, **head.label_ids}
            return FirstReads(
                head=head,
                reviews=_done(answer.reviews)
                if answer.reviews is not None
                else reads.submit(reads.pull_list, repo, number, "reviews"),
                comments=_done(answer.comments)
                if answer.comments is not None
                else reads.submit(reads.issue_list, repo, number, "comments"),
                teams=known,
                base_tip=answer.base_tip,
                early=early,
                label_ids=frozen_map({name: ids[name] for name in labels if name in ids}),
            )
    # Conditional too: an unchanged pull request (an expiry sweep) answers 304.
    pull = reads.submit(lists.get_object, f"/repos/{quote(repo, safe='/')}/pulls/{number}")
    listed_reviews = reads.submit(reads.pull_list, repo, number, "reviews")
    listed_comments = reads.submit(reads.issue_list, repo, number, "comments")
    early = at_head(reads, repo, number, guess) if guess is not None else None
    # The teams the last snapshot needed, from GitHub (conditionally: unchanged costs no
    # budget), alongside the reviews: fresh enough for a merge this pass may decide.
    started = team_directory.start(teams) if teams is not None else {}
    reads.track(started.values())
    raw, _ = pull.result()
    head = head_from_rest(raw)
    return FirstReads(
        head=head,
        reviews=listed_reviews,
        comments=listed_comments,
        teams=started,
        base_tip=None,
        early=early,
        label_ids=frozen_map({n: head.label_ids[n] for n in labels if n in head.label_ids}),
    )
