"""The loopback GitHub's records: accounts, teams, repositories and everything hung on a pull.

Plain mutable records guarded by one lock in `World`; git objects live in the bare repository
each `Repo` points at, never here.
"""

from __future__ import annotations

import itertools
import re
import secrets
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from controller.sandbox.github_server.git_backend import WEB_FLOW_EMAIL, GitRepo

# GitHub's private commit addresses: <id>+<login>@, or <login>@ for accounts from before 2017.
NOREPLY = re.compile(r"^(?:(?P<id>\d+)\+)?(?P<login>[^@]+)@users\.noreply\.github\.com$")

# GitHub's permission ladder, lowest first; "maintain" and "triage" sit between the classic three.
PERMISSION_ORDER = ("none", "read", "triage", "write", "maintain", "admin")


def now() -> datetime:
    # GitHub timestamps have second precision.
    return datetime.now(UTC).replace(microsecond=0)


@dataclass
class User:
    id: int
    login: str
    type: str  # "User", "Organization" or "Bot"
    created_at: datetime
    # Verified addresses (lower-cased): commits carrying one are linked to this account.
    emails: list[str] = field(default_factory=list)
    # SSH public keys registered as signing keys ("ssh-ed25519 AAAA... comment").
    signing_keys: list[str] = field(default_factory=list)

    @property
    def noreply_email(self) -> str:
        return f"{self.id}+{self.login}@users.noreply.github.com"


@dataclass
class Team:
    id: int
    org: str
    slug: str
    members: list[str]


@dataclass
class Label:
    id: int
    name: str
    color: str
    description: str | None = None


@dataclass
class Review:
    id: int
    user: str
    body: str
    state: str  # APPROVED, CHANGES_REQUESTED, COMMENTED, DISMISSED, PENDING
    commit_id: str
    submitted_at: datetime | None


@dataclass
class Closing:
    """A `closed` event of the issue timeline: who closed the pull request without merging."""

    id: int
    actor: str
    created_at: datetime


@dataclass
class Dismissal:
    """A `review_dismissed` event of the issue timeline: the only place GitHub says who
    dismissed a review, and what the review was before."""

    id: int
    actor: str
    review_id: int
    state: str
    """The review's state before the dismissal (APPROVED or CHANGES_REQUESTED)."""
    message: str
    commit_id: str
    created_at: datetime


@dataclass
class Comment:
    id: int
    user: str
    body: str
    created_at: datetime
    updated_at: datetime
    app_slug: str | None = None
    last_edited_at: datetime | None = None
    """When the body was last edited (GraphQL's ``lastEditedAt``); None until then."""


@dataclass
class Pull:
    id: int
    number: int
    title: str
    body: str
    user: str
    head_ref: str
    base_ref: str
    head_sha: str
    base_sha: str
    created_at: datetime
    updated_at: datetime
    state: str = "open"
    closed_at: datetime | None = None
    merged_at: datetime | None = None
    merged_by: str | None = None
    merge_commit_sha: str | None = None
    head_repo: str | None = None
    """``owner/name`` of the fork the head branch lives in; None: this repository."""
    labels: list[str] = field(default_factory=list)
    reviews: list[Review] = field(default_factory=list)
    comments: list[Comment] = field(default_factory=list)
    dismissals: list[Dismissal] = field(default_factory=list)
    closings: list[Closing] = field(default_factory=list)
    requested_reviewers: list[str] = field(default_factory=list)
    """Logins whose review is requested, in the order asked; a review removes its author."""
    requested_teams: list[str] = field(default_factory=list)
    """Slugs of the repository owner's teams whose review is requested."""


@dataclass
class CheckRun:
    id: int
    suite_id: int
    head_sha: str
    name: str
    status: str
    conclusion: str | None
    started_at: datetime | None
    completed_at: datetime | None
    title: str | None
    summary: str | None
    text: str | None
    details_url: str | None
    external_id: str | None
    app_id: int
    annotations: list[dict[str, Any]] = field(default_factory=list)
    """Appended by every create or update that carries some, as GitHub does."""


@dataclass
class Status:
    id: int
    sha: str
    state: str
    description: str | None
    target_url: str | None
    context: str
    creator: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class Activity:
    """One ref update, as `GET /repos/{owner}/{repo}/activity` lists it."""

    id: int
    ref: str  # full name, refs/heads/<branch>
    before: str
    after: str
    activity_type: str  # push, force_push, branch_creation, branch_deletion, pr_merge
    actor: str | None
    timestamp: datetime


