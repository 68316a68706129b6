"""JSON bodies shaped like api.github.com's, built from the loopback's records.

Field sets follow GitHub's own OpenAPI description (the schemas named in each docstring), so a
client that parses these parses GitHub's. URLs point back at the loopback server.
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from controller.sandbox.github_server.git_backend import CommitInfo, Entry, FileChange
from controller.sandbox.github_server.state import (
    App,
    CheckRun,
    Comment,
    Label,
    Pull,
    Repo,
    Review,
    Status,
    Team,
    User,
    World,
)

Json = dict[str, Any]
GHOST = "ghost"


def ts(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def node_id(kind: str, ident: int) -> str:
    # GitHub's legacy node ids are base64 of "<len>:<Type><id>"; clients treat them as opaque.
    raw = f"0{len(kind)}:{kind}{ident}".encode()
    return base64.b64encode(raw).decode()


class Renderer:
    """Turns records into GitHub-shaped JSON; `api` is the REST base URL, `web` the html one."""

    def __init__(self, world: World, api: str) -> None:
        self.world = world
        self.origin = api.rstrip("/")
        self.web = self.origin
        self._local = threading.local()

    @property
    def api(self) -> str:
        # Clients check that URLs in bodies sit under the base URL they were given, so a
        # request made under /api/v3 gets URLs under /api/v3.
        return self.origin + str(getattr(self._local, "prefix", ""))

    @contextmanager
    def mounted_at(self, prefix: str) -> Iterator[None]:
        """Render URLs under `prefix` (e.g. ``/api/v3``) for the current thread's request."""
        self._local.prefix = prefix.rstrip("/")
        try:
            yield
        finally:
            self._local.prefix = ""

    # -- accounts -------------------------------------------------------------------------

    def user(self, login: str) -> Json:
        """`simple-user`."""
        u = self.world.user(login)
        if u is None and login.lower() in self.world.deleted:
            # GitHub's stand-in for a deleted account, on everything it left behind.
            u = self.world.add_account(GHOST, "User")
        if u is None:
            raise KeyError(login)
        base = f"{self.api}/users/{u.login}"
        return {
            "login": u.login,
            "id": u.id,
            "node_id": node_id("User", u.id),
            "avatar_url": f"{self.web}/avatars/u/{u.id}",
            "gravatar_id": "",
            "url": base,
            "html_url": f"{self.web}/{u.login}",
            "followers_url": f"{base}/followers",
            "following_url": f"{base}/following{{/other_user}}",
            "gists_url": f"{base}/gists{{/gist_id}}",
            "starred_url": f"{base}/starred{{/owner}}{{/repo}}",
            "subscriptions_url": f"{base}/subscriptions",
            "organizations_url": f"{base}/orgs",
            "repos_url": f"{base}/repos",
            "events_url": f"{base}/events{{/privacy}}",
            "received_events_url": f"{base}/received_events",
            "type": u.type,
            "user_view_type": "public",
            "site_admin": False,
        }

    def public_user(self, u: User) -> Json:
        """`public-user` (no extra properties allowed)."""
        return {
            **self.user(u.login),
            "name": u.login,
            "company": None,
            "blog": "",
            "location": None,
            "email": None,
            "hireable": None,
            "bio": None,
            "twitter_username": None,
            "public_repos": sum(1 for r in self.world.repos.values() if r.owner == u.login),
            "public_gists": 0,
            "followers": 0,
            "following": 0,
            "created_at": ts(u.created_at),
            "updated_at": ts(u.created_at),
        }

    def private_user(self, u: User) -> Json:
        """`private-user`: what `GET /user` shows the account itself."""
        return {
            **self.public_user(u),
            "notification_email": None,
            "private_gists": 0,
            "total_private_repos": 0,
            "owned_private_repos": 0,
            "disk_usage": 0,
            "collaborators": 0,
            "two_factor_authentication": True,
            "plan": {
                "name": "free",
                "space": 976562499,
                "private_repos": 10000,
                "collaborators": 0,
            },
        }

    # -- repositories ---------------------------------------------------------------------

    def repo_url(self, repo: Repo) -> str:
        return f"{self.api}/repos/{repo.owner}/{repo.name}"

    def repository(self, repo: Repo) -> Json:
        """`full-repository`, also a valid `repository` and `repository-webhooks`."""
        url = self.repo_url(repo)
        html = f"{self.web}/{repo.owner}/{repo.name}"
        open_issues = sum(1 for p in repo.pulls.values() if p.state == "open")
        return {
            "id": repo.id,
            "node_id": node_id("Repository", repo.id),
            "name": repo.name,
            "full_name": repo.full_name,
            "owner": self.user(repo.owner),
            "private": False,
            "html_url": html,
            "description": None,
            "fork": repo.parent is not None,
            "url": url,
            "archive_url": f"{url}/{{archive_format}}{{/ref}}",
            "assignees_url": f"{url}/assignees{{/user}}",
            "blobs_url": f"{url}/git/blobs{{/sha}}",
            "branches_url": f"{url}/branches{{/branch}}",
            "collaborators_url": f"{url}/collaborators{{/collaborator}}",
            "comments_url": f"{url}/comments{{/number}}",
            "commits_url": f"{url}/commits{{/sha}}",
            "compare_url": f"{url}/compare/{{base}}...{{head}}",
            "contents_url": f"{url}/contents/{{+path}}",
            "contributors_url": f"{url}/contributors",
            "deployments_url": f"{url}/deployments",
            "downloads_url": f"{url}/downloads",
            "events_url": f"{url}/events",
            "forks_url": f"{url}/forks",
            "git_commits_url": f"{url}/git/commits{{/sha}}",
            "git_refs_url": f"{url}/git/refs{{/sha}}",
            "git_tags_url": f"{url}/git/tags{{/sha}}",
            "git_url": f"git:{html.split('://', 1)[-1]}.git",
            "issue_comment_url": f"{url}/issues/comments{{/number}}",
            "issue_events_url": f"{url}/issues/events{{/number}}",
            "issues_url": f"{url}/issues{{/number}}",
            "keys_url": f"{url}/keys{{/key_id}}",
            "labels_url": f"{url}/labels{{/name}}",
            "languages_url": f"{url}/languages",
            "merges_url": f"{url}/merges",
            "milestones_url": f"{url}/milestones{{/number}}",
            "notifications_url": f"{url}/notifications{{?since,all,participating}}",
            "pulls_url": f"{url}/pulls{{/number}}",
            "releases_url": f"{url}/releases{{/id}}",
            "ssh_url": f"git@{html.split('://', 1)[-1].split('/', 1)[0]}:{repo.full_name}.git",
            "stargazers_url": f"{url}/stargazers",
            "statuses_url": f"{url}/statuses/{{sha}}",
            "subscribers_url": f"{url}/subscribers",
            "subscription_url": f"{url}/subscription",
            "tags_url": f"{url}/tags",
            "teams_url": f"{url}/teams",
            "trees_url": f"{url}/git/trees{{/sha}}",
            "clone_url": f"{html}.git",
            "mirror_url": None,
            "hooks_url": f"{url}/hooks",
            "svn_url": html,
            "homepage": None,
            "language": None,
            "forks_count": 0,
            "forks": 0,
            "stargazers_count": 0,
            "watchers_count": 0,
            "watchers": 0,
            "size": 0,
            "default_branch": repo.default_branch,
            "open_issues_count": open_issues,
            "open_issues": open_issues,
            "is_template": False,
            "topics": [],
            "has_issues": True,
            "has_projects": False,
            "has_wiki": False,
            "has_pages": False,
            "has_downloads": True,
            "has_discussions": False,
            "archived": False,
            "disabled": False,
            "visibility": "public",
            "pushed_at": ts(repo.pushed_at),
            "created_at": ts(repo.created_at),
            "updated_at": ts(repo.updated_at),
            "allow_rebase_merge": False,
            "allow_squash_merge": True,
            "allow_merge_commit": True,
            "allow_auto_merge": False,
            "delete_branch_on_merge": False,
            "allow_forking": True,
            "license": None,
            "subscribers_count": 0,
            "network_count": 0,
        }

    def label(self, repo: Repo, label: Label) -> Json:
        """`label`."""
        return {
            "id": label.id,
            "node_id": node_id("Label", label.id),
            "url": f"{self.repo_url(repo)}/labels/{label.name}",
            "name": label.name,
            "color": label.color,
            "default": False,
            "description": label.description,
        }

    def labels_of(self, repo: Repo, names: list[str]) -> list[Json]:
        return [self.label(repo, repo.labels[n.lower()]) for n in names]

    # -- pull requests --------------------------------------------------------------------

    def association(self, repo: Repo, login: str) -> str:
        if login.lower() == repo.owner.lower():
            return "OWNER"
        if login.lower() in repo.collaborators:
            return "COLLABORATOR"
        if any(login in t.members for t in self.world.teams.values() if t.org == repo.owner):
            return "MEMBER"
        return "NONE"

    def _branch(self, repo: Repo, ref: str, sha: str) -> Json:
        return {
            "label": f"{repo.owner}:{ref}",
            "ref": ref,
            "sha": sha,
            "user": self.user(repo.owner),
            "repo": self.repository(repo),
        }

    def _head_repo(self, repo: Repo, pull: Pull) -> Repo:
        if pull.head_repo is None:
            return repo
        owner, _, name = pull.head_repo.partition("/")
        return self.world.repo(owner, name) or repo

    def pull_simple(self, repo: Repo, pull: Pull) -> Json:
        """`pull-request-simple`: the list form."""
        url = f"{self.repo_url(repo)}/pulls/{pull.number}"
        issue = f"{self.repo_url(repo)}/issues/{pull.number}"
        html = f"{self.web}/{repo.full_name}/pull/{pull.number}"
        statuses = f"{self.repo_url(repo)}/statuses/{pull.head_sha}"
        return {
            "url": url,
            "id": pull.id,
            "node_id": node_id("PullRequest", pull.id),
            "html_url": html,
            "diff_url": f"{html}.diff",
            "patch_url": f"{html}.patch",
            "issue_url": issue,
            "commits_url": f"{url}/commits",
            "review_comments_url": f"{url}/comments",
            "review_comment_url": f"{self.repo_url(repo)}/pulls/comments{{/number}}",
            "comments_url": f"{issue}/comments",
            "statuses_url": statuses,
            "number": pull.number,
            "state": pull.state,
            "locked": False,
            "title": pull.title,
            "user": self.user(pull.user),
            "body": pull.body or None,
            "labels": self.labels_of(repo, pull.labels),
            "milestone": None,
            "active_lock_reason": None,
            "created_at": ts(pull.created_at),
            "updated_at": ts(pull.updated_at),
            "closed_at": ts(pull.closed_at),
            "merged_at": ts(pull.merged_at),
            "merge_commit_sha": pull.merge_commit_sha,
            "assignee": None,
            "assignees": [],
            "requested_reviewers": [self.user(login) for login in pull.requested_reviewers],
            "requested_teams": [
                self.team(team)
                for slug in pull.requested_teams
                if (team := self.world.teams.get((repo.owner.lower(), slug.lower()))) is not None
            ],
            "head": self._branch(self._head_repo(repo, pull), pull.head_ref, pull.head_sha),
            "base": self._branch(repo, pull.base_ref, pull.base_sha),
            "_links": {
                "self": {"href": url},
                "html": {"href": html},
                "issue": {"href": issue},
                "comments": {"href": f"{issue}/comments"},
                "review_comments": {"href": f"{url}/comments"},
                "review_comment": {
                    "href": f"{self.repo_url(repo)}/pulls/comments{{/number}}",
                },
                "commits": {"href": f"{url}/commits"},
                "statuses": {"href": statuses},
            },
            "author_association": self.association(repo, pull.user),
            "auto_merge": None,
            "draft": False,
        }

    def pull(self, repo: Repo, pull: Pull, *, mergeable: bool | None, counts: Json) -> Json:
        """`pull-request`: the single form, with mergeability and diff counts."""
        if pull.merged_at is not None or mergeable is None:
            mergeable_state = "unknown"
        else:
            mergeable_state = "clean" if mergeable else "dirty"
        return {
            **self.pull_simple(repo, pull),
            "merged": pull.merged_at is not None,
            "mergeable": mergeable,
            "rebaseable": False,
            "mergeable_state": mergeable_state,
            "merged_by": self.user(pull.merged_by) if pull.merged_by else None,
            "comments": len(pull.comments),
            "review_comments": 0,
            "maintainer_can_modify": False,
            "commits": counts["commits"],
            "additions": counts["additions"],
            "deletions": counts["deletions"],
            "changed_files": counts["changed_files"],
        }

    def review(self, repo: Repo, pull: Pull, review: Review) -> Json:
        """`pull-request-review`."""
        html = f"{self.web}/{repo.full_name}/pull/{pull.number}#pullrequestreview-{review.id}"
        pull_url = f"{self.repo_url(repo)}/pulls/{pull.number}"
        body: Json = {
            "id": review.id,
            "node_id": node_id("PullRequestReview", review.id),
            "user": self.user(review.user),
            "body": review.body,
            "state": review.state,
            "html_url": html,
            "pull_request_url": pull_url,
            "_links": {"html": {"href": html}, "pull_request": {"href": pull_url}},
            "commit_id": review.commit_id,
            "author_association": self.association(repo, review.user),
        }
        if review.submitted_at is not None:
            body["submitted_at"] = ts(review.submitted_at)
        return body

    def commit(self, repo: Repo, info: CommitInfo, verification: Json) -> Json:
        """`commit` (as listed by a pull request's commits).

        `author` and `committer` are the accounts the commit's emails link to (null when none
        does), as on GitHub: git metadata that anyone can write, not who pushed.
        """
        url = f"{self.repo_url(repo)}/commits/{info.sha}"
        git_url = f"{self.repo_url(repo)}/git/commits/{info.sha}"

        def account(email: str) -> Json | None:
            user = self.world.account_for_email(email)
            return self.user(user.login) if user is not None else None

        return {
            "sha": info.sha,
            "node_id": node_id("Commit", int(info.sha[:7], 16)),
            "url": url,
            "html_url": f"{self.web}/{repo.full_name}/commit/{info.sha}",
            "comments_url": f"{url}/comments",
            "commit": {
                "url": git_url,
                "author": {
                    "name": info.author.name,
                    "email": info.author.email,
                    "date": ts(info.author.date),
                },
                "committer": {
                    "name": info.committer.name,
                    "email": info.committer.email,
                    "date": ts(info.committer.date),
                },
                "message": info.message.rstrip("\n"),
                "tree": {"sha": info.tree, "url": f"{self.repo_url(repo)}/git/trees/{info.tree}"},
                "comment_count": 0,
                "verification": verification,
            },
            "author": account(info.author.email),
            "committer": account(info.committer.email),
            "parents": [
                {
                    "sha": p,
                    "url": f"{self.repo_url(repo)}/commits/{p}",
                    "html_url": f"{self.web}/{repo.full_name}/commit/{p}",
                }
                for p in info.parents
            ],
        }

    def diff_entry(self, repo: Repo, head_sha: str, change: FileChange) -> Json:
        """`diff-entry`."""
        body: Json = {
            "sha": change.blob_sha,
            "filename": change.filename,
            "status": change.status,
            "additions": change.additions,
            "deletions": change.deletions,
            "changes": change.additions + change.deletions,
            "blob_url": f"{self.web}/{repo.full_name}/blob/{head_sha}/{change.filename}",
            "raw_url": f"{self.web}/{repo.full_name}/raw/{head_sha}/{change.filename}",
            "contents_url": f"{self.repo_url(repo)}/contents/{change.filename}?ref={head_sha}",
        }
        if change.patch is not None:
            body["patch"] = change.patch
        if change.previous_filename is not None:
            body["previous_filename"] = change.previous_filename
        return body

    # -- issues ---------------------------------------------------------------------------

    def comment(self, repo: Repo, pull: Pull, comment: Comment) -> Json:
        """`issue-comment`."""
        issue = f"{self.repo_url(repo)}/issues/{pull.number}"
        app = next((a for a in self.world.apps.values() if a.slug == comment.app_slug), None)
        return {
            "id": comment.id,
            "node_id": node_id("IssueComment", comment.id),
            "url": f"{self.repo_url(repo)}/issues/comments/{comment.id}",
            "html_url": f"{self.web}/{repo.full_name}/pull/{pull.number}#issuecomment-{comment.id}",
            "body": comment.body,
            "user": self.user(comment.user),
            "created_at": ts(comment.created_at),
            "updated_at": ts(comment.updated_at),
            "issue_url": issue,
            "author_association": self.association(repo, comment.user),
            "performed_via_github_app": self.integration(app) if app is not None else None,
            "reactions": self.reactions(f"{self.repo_url(repo)}/issues/comments/{comment.id}"),
        }

    @staticmethod
    def reactions(url: str) -> Json:
        counts = dict.fromkeys(
            ("+1", "-1", "laugh", "confused", "heart", "hooray", "eyes", "rocket"), 0
        )
        return {"url": f"{url}/reactions", "total_count": 0, **counts}

    def issue(self, repo: Repo, pull: Pull) -> Json:
        """The issue side of a pull request, as the `issue_comment` webhook carries it."""
        issue = f"{self.repo_url(repo)}/issues/{pull.number}"
        pull_url = f"{self.repo_url(repo)}/pulls/{pull.number}"
        html = f"{self.web}/{repo.full_name}/pull/{pull.number}"
        return {
            "url": issue,
            "repository_url": self.repo_url(repo),
            "labels_url": f"{issue}/labels{{/name}}",
            "comments_url": f"{issue}/comments",
            "events_url": f"{issue}/events",
            "html_url": html,
            "id": pull.id,
            "node_id": node_id("PullRequest", pull.id),
            "number": pull.number,
            "title": pull.title,
            "user": self.user(pull.user),
            "labels": self.labels_of(repo, pull.labels),
            "state": pull.state,
            "locked": False,
            "assignee": None,
            "assignees": [],
            "milestone": None,
            "comments": len(pull.comments),
            "created_at": ts(pull.created_at),
            "updated_at": ts(pull.updated_at),
            "closed_at": ts(pull.closed_at),
            "author_association": self.association(repo, pull.user),
            "active_lock_reason": None,
            "body": pull.body or None,
            "reactions": self.reactions(issue),
            "pull_request": {
                "url": pull_url,
                "html_url": html,
                "diff_url": f"{html}.diff",
                "patch_url": f"{html}.patch",
                "merged_at": ts(pull.merged_at),
            },
        }

    def status(self, repo: Repo, status: Status) -> Json:
        """`status`."""
        return {
            "url": f"{self.repo_url(repo)}/statuses/{status.sha}",
            "avatar_url": None,
            "id": status.id,
            "node_id": node_id("StatusContext", status.id),
            "state": status.state,
            "description": status.description,
            "target_url": status.target_url,
            "context": status.context,
            "created_at": ts(status.created_at),
            "updated_at": ts(status.updated_at),
            "creator": self.user(status.creator),
        }

    # -- apps and checks ------------------------------------------------------------------

    def integration(self, app: App) -> Json:
        """`integration`: a GitHub App."""
        return {
            "id": app.id,
            "slug": app.slug,
            "node_id": node_id("Integration", app.id),
            "client_id": f"Iv1.{app.id:016x}",
            "owner": self.user(app.owner),
            "name": app.slug,
            "description": None,
            "external_url": f"{self.web}/apps/{app.slug}",
            "html_url": f"{self.web}/apps/{app.slug}",
            "created_at": ts(app.created_at),
            "updated_at": ts(app.created_at),
            "permissions": {
                "checks": "write",
                "contents": "write",
                "issues": "write",
                "members": "read",
                "metadata": "read",
                "pull_requests": "write",
                "statuses": "write",
            },
            "events": ["check_run", "issue_comment", "pull_request", "pull_request_review"],
        }

    def installation(self, app: App) -> Json:
        """`installation`."""
        owner = self.world.user(app.owner)
        assert owner is not None
        return {
            "id": app.installation_id,
            "account": self.user(app.owner),
            "repository_selection": "all",
            "access_tokens_url": (
                f"{self.api}/app/installations/{app.installation_id}/access_tokens"
            ),
            "repositories_url": f"{self.api}/installation/repositories",
            "html_url": f"{self.web}/settings/installations/{app.installation_id}",
            "app_id": app.id,
            "app_slug": app.slug,
            "client_id": f"Iv1.{app.id:016x}",
            "target_id": owner.id,
            "target_type": owner.type,
            "permissions": self.integration(app)["permissions"],
            "events": self.integration(app)["events"],
            "created_at": ts(app.created_at),
            "updated_at": ts(app.created_at),
            "single_file_name": None,
            "has_multiple_single_files": False,
            "single_file_paths": [],
            "suspended_by": None,
            "suspended_at": None,
        }

    def _pull_ref(self, repo: Repo, pull: Pull) -> Json:
        short_repo = {"id": repo.id, "url": self.repo_url(repo), "name": repo.name}
        return {
            "url": f"{self.repo_url(repo)}/pulls/{pull.number}",
            "id": pull.id,
            "number": pull.number,
            "head": {"ref": pull.head_ref, "sha": pull.head_sha, "repo": short_repo},
            "base": {"ref": pull.base_ref, "sha": pull.base_sha, "repo": short_repo},
        }

    def check_run(self, repo: Repo, run: CheckRun, *, full_suite: bool = False) -> Json:
        """`check-run`; with `full_suite`, the `check-run-with-simple-check-suite` of webhooks."""
        url = f"{self.repo_url(repo)}/check-runs/{run.id}"
        app = self.world.apps.get(run.app_id)
        pulls = [
            self._pull_ref(repo, p)
            for p in repo.pulls.values()
            if p.state == "open" and p.head_sha == run.head_sha
        ]
        suite: Json = {"id": run.suite_id}
        if full_suite:
            head_branch = pulls[0]["head"]["ref"] if pulls else None
            suite = {
                "id": run.suite_id,
                "node_id": node_id("CheckSuite", run.suite_id),
                "head_branch": head_branch,
                "head_sha": run.head_sha,
                "status": run.status if run.status in ("queued", "in_progress") else "completed",
                "conclusion": run.conclusion,
                "url": f"{self.repo_url(repo)}/check-suites/{run.suite_id}",
                "before": None,
                "after": run.head_sha,
                "pull_requests": pulls,
                "app": self.integration(app) if app else None,
                "repository": self.repository(repo),
                "created_at": ts(run.started_at),
                "updated_at": ts(run.completed_at or run.started_at),
            }
        return {
            "id": run.id,
            "head_sha": run.head_sha,
            "node_id": node_id("CheckRun", run.id),
            "external_id": run.external_id,
            "url": url,
            "html_url": f"{self.web}/{repo.full_name}/runs/{run.id}",
            # Without one of its own, GitHub points a run's details at the app's homepage.
            "details_url": run.details_url or (f"{self.web}/apps/{app.slug}" if app else None),
            "status": run.status,
            "conclusion": run.conclusion,
            "started_at": ts(run.started_at),
            "completed_at": ts(run.completed_at),
            "output": {
                "title": run.title,
                "summary": run.summary,
                "text": run.text,
                "annotations_count": len(run.annotations),
                "annotations_url": f"{url}/annotations",
            },
            "name": run.name,
            "check_suite": suite,
            "app": self.integration(app) if app else None,
            "pull_requests": pulls,
        }

    # -- git ------------------------------------------------------------------------------

    def git_ref(self, repo: Repo, ref: str, sha: str) -> Json:
        """`git-ref`."""
        return {
            "ref": ref,
            "node_id": node_id("Ref", abs(hash((repo.id, ref))) % 10**9),
            "url": f"{self.repo_url(repo)}/git/{ref}",
            "object": {
                "type": "commit",
                "sha": sha,
                "url": f"{self.repo_url(repo)}/git/commits/{sha}",
            },
        }

    def content(self, repo: Repo, ref: str, entry: Entry) -> Json:
        """`content-file` (with `content`) or one `content-directory` item (without)."""
        url = f"{self.repo_url(repo)}/contents/{entry.path}?ref={ref}"
        kind = "blobs" if entry.kind == "file" else "trees"
        git_url = f"{self.repo_url(repo)}/git/{kind}/{entry.sha}"
        html = f"{self.web}/{repo.full_name}/{'blob' if entry.kind == 'file' else 'tree'}/{ref}/"
        html += entry.path
        body: Json = {
            "type": entry.kind,
            "size": entry.size,
            "name": entry.name,
            "path": entry.path,
            "sha": entry.sha,
            "url": url,
            "git_url": git_url,
            "html_url": html,
            "download_url": (
                f"{self.web}/{repo.full_name}/raw/{ref}/{entry.path}"
                if entry.kind == "file"
                else None
            ),
            "_links": {"self": url, "git": git_url, "html": html},
        }
        if entry.data is not None:
            # GitHub wraps base64 content at 60 characters with newlines.
            encoded = base64.b64encode(entry.data).decode()
            body["encoding"] = "base64"
            body["content"] = "".join(
                encoded[i : i + 60] + "\n" for i in range(0, len(encoded), 60)
            )
        return body

    # -- organisations --------------------------------------------------------------------

    def team(self, team: Team) -> Json:
        """`team`; its `url` is the slug form, which the membership routes answer under."""
        url = f"{self.api}/orgs/{team.org}/teams/{team.slug}"
        return {
            "id": team.id,
            "node_id": node_id("Team", team.id),
            "url": url,
            "html_url": f"{self.web}/orgs/{team.org}/teams/{team.slug}",
            "name": team.slug,
            "slug": team.slug,
            "description": None,
            "privacy": "closed",
            "notification_setting": "notifications_enabled",
            "permission": "pull",
            "members_url": f"{url}/members{{/member}}",
            "repositories_url": f"{url}/repos",
            "type": "organization",
            "parent": None,
        }

    def team_membership(self, team: Team, login: str) -> Json:
        """`team-membership`."""
        return {
            "url": f"{self.api}/orgs/{team.org}/teams/{team.slug}/memberships/{login}",
            "role": "member",
            "state": "active",
        }
