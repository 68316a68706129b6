"""The mutations sealgate's reports send, through the same `Hub` methods REST's routes call.

So a mutation checks the same permissions and has the same side effects as its REST twin
(``PATCH .../issues/comments/{id}``, ``POST``/``DELETE .../issues/{n}/labels``): the same
records change and the same webhooks go out. The executor runs root mutation fields one
after the other, in document order; each that fails answers null with its own error.
"""

from __future__ import annotations

from typing import Any

from controller.sandbox.github_server.errors import ApiError
from controller.sandbox.github_server.graphql.nodes import (
    CommentNode,
    PullNode,
    Refusal,
    Scope,
    decode_node_id,
)
from controller.sandbox.github_server.state import Comment, Label, Pull, Repo


def _unresolvable(value: str) -> Refusal:
    return Refusal("NOT_FOUND", f"Could not resolve to a node with the global id of '{value}'.")


def _forbidden(scope: Scope, mutation: str) -> Refusal:
    if scope.identity.installation_id is not None:
        return Refusal("FORBIDDEN", "Resource not accessible by integration")
    return Refusal(
        "FORBIDDEN",
        f"{scope.viewer} does not have the correct permissions to execute `{mutation}`",
    )


def _comment(scope: Scope, value: str) -> tuple[Repo, Pull, Comment]:
    decoded = decode_node_id(value)
    if decoded is not None and decoded[0] == "IssueComment":
        for repo in scope.hub.world.repos.values():
            for pull in repo.pulls.values():
                for comment in pull.comments:
                    if comment.id == decoded[1]:
                        return repo, pull, comment
    raise _unresolvable(value)


def _pull(scope: Scope, value: str) -> tuple[Repo, Pull]:
    decoded = decode_node_id(value)
    if decoded is not None and decoded[0] == "PullRequest":
        for repo in scope.hub.world.repos.values():
            for pull in repo.pulls.values():
                if pull.id == decoded[1]:
                    return repo, pull
    raise _unresolvable(value)


def _labels(repo: Repo, values: list[str]) -> list[Label]:
    """The repository's labels with these ids; an id of another repository's is not found."""
    by_id = {label.id: label for label in repo.labels.values()}
    found: list[Label] = []
    for value in values:
        decoded = decode_node_id(value)
        label = by_id.get(decoded[1]) if decoded is not None and decoded[0] == "Label" else None
        if label is None:
            raise _unresolvable(value)
        found.append(label)
    return found


class MutationRoot:
    typename = "Mutation"

    def __init__(self, scope: Scope) -> None:
        self.scope = scope

    def update_issue_comment(self, input: dict[str, Any]) -> dict[str, Any]:
        scope = self.scope
        repo, _, comment = _comment(scope, str(input["id"]))
        body = str(input["body"])
        if not body.strip():
            raise Refusal("UNPROCESSABLE", "Body can't be blank")
        try:
            scope.hub.edit_comment(repo, comment.id, scope.identity.login, body)
        except ApiError as exc:
            if exc.status == 403:
                raise _forbidden(scope, "UpdateIssueComment") from exc
            raise
        return {
            "clientMutationId": input.get("clientMutationId"),
            "issueComment": CommentNode(scope, comment),
        }

    def add_labels_to_labelable(self, input: dict[str, Any]) -> dict[str, Any]:
        return self._labels(input, "AddLabelsToLabelable", add=True)

    def remove_labels_from_labelable(self, input: dict[str, Any]) -> dict[str, Any]:
        return self._labels(input, "RemoveLabelsFromLabelable", add=False)

    def _labels(self, input: dict[str, Any], mutation: str, *, add: bool) -> dict[str, Any]:
        scope, hub = self.scope, self.scope.hub
        repo, pull = _pull(scope, str(input["labelableId"]))
        labels = _labels(repo, [str(v) for v in input["labelIds"]])
        login = scope.identity.login
        # REST's rule for label edits: triage or better, checked before anything changes.
        if not hub.world.at_least(hub.world.permission(repo, login), "triage"):
            raise _forbidden(scope, mutation)
        if add:
            hub.add_labels(repo, pull, login, [label.name for label in labels])
        else:
            # Removing a label the pull request does not carry is no error on GraphQL.
            on_pull = {name.lower() for name in pull.labels}
            for label in labels:
                if label.name.lower() in on_pull:
                    hub.remove_label(repo, pull, login, label.name)
        return {
            "clientMutationId": input.get("clientMutationId"),
            "labelable": PullNode(scope, repo, pull),
        }
