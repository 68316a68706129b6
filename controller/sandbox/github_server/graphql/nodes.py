"""GraphQL objects over the loopback's records: the same records the REST routes render.

Each class answers the fields of one GraphQL type, one method (snake_case) per field; the
executor calls them through `resolve_field`, so a field nobody asked for costs nothing (a
pull request's diff is only computed for ``changedFiles``). Ids are REST's ``node_id``.
Everything runs under the world lock, as a REST handler does.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from graphql import GraphQLResolveInfo

from controller.sandbox.github_server.actions import Hub
from controller.sandbox.github_server.render import node_id, ts
from controller.sandbox.github_server.state import Comment, Identity, Label, Pull, Repo, Review

MAX_PAGE = 100  # GitHub's largest `first`
_CURSOR = "cursor:v2:"
_NODE_ID = re.compile(r"^0(\d+):([A-Za-z]+)(\d+)$")


class Refusal(Exception):
    """A GraphQL error as GitHub types it (``NOT_FOUND``, ``FORBIDDEN``...)."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


@dataclass(frozen=True)
class Scope:
    """What every resolver may consult: the records and who is asking."""

    hub: Hub
    identity: Identity

    @property
    def viewer(self) -> str:
        return self.identity.login or ""


def decode_node_id(value: str) -> tuple[str, int] | None:
    """(type, database id) of one of the loopback's node ids; None for anything else."""
    try:
        raw = base64.b64decode(value.encode(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    match = _NODE_ID.match(raw)
    if match is None or int(match.group(1)) != len(match.group(2)):
        return None
    return match.group(2), int(match.group(3))


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower()


def resolve_field(source: Any, info: GraphQLResolveInfo[Any], **args: Any) -> Any:
    """A field is the method of the same name (snake_case), or a key of a plain mapping."""
    if isinstance(source, Mapping):
        return source.get(info.field_name)
    member = getattr(source, _snake(info.field_name))
    if not callable(member):
        return member
    if getattr(member, "wants_info", False):
        args["info"] = info
    return member(**{_snake(k): v for k, v in args.items()})


def resolve_type(source: Any, info: GraphQLResolveInfo[Any], abstract: Any) -> str:
    if isinstance(source, Mapping):
        return str(source["__typename"])
    return str(source.typename)


F = TypeVar("F", bound=Callable[..., Any])


def with_info(method: F) -> F:
    """Marks a field method that needs the selection (to tell what was asked for)."""
    method.wants_info = True  # type: ignore[attr-defined]
    return method


# -- connections ------------------------------------------------------------------------------


def _cursor(offset: int) -> str:
    return base64.b64encode(f"{_CURSOR}{offset}".encode()).decode()


def _offset(after: str) -> int:
    try:
        raw = base64.b64decode(after.encode(), validate=True).decode()
        if raw.startswith(_CURSOR):
            return int(raw.removeprefix(_CURSOR)) + 1
    except (binascii.Error, UnicodeDecodeError, ValueError):
        pass
    raise Refusal("INVALID_CURSOR_ARGUMENTS", f"`{after}` does not appear to be a valid cursor.")


class Connection:
    """One page of a list, oldest first, as GitHub pages every connection."""

    def __init__(
        self,
        typename: str,
        info: GraphQLResolveInfo[Any],
        items: Sequence[Any],
        first: int | None,
        after: str | None,
    ) -> None:
        self.typename = typename
        name = info.field_name
        asked = {
            s.name.value
            for node in info.field_nodes
            for s in (node.selection_set.selections if node.selection_set else ())
            if hasattr(s, "name")
        }
        if first is None and asked - {"totalCount", "__typename"}:
            raise Refusal(
                "MISSING_PAGINATION_BOUNDARIES",
                f"You must provide a `first` or `last` value to properly paginate the "
                f"`{name}` connection.",
            )
        if first is not None and first > MAX_PAGE:
            raise Refusal(
                "EXCESSIVE_PAGINATION",
                f"Requesting {first} records on the `{name}` connection exceeds the `first` "
                f"limit of {MAX_PAGE} records.",
            )
        if first is not None and first < 0:
            raise Refusal(
                "INVALID_PAGINATION",
                f"`first` on the `{name}` connection cannot be less than zero.",
            )
        self._all = items
        self._start = 0 if after is None else _offset(after)
        self._page = list(items[self._start : self._start + (first or 0)])

    def nodes(self) -> list[Any]:
        return self._page

    def total_count(self) -> int:
        return len(self._all)

    def page_info(self) -> dict[str, Any]:
        end = self._start + len(self._page)
        return {
            "hasNextPage": end < len(self._all),
            "endCursor": _cursor(end - 1) if self._page else None,
        }


# -- accounts ---------------------------------------------------------------------------------


def actor(scope: Scope, login: str) -> Any:
    """The account behind a login; None when it no longer exists (GitHub: a deleted user)."""
    user = scope.hub.world.user(login)
    if user is None:
        return None
    if user.type == "Bot":
        # GraphQL names an App's bot by its slug; only REST adds "[bot]".
        return Account("Bot", user.login.removesuffix("[bot]"))
    if user.type == "Organization":
        return OrganizationNode(scope, user.login)
    return Account("User", user.login)


@dataclass(frozen=True)
class Account:
    typename: str
    login: str


class OrganizationNode:
    typename = "Organization"

    def __init__(self, scope: Scope, login: str) -> None:
        self.scope = scope
        self.login = login

    def team(self, slug: str) -> TeamNode | None:
        # As REST: a team the organisation lacks is not there; GraphQL says null, no error.
        team = self.scope.hub.world.teams.get((self.login.lower(), slug.lower()))
        return None if team is None else TeamNode(self.scope, team.members)


class TeamNode:
    typename = "Team"

    def __init__(self, scope: Scope, members: list[str]) -> None:
        self.scope = scope
        self._members = members

    @with_info
    def members(
        self, info: GraphQLResolveInfo[Any], first: int | None = None, after: str | None = None
    ) -> Connection:
        # The order REST lists them in, so both answers agree page for page.
        logins = sorted(self._members, key=str.lower)
        accounts = [Account("User", login) for login in logins]
        return Connection("TeamMemberConnection", info, accounts, first, after)


# -- repositories -----------------------------------------------------------------------------


class RepositoryNode:
    typename = "Repository"

    def __init__(self, scope: Scope, repo: Repo) -> None:
        self.scope = scope
        self.repo = repo

    def id(self) -> str:
        return node_id("Repository", self.repo.id)

    def name_with_owner(self) -> str:
        return self.repo.full_name

    def default_branch_ref(self) -> RefNode | None:
        return RefNode.of(self.repo, self.repo.default_branch)

    def pull_request(self, number: int) -> PullNode:
        pull = self.repo.pulls.get(number)
        if pull is None:
            raise Refusal(
                "NOT_FOUND", f"Could not resolve to a PullRequest with the number of {number}."
            )
        return PullNode(self.scope, self.repo, pull)

    def label(self, name: str) -> LabelNode | None:
        found = self.repo.labels.get(name.lower())
        return None if found is None else LabelNode(found)


@dataclass(frozen=True)
class RefNode:
    typename = "Ref"
    name: str
    sha: str

    @staticmethod
    def of(repo: Repo, branch: str) -> RefNode | None:
        sha = repo.git.branch_sha(branch)
        return None if sha is None else RefNode(branch, sha)

    def target(self) -> CommitNode:
        return CommitNode(self.sha)


@dataclass(frozen=True)
class CommitNode:
    typename = "Commit"
    oid: str


@dataclass(frozen=True)
class LabelNode:
    typename = "Label"
    record: Label

    def id(self) -> str:
        return node_id("Label", self.record.id)

    def name(self) -> str:
        return self.record.name


# -- pull requests ----------------------------------------------------------------------------


class PullNode:
    typename = "PullRequest"

    def __init__(self, scope: Scope, repo: Repo, pull: Pull) -> None:
        self.scope = scope
        self.repo = repo
        self.pull = pull

    def id(self) -> str:
        return node_id("PullRequest", self.pull.id)

    def number(self) -> int:
        return self.pull.number

    def title(self) -> str:
        return self.pull.title

    def url(self) -> str:
        return f"{self.scope.hub.render.web}/{self.repo.full_name}/pull/{self.pull.number}"

    def state(self) -> str:
        if self.pull.merged_at is not None:
            return "MERGED"
        return "OPEN" if self.pull.state == "open" else "CLOSED"

    def merged(self) -> bool:
        return self.pull.merged_at is not None

    def created_at(self) -> str | None:
        return ts(self.pull.created_at)

    def author(self) -> Any:
        return actor(self.scope, self.pull.user)

    def head_ref_oid(self) -> str:
        return self.pull.head_sha

    def head_ref_name(self) -> str:
        return self.pull.head_ref

    def head_repository(self) -> RepositoryNode | None:
        if self.pull.head_repo is None:
            return RepositoryNode(self.scope, self.repo)
        owner, _, name = self.pull.head_repo.partition("/")
        fork = self.scope.hub.world.repo(owner, name)
        return None if fork is None else RepositoryNode(self.scope, fork)

    def base_ref_name(self) -> str:
        return self.pull.base_ref

    def base_ref(self) -> RefNode | None:
        return RefNode.of(self.repo, self.pull.base_ref)

    def base_repository(self) -> RepositoryNode:
        return RepositoryNode(self.scope, self.repo)

    def changed_files(self) -> int:
        hub = self.scope.hub
        return len(self.repo.git.diff(hub.pull_diff_base(self.repo, self.pull), self.pull.head_sha))

    def commits(self) -> dict[str, Any]:
        return {"totalCount": len(self.scope.hub.pull_commits(self.repo, self.pull))}

    @with_info
    def labels(
        self, info: GraphQLResolveInfo[Any], first: int | None = None, after: str | None = None
    ) -> Connection:
        found = [LabelNode(self.repo.labels[n.lower()]) for n in self.pull.labels]
        return Connection("LabelConnection", info, found, first, after)

    @with_info
    def reviews(
        self, info: GraphQLResolveInfo[Any], first: int | None = None, after: str | None = None
    ) -> Connection:
        viewer = self.scope.viewer.lower()
        # A pending review is its author's alone, as REST shows it.
        visible = [
            ReviewNode(self.scope, self.repo, v)
            for v in self.pull.reviews
            if v.state != "PENDING" or v.user.lower() == viewer
        ]
        return Connection("PullRequestReviewConnection", info, visible, first, after)

    @with_info
    def comments(
        self, info: GraphQLResolveInfo[Any], first: int | None = None, after: str | None = None
    ) -> Connection:
        found = [CommentNode(self.scope, c) for c in self.pull.comments]
        return Connection("IssueCommentConnection", info, found, first, after)


class ReviewNode:
    typename = "PullRequestReview"

    def __init__(self, scope: Scope, repo: Repo, review: Review) -> None:
        self.scope = scope
        self.repo = repo
        self.review = review

    def database_id(self) -> int:
        return self.review.id

    def state(self) -> str:
        return self.review.state

    def submitted_at(self) -> str | None:
        return ts(self.review.submitted_at)

    def author(self) -> Any:
        return actor(self.scope, self.review.user)

    def commit(self) -> CommitNode | None:
        sha = self.review.commit_id
        if not sha or self.repo.git.resolve(sha) != sha:
            return None
        return CommitNode(sha)


class CommentNode:
    typename = "IssueComment"

    def __init__(self, scope: Scope, comment: Comment) -> None:
        self.scope = scope
        self.comment = comment

    def id(self) -> str:
        return node_id("IssueComment", self.comment.id)

    def database_id(self) -> int:
        return self.comment.id

    def body(self) -> str:
        return self.comment.body

    def created_at(self) -> str | None:
        return ts(self.comment.created_at)

    def updated_at(self) -> str | None:
        return ts(self.comment.updated_at)

    def last_edited_at(self) -> str | None:
        return ts(self.comment.last_edited_at)

    def author(self) -> Any:
        return actor(self.scope, self.comment.user)


# -- the root ---------------------------------------------------------------------------------


class QueryRoot:
    typename = "Query"

    def __init__(self, scope: Scope) -> None:
        self.scope = scope

    def repository(self, owner: str, name: str) -> RepositoryNode:
        # Visibility is REST's: a repository the loopback holds is one the caller may read.
        repo = self.scope.hub.world.repo(owner, name)
        if repo is None:
            raise Refusal(
                "NOT_FOUND", f"Could not resolve to a Repository with the name '{owner}/{name}'."
            )
        return RepositoryNode(self.scope, repo)

    def organization(self, login: str) -> OrganizationNode:
        account = self.scope.hub.world.user(login)
        if account is None or account.type != "Organization":
            raise Refusal(
                "NOT_FOUND", f"Could not resolve to an Organization with the login of '{login}'."
            )
        return OrganizationNode(self.scope, account.login)
