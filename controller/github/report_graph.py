"""A report's comment and label edits as one GraphQL mutation.

Over REST, a report after a review is up to four writes: the check run, the sticky comment,
a label added and a label removed. GraphQL takes the comment edit and both label edits as
one document (:func:`~controller.github.graph_documents.report_mutation`), so a report is
the check-run write plus one mutation, sent at the same time.

GraphQL addresses everything by node id. What lacks one goes over REST as before: a label
neither the snapshot nor an earlier write showed (REST's POST also creates a label the
repository lacks), a sticky comment whose node id sealgate never saw, a new comment.

GitHub answers a mutation with 200 even when some of its parts failed: each failed alias is
null and has an entry in ``errors``, the others are done. :func:`read_answer` tells them
apart, so what was written is remembered and only the rest is left for the next pass.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from controller.github.graph_documents import ReportMutation, report_mutation
from controller.model import frozen_map

LABEL_PREFIX = "sealgate:"
MAX_MESSAGE = 200
"""GitHub's messages are short; a long one is cut rather than carried whole into logs."""
_NOT_RETRYABLE = frozenset({"FORBIDDEN"})
"""A refusal that another try with the same credentials meets again; everything else
(a stale id, a rate limit, an internal error) is repaired by the next pass's fresh read."""


@dataclass(frozen=True, slots=True)
class GraphEdits:
    """The part of a report one mutation carries; names are kept to remember what was done."""

    comment: tuple[str, str] | None = None
    """(the sticky comment's node id, its new body)."""
    pull: str = ""
    """The pull request's node id."""
    add: Mapping[str, str] = field(default_factory=frozen_map)
    """Label name -> node id."""
    remove: Mapping[str, str] = field(default_factory=frozen_map)

    def mutation(self) -> ReportMutation | None:
        return report_mutation(
            comment=self.comment,
            labelable=self.pull,
            add=tuple(self.add.values()),
            remove=tuple(self.remove.values()),
        )


def plan_edits(
    *,
    comment: tuple[str, str] | None,
    pull: str,
    add: Sequence[str],
    remove: Sequence[str],
    label_ids: Mapping[str, str],
) -> tuple[GraphEdits | None, list[str], list[str]]:
    """Split a report's edits into (the mutation's share, labels to add over REST, labels to
    remove over REST).

    ``comment`` is the edit of a known sticky comment whose node id is known (None: none, or
    it goes over REST). Labels need the pull request's node id and their own.
    """
    graph_add = {name: label_ids[name] for name in add if pull and label_ids.get(name)}
    graph_remove = {name: label_ids[name] for name in remove if pull and label_ids.get(name)}
    rest_add = [name for name in add if name not in graph_add]
    rest_remove = [name for name in remove if name not in graph_remove]
    if comment is None and not graph_add and not graph_remove:
        return None, rest_add, rest_remove
    edits = GraphEdits(comment, pull, frozen_map(graph_add), frozen_map(graph_remove))
    return edits, rest_add, rest_remove


def sealgate_label_ids(labels: Any) -> dict[str, str]:
    """``sealgate:*`` name -> node id from a REST list of labels (an issue's or a pull
    request's ``labels``); entries without either are left out."""
    found: dict[str, str] = {}
    for label in labels if isinstance(labels, list) else ():
        if not isinstance(label, dict) or not label.get("node_id"):
            continue
        name, node = label.get("name"), label.get("node_id")
        if isinstance(name, str) and name.startswith(LABEL_PREFIX) and isinstance(node, str):
            found[name] = node
    return found


@dataclass(frozen=True, slots=True)
class Failure:
    alias: str
    kind: str
    """GitHub's error ``type`` (``NOT_FOUND``, ``FORBIDDEN``...), empty when it gave none."""
    message: str
    """GitHub's message, or empty when it could repeat something sealgate sent."""
    own: bool = True
    """The error names this alias; False when the document as a whole was refused (or the
    alias is missing without a word), which says nothing about what it addressed."""

    @property
    def retryable(self) -> bool:
        return self.kind not in _NOT_RETRYABLE

    def describe(self) -> str:
        what = self.kind or "an error"
        return f"{self.alias}: {what}" + (f" ({self.message})" if self.message else "")


@dataclass(frozen=True, slots=True)
class Answer:
    done: frozenset[str]
    failed: Mapping[str, Failure]


def _safe(message: Any, sent: Sequence[str]) -> str:
    """GitHub's message unless it quotes what was sent (a refused body may be quoted back)."""
    if not isinstance(message, str):
        return ""
    for value in sent:
        pieces = [value, *(line.strip() for line in value.splitlines())]
        if any(len(piece) >= 8 and piece in message for piece in pieces):
            return ""
    return message if len(message) <= MAX_MESSAGE else message[: MAX_MESSAGE - 1] + "…"


def read_answer(aliases: Sequence[str], answer: Any, *, sent: Sequence[str] = ()) -> Answer:
    """Which of ``aliases`` the mutation's ``answer`` (the JSON body) shows done.

    An alias is done when its field holds an object and no error names it. An error without
    a path (the document as a whole was refused) fails every alias that has no object.
    ``sent``: strings sealgate sent (the comment body), never repeated in a message.
    """
    body: dict[str, Any] = answer if isinstance(answer, dict) else {}
    data: dict[str, Any] = body["data"] if isinstance(body.get("data"), dict) else {}
    errors = [e for e in body.get("errors") or () if isinstance(e, dict)]
    named: dict[str, dict[str, Any]] = {}
    general: dict[str, Any] | None = None
    for error in errors:
        path = error.get("path")
        if isinstance(path, list) and path and isinstance(path[0], str):
            named.setdefault(path[0], error)
        elif general is None:
            general = error
    done: set[str] = set()
    failed: dict[str, Failure] = {}
    for alias in aliases:
        own = named.get(alias)
        if own is None and isinstance(data.get(alias), dict):
            done.add(alias)
            continue
        error = own or general or {}
        kind = error.get("type")
        failed[alias] = Failure(
            alias,
            kind if isinstance(kind, str) else "",
            _safe(error.get("message"), sent),
            own=own is not None,
        )
    return Answer(frozenset(done), frozen_map(failed))