@dataclass
class Repo:
    id: int
    owner: str
    name: str
    default_branch: str
    git: GitRepo
    created_at: datetime
    updated_at: datetime
    pushed_at: datetime
    parent: str | None = None
    """``owner/name`` of the repository this one is a fork of."""
    collaborators: dict[str, str] = field(default_factory=dict)
    labels: dict[str, Label] = field(default_factory=dict)  # keyed by lower-cased name
    pulls: dict[int, Pull] = field(default_factory=dict)
    check_runs: dict[int, CheckRun] = field(default_factory=dict)
    statuses: list[Status] = field(default_factory=list)
    activity: list[Activity] = field(default_factory=list)
    next_number: int = 1

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"


@dataclass
class App:
    id: int
    slug: str
    public_key_pem: bytes
    installation_id: int
    owner: str
    bot_login: str
    created_at: datetime


@dataclass(frozen=True)
class Identity:
    """Who a request acts as: a user, an app installation (its bot), or the app itself (JWT)."""

    login: str | None
    app_id: int | None = None
    installation_id: int | None = None
    is_app_jwt: bool = False

    @property
    def key(self) -> str:
        if self.is_app_jwt:
            return f"app:{self.app_id}"
        if self.installation_id is not None:
            return f"installation:{self.installation_id}"
        return f"user:{self.login}" if self.login else "anonymous"


@dataclass
class InstallationToken:
    token: str
    installation_id: int
    expires_at: datetime


class World:
    """Every record of the loopback GitHub. Hold `lock` while reading or changing anything."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self._ids = itertools.count(1000)
        self.users: dict[str, User] = {}
        self.teams: dict[tuple[str, str], Team] = {}
        self.repos: dict[tuple[str, str], Repo] = {}
        self.apps: dict[int, App] = {}
        self.personal_tokens: dict[str, str] = {}
        self.installation_tokens: dict[str, InstallationToken] = {}
        self.installation_token_lifetime = timedelta(hours=1)  # GitHub's fixed lifetime

    def next_id(self) -> int:
        return next(self._ids)

    def add_account(self, login: str, kind: str) -> User:
        with self.lock:
            existing = self.users.get(login.lower())
            if existing is not None:
                return existing
            user = User(id=self.next_id(), login=login, type=kind, created_at=now())
            self.users[login.lower()] = user
            return user

    def user(self, login: str) -> User | None:
        return self.users.get(login.lower())

    def account_for_email(self, email: str) -> User | None:
        """The account GitHub links a commit identity to: a verified email or a noreply one."""
        address = email.strip().lower()
        if address == WEB_FLOW_EMAIL:
            return self.user("web-flow")
        match = NOREPLY.match(address)
        if match is not None:
            user = self.user(match.group("login"))
            ident = match.group("id")
            if user is not None and (ident is None or int(ident) == user.id):
                return user
            return None
        for user in self.users.values():
            if address in user.emails:
                return user
        return None

    def new_token(self, prefix: str) -> str:
        return prefix + secrets.token_hex(18)

    def repo(self, owner: str, name: str) -> Repo | None:
        return self.repos.get((owner.lower(), name.lower()))

    def app_for_installation(self, installation_id: int) -> App | None:
        for app in self.apps.values():
            if app.installation_id == installation_id:
                return app
        return None

    def app_for_owner(self, owner: str) -> App | None:
        for app in self.apps.values():
            if app.owner.lower() == owner.lower():
                return app
        return None

    def permission(self, repo: Repo, login: str | None) -> str:
        """Effective repository role of an account, GitHub's ladder (`PERMISSION_ORDER`)."""
        if login is None:
            return "none"
        if login.lower() == repo.owner.lower():
            return "admin"
        for app in self.apps.values():
            if app.bot_login.lower() == login.lower() and app.owner.lower() == repo.owner.lower():
                return "write"
        return repo.collaborators.get(login.lower(), "none")

    @staticmethod
    def at_least(permission: str, needed: str) -> bool:
        return PERMISSION_ORDER.index(permission) >= PERMISSION_ORDER.index(needed)
