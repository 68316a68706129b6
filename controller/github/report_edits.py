"""The sticky comment and the ``sealgate:*`` labels of a report: written, and remembered.

Each edit goes one of two ways. Over GraphQL, the comment edit and the label edits whose
node ids are known travel as one mutation (``controller.github.report_graph``); the rest go
over REST, one request each, as on a server without GraphQL. Either way, what was written
is remembered so that a snapshot taken before the write does not cause a second one.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass

from github.GithubException import UnknownObjectException

from controller.errors import GitHubError
from controller.github.cache import LruCache
from controller.github.client import GitHubClient
from controller.github.graphql import GraphQLEndpoint, GraphQLUnavailable
from controller.github.report_graph import (
    Failure,
    GraphEdits,
    plan_edits,
    read_answer,
    sealgate_label_ids,
)
from controller.github.snapshot import PullRequestSnapshot
from controller.github.summary import MARKER


@dataclass(frozen=True, slots=True)
class Sticky:
    id: int
    body: str
    """As the snapshot shows it or as sealgate last wrote it."""
    node_id: str = ""
    """Empty when neither the snapshot nor a write showed it: the comment is edited over REST."""


def _key(snapshot: PullRequestSnapshot) -> tuple[str, int]:
    return snapshot.repo, snapshot.facts.number


class PullEdits:
    """Writes the sticky comment and the labels. Safe to share between threads."""

    def __init__(self, client: GitHubClient, *, graphql: bool = True) -> None:
        self._client = client
        self._graph = GraphQLEndpoint(client, enabled=graphql)
        # (repo, number) -> the sticky comment as sealgate last wrote it.
        self._sticky: LruCache[tuple[str, int], Sticky] = LruCache(4096)
        # (repo, label name) -> node id: label ids never change while the label exists, and
        # a REST snapshot shows only those on the pull request; the REST add shows the rest.
        self._label_ids: LruCache[tuple[str, str], str] = LruCache(4096)

    @property
    def graphql(self) -> bool:
        """False when asked, or once the server answered 404 at its GraphQL endpoint."""
        return self._graph.enabled

    def known(self, snapshot: PullRequestSnapshot) -> Sticky | None:
        """The sticky comment, as the snapshot shows it or sealgate last wrote it."""
        me = self._client.login().lower()
        mine = [
            c for c in snapshot.facts.comments if c.user.lower() == me and c.body.startswith(MARKER)
        ]
        remembered = self._sticky.get(_key(snapshot))
        # A snapshot taken before sealgate's own last write does not show that write yet:
        # what sealgate remembers writing stands in for it, so nothing is posted twice.
        if not mine:
            if remembered is not None:
                # sealgate's comment always carries the marker: one of its own without it was
                # edited by someone else, and must be put back like any other edit.
                for c in snapshot.facts.comments:
                    if c.id == remembered.id and c.user.lower() == me:
                        return Sticky(c.id, c.body, c.node_id or remembered.node_id)
            return remembered
        first = min(mine, key=lambda c: c.id)
        node = first.node_id
        if not node and remembered is not None and remembered.id == first.id:
            node = remembered.node_id
        return Sticky(first.id, first.body, node)

    def plan(
        self,
        snapshot: PullRequestSnapshot,
        known: Sticky | None,
        body: str,
        add: list[str],
        remove: list[str],
    ) -> tuple[GraphEdits | None, list[str], list[str]]:
        """(the mutation's share, labels to add over REST, labels to remove over REST); the
        comment goes over REST unless the mutation carries it."""
        for name, node in snapshot.label_ids.items():
            self._label_ids.put((snapshot.repo, name), node)
        if not self.graphql:
            return None, add, remove
        comment = None
        if known is not None and known.body != body and known.node_id:
            comment = (known.node_id, body)
        ids: dict[str, str] = {}
        for name in (*add, *remove):
            label_id = snapshot.label_ids.get(name) or self._label_ids.get((snapshot.repo, name))
            if label_id:
                ids[name] = label_id
        return plan_edits(
            comment=comment, pull=snapshot.node_id, add=add, remove=remove, label_ids=ids
        )

    # -- REST -------------------------------------------------------------------------------

    def comment(
        self, snapshot: PullRequestSnapshot, known: Sticky | None, body: str
    ) -> tuple[int, int]:
        """Edit the sticky comment (or post it when there is none): (its id, requests)."""
        key = _key(snapshot)
        if known is not None:
            if known.body == body:
                self._sticky.put(key, known)
                return known.id, 0
            requester = self._client.github.requester
            url = f"{self._client.repo(snapshot.repo).url}/issues/comments/{known.id}"
            try:
                _headers, data = requester.requestJsonAndCheck("PATCH", url, input={"body": body})
            except UnknownObjectException:
                pass  # someone deleted it: post a new one below
            else:
                node = data.get("node_id") if isinstance(data, dict) else None
                self._sticky.put(key, Sticky(known.id, body, str(node or known.node_id)))
                return known.id, 1
        return self._post(snapshot, body), 1 if known is None else 2

    def _post(self, snapshot: PullRequestSnapshot, body: str) -> int:
        issue = self._client.repo(snapshot.repo).get_issue(snapshot.facts.number)
        created = issue.create_comment(body)
        self._sticky.put(_key(snapshot), Sticky(created.id, body, str(created.node_id or "")))
        return created.id

    def add_label(self, snapshot: PullRequestSnapshot, label: str) -> None:
        # Through the requester, as PyGithub's add_to_labels sends it, to keep the answer:
        # it holds the label's node id, so the next edit of it can go in a mutation.
        requester = self._client.github.requester
        url = f"{self._client.repo(snapshot.repo).url}/issues/{snapshot.facts.number}/labels"
        _headers, data = requester.requestJsonAndCheck("POST", url, input=[label])
        for name, node in sealgate_label_ids(data).items():
            self._label_ids.put((snapshot.repo, name), node)

    def remove_label(self, snapshot: PullRequestSnapshot, label: str) -> None:
        issue = self._client.repo(snapshot.repo).get_issue(snapshot.facts.number)
        with contextlib.suppress(UnknownObjectException):  # already gone: fine
            issue.remove_from_labels(label)

    # -- GraphQL ----------------------------------------------------------------------------

    def mutate(
        self, snapshot: PullRequestSnapshot, edits: GraphEdits, known: Sticky | None, body: str
    ) -> tuple[int | None, int]:
        """Send ``edits`` as one mutation: (the sticky comment's id if the mutation carried
        it, requests). Raises :class:`GitHubError` for what failed, after writing the rest."""
        mutation = edits.mutation()
        if mutation is None:
            return None, 0
        try:
            answer = self._graph.post_raw(mutation.document, mutation.variables)
        except GraphQLUnavailable:
            posted, made = self._over_rest(snapshot, edits, known, body)
            return posted, made + 1
        result = read_answer(mutation.aliases, answer, sent=(body,))
        requests = 1
        comment_id: int | None = None
        failures: list[Failure] = []
        if edits.comment is not None and known is not None:
            failed = result.failed.get("comment")
            if failed is None:
                self._sticky.put(_key(snapshot), Sticky(known.id, body, edits.comment[0]))
                comment_id = known.id
            elif failed.kind == "NOT_FOUND" and failed.own:
                comment_id = self._post(snapshot, body)  # someone deleted it
                requests += 1
            else:
                failures.append(failed)
        for alias, names in (("add", edits.add), ("remove", edits.remove)):
            failed = result.failed.get(alias)
            if failed is None:
                continue
            for name in names:
                # Perhaps the label was deleted (and maybe made again): learn its id anew.
                self._label_ids.discard((snapshot.repo, name))
            # A label the repository no longer has is on no pull request either.
            if not (alias == "remove" and failed.kind == "NOT_FOUND" and failed.own):
                failures.append(failed)
        if failures:
            raise GitHubError(
                f"report on {snapshot.repo}#{snapshot.facts.number}: GitHub's GraphQL API "
                "refused " + "; ".join(f.describe() for f in failures),
                retryable=all(f.retryable for f in failures),
            )
        return comment_id, requests

    def _over_rest(
        self, snapshot: PullRequestSnapshot, edits: GraphEdits, known: Sticky | None, body: str
    ) -> tuple[int | None, int]:
        """The mutation's share over REST, each write tried before the first failure is
        raised (as when they run side by side)."""
        comment_id: int | None = None
        requests = 0
        failure: Exception | None = None
        writes: list[tuple[Callable[[PullRequestSnapshot, str], None], str]] = [
            (self.add_label, name) for name in edits.add
        ]
        writes += [(self.remove_label, name) for name in edits.remove]
        if edits.comment is not None:
            try:
                comment_id, requests = self.comment(snapshot, known, body)
            except Exception as exc:  # raised below, once the other writes were made
                failure = exc
        for write, name in writes:
            try:
                write(snapshot, name)
            except Exception as exc:
                failure = failure or exc
            requests += 1
        if failure is not None:
            raise failure
        return comment_id, requests
