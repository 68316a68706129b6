"""GraphQL objects over the loopback's records: the same records the REST routes render.

Each class answers the fields of one GraphQL type (see `base.resolve_field`); a pull
request's diff, say, is only computed when ``changedFiles`` is asked for. Ids are REST's
``node_id``. Everything runs under the world lock, as a REST handler does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from graphql import GraphQLResolveInfo

from controller.sandbox.github_server.graphql.base import Connection, Refusal, Scope, with_info
from controller.sandbox.github_server.render import node_id, ts
from controller.sandbox.github_server.state import Comment, Label, Pull, Repo, Review

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
