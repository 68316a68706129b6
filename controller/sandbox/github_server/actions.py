"""What happens on the loopback GitHub: pushes, pull requests, reviews, merges, comments, checks.

Both the REST handlers and the control API go through here, so a push from a test and a review
through PyGithub raise the same webhooks. Every method takes the world lock itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

from controller.sandbox.github_server import check_annotations
from controller.sandbox.github_server.errors import ApiError, invalid, not_found, unprocessable
from controller.sandbox.github_server.git_backend import (
    WEB_FLOW_EMAIL,
    GitError,
    GitRepo,
    Person,
    person_for,
)
from controller.sandbox.github_server.pushes import ref_updated
from controller.sandbox.github_server.render import Renderer, node_id, ts
from controller.sandbox.github_server.signing import Signer
from controller.sandbox.github_server.state import (
    CheckRun,
    Closing,
    Comment,
    Dismissal,
    Label,
    Pull,
    Repo,
    Review,
    Status,
    World,
    now,
)
from controller.sandbox.github_server.webhooks import WebhookSender

Json = dict[str, Any]
REVIEW_EVENTS = {
    "APPROVE": "APPROVED",
    "REQUEST_CHANGES": "CHANGES_REQUESTED",
    "COMMENT": "COMMENTED",
}


class Hub:
    """The records, their git repositories, the renderer and the webhook sender, together."""

    def __init__(self, root: Path, world: World, render: Renderer, hooks: WebhookSender) -> None:
        self.root = root
        self.world = world
        self.render = render
        self.hooks = hooks
        self.signer = Signer(world, root / ".github-keys")

    # -- lookups --------------------------------------------------------------------------

    def repo(self, owner: str, name: str) -> Repo:
        repo = self.world.repo(owner, name)
        if repo is None:
            raise not_found()
        return repo

    def pull(self, repo: Repo, number: int) -> Pull:
        pull = repo.pulls.get(number)
        if pull is None:
            raise not_found()
        return pull

    def person(self, login: str) -> Person:
        """The noreply identity of an account; its `name` is the account's login."""
        user = self.world.user(login)
        if user is None:
            raise ValueError(f"unknown user {login}")
        return person_for(user.login, user.id, now())

    def web_flow(self) -> Person:
        """The committer of everything GitHub commits itself (merges, web edits)."""
        return Person("GitHub", WEB_FLOW_EMAIL, now())

    def verification(self, repo: Repo, sha: str) -> Json:
        """`verification` of a commit, as GitHub shows it on every commit object."""
        info = repo.git.commit(sha)
        result = self.signer.verify(sha, repo.git.raw_commit(sha), info.committer.email)
        return {
            "verified": result.verified,
            "reason": result.reason,
            "signature": result.signature,
            "payload": result.payload,
            "verified_at": ts(result.verified_at),
        }

    def require(self, repo: Repo, login: str | None, needed: str) -> None:
        """GitHub answers 403 when the caller's role on the repository is too low."""
        if not self.world.at_least(self.world.permission(repo, login), needed):
            if needed == "admin":
                raise ApiError(403, "Must have admin rights to Repository.")
            raise ApiError(403, "Must have push access to repository")

    # -- repositories and pushes ------------------------------------------------------------

    def create_repo(
        self,
        owner: str,
        name: str,
        files: Mapping[str, bytes],
        default_branch: str,
        author: str | None,
    ) -> Repo:
        with self.world.lock:
            account = self.world.user(owner)
            if account is None:
                raise ValueError(f"unknown owner {owner}")
            if self.world.repo(owner, name) is not None:
                raise ValueError(f"repository {owner}/{name} exists")
            path = self.root / owner.lower() / f"{name.lower()}.git"
            git = GitRepo.init_bare(path, default_branch)
            stamp = now()
            repo = Repo(
                id=self.world.next_id(),
                owner=account.login,
                name=name,
                default_branch=default_branch,
                git=git,
                created_at=stamp,
                updated_at=stamp,
                pushed_at=stamp,
            )
            self.world.repos[(owner.lower(), name.lower())] = repo
            if files:
                who = self.person(author or owner)
                sha = git.commit_files(
                    None, dict(files), message="Initial commit", author=who, committer=who
                )
                git.set_branch(default_branch, sha, None)
                ref_updated(self, repo, f"refs/heads/{default_branch}", None, sha, actor=who.name)
            return repo

    def fork_repo(self, repo: Repo, actor: str) -> Repo:
        """``actor``'s fork of ``repo``: same name, every branch, its own pull requests."""
        with self.world.lock:
            account = self.world.user(actor)
            if account is None:
                raise invalid("Repository", "owner")
            existing = self.world.repo(account.login, repo.name)
            if existing is not None:
                if existing.parent != repo.full_name:
                    raise invalid("Repository", "name", "already_exists")
                return existing
            path = self.root / account.login.lower() / f"{repo.name.lower()}.git"
            stamp = now()
            fork = Repo(
                id=self.world.next_id(),
                owner=account.login,
                name=repo.name,
                default_branch=repo.default_branch,
                git=GitRepo.clone_bare(repo.git, path),
                created_at=stamp,
                updated_at=stamp,
                pushed_at=stamp,
                parent=repo.full_name,
                collaborators={account.login.lower(): "admin"},
            )
            self.world.repos[(account.login.lower(), repo.name.lower())] = fork
            return fork

    def push(
        self,
        repo: Repo,
        branch: str,
        files: Mapping[str, bytes | None],
        *,
        message: str,
        author: str,
        base: str | None,
        web: bool = False,
    ) -> str:
        """A commit by `author` on `branch`, pushed by them (unsigned) or, with `web`, made
        on the website: committed and signed by GitHub, as web edits are."""
        with self.world.lock:
            git = repo.git
            old = git.branch_sha(branch)
            parent = old
            if parent is None:
                parent = git.branch_sha(base or repo.default_branch)
            who = self.person(author)
            committer = self.web_flow() if web else who
            sha = git.commit_files(
                parent,
                dict(files),
                message=message,
                author=who,
                committer=committer,
                sign_with=self.signer.key_path if web else None,
            )
            git.set_branch(branch, sha, old)
            ref_updated(self, repo, f"refs/heads/{branch}", old, sha, actor=who.name)
            return sha

    # -- pull requests ----------------------------------------------------------------------

    def open_pull(
        self, repo: Repo, *, head: str, base: str, title: str, author: str, body: str
    ) -> Pull:
        with self.world.lock:
            fork: Repo | None = None
            if ":" in head:
                owner, _, head = head.partition(":")
                if owner.lower() != repo.owner.lower():
                    fork = self.world.repo(owner, repo.name)
                    if fork is None or fork.parent != repo.full_name:
                        raise invalid("PullRequest", "head")
            head_sha = (fork or repo).git.branch_sha(head)
            base_sha = repo.git.branch_sha(base)
            if head_sha is None:
                raise invalid("PullRequest", "head")
            if base_sha is None:
                raise invalid("PullRequest", "base")
            if fork is not None:
                # GitHub keeps a fork's head in the base repository under refs/pull/N/head.
                repo.git.fetch_branch(fork.git, head, f"refs/pull/{repo.next_number}/head")
            if not title:
                raise invalid("PullRequest", "title", "missing_field")
            for other in repo.pulls.values():
                if (
                    other.state == "open"
                    and other.head_ref == head
                    and other.base_ref == base
                    and other.head_repo == (fork.full_name if fork else None)
                ):
                    raise ApiError(
                        422,
                        "Validation Failed",
                        errors=[
                            {
                                "resource": "PullRequest",
                                "code": "custom",
                                "message": (
                                    f"A pull request already exists for {repo.owner}:{head}."
                                ),
                            }
                        ],
                    )
            if not repo.git.commits_between(base_sha, head_sha):
                raise ApiError(
                    422,
                    "Validation Failed",
                    errors=[
                        {
                            "resource": "PullRequest",
                            "code": "custom",
                            "message": f"No commits between {base} and {head}",
                        }
                    ],
                )
            stamp = now()
            user = self.world.user(author)
            if user is None:
                raise invalid("PullRequest", "user")
            pull = Pull(
                id=self.world.next_id(),
                number=repo.next_number,
                title=title,
                body=body,
                user=user.login,
                head_ref=head,
                base_ref=base,
                head_sha=head_sha,
                base_sha=base_sha,
                created_at=stamp,
                updated_at=stamp,
                head_repo=fork.full_name if fork else None,
            )
            repo.next_number += 1
            repo.pulls[pull.number] = pull
            self.emit_pull(repo, pull, "opened", user.login)
            return pull

    def pull_commits(self, repo: Repo, pull: Pull) -> list[str]:
        base = repo.git.branch_sha(pull.base_ref) if pull.state == "open" else pull.base_sha
        base = base or pull.base_sha
        if pull.merged_at is not None:
            # After a merge the base contains the head; GitHub still lists what was merged.
            base = pull.base_sha
        merge_base = repo.git.merge_base(base, pull.head_sha) or base
        return repo.git.commits_between(merge_base, pull.head_sha)[:250]

    def pull_diff_base(self, repo: Repo, pull: Pull) -> str:
        return repo.git.merge_base(pull.base_sha, pull.head_sha) or pull.base_sha

    def mergeable(self, repo: Repo, pull: Pull) -> bool | None:
        if pull.state != "open":
            return None
        base_sha = repo.git.branch_sha(pull.base_ref)
        if base_sha is None:
            return False
        return repo.git.merge_tree(base_sha, pull.head_sha) is not None

    def pull_json(self, repo: Repo, pull: Pull) -> Json:
        files = repo.git.diff(self.pull_diff_base(repo, pull), pull.head_sha)
        counts = {
            "commits": len(self.pull_commits(repo, pull)),
            "additions": sum(f.additions for f in files),
            "deletions": sum(f.deletions for f in files),
            "changed_files": len(files),
        }
        return self.render.pull(repo, pull, mergeable=self.mergeable(repo, pull), counts=counts)

    def update_pull(self, repo: Repo, pull: Pull, actor: str | None, changes: Json) -> Pull:
        with self.world.lock:
            is_author = actor is not None and actor.lower() == pull.user.lower()
            if not is_author:
                self.require(repo, actor, "triage")
            sender = actor or pull.user
            edits: Json = {}
            for key in ("title", "body"):
                if key in changes and changes[key] is not None:
                    value = str(changes[key])
                    if value != getattr(pull, key):
                        edits[key] = {"from": getattr(pull, key)}
                        setattr(pull, key, value)
            if "base" in changes and changes["base"] and changes["base"] != pull.base_ref:
                new_base = str(changes["base"])
                new_sha = repo.git.branch_sha(new_base)
                if new_sha is None:
                    raise invalid("PullRequest", "base")
                edits["base"] = {"ref": {"from": pull.base_ref}, "sha": {"from": pull.base_sha}}
                pull.base_ref, pull.base_sha = new_base, new_sha
            state = changes.get("state")
            if edits:
                pull.updated_at = now()
                self.emit_pull(repo, pull, "edited", sender, changes=edits)
            if state == "closed" and pull.state == "open":
                at = now()
                pull.state, pull.closed_at, pull.updated_at = "closed", at, at
                pull.closings.append(Closing(self.world.next_id(), sender, at))
                self.emit_pull(repo, pull, "closed", sender)
            elif state == "open" and pull.state == "closed" and pull.merged_at is None:
                pull.state, pull.closed_at, pull.updated_at = "open", None, now()
                base_sha = repo.git.branch_sha(pull.base_ref)
                if base_sha is not None:
                    pull.base_sha = base_sha
                self.emit_pull(repo, pull, "reopened", sender)
            elif state not in (None, "open", "closed"):
                raise invalid("PullRequest", "state")
            return pull

    # -- reviews ----------------------------------------------------------------------------

    def create_review(
        self,
        repo: Repo,
        pull: Pull,
        actor: str,
        *,
        event: str | None,
        body: str,
        commit_id: str | None,
    ) -> Review:
        with self.world.lock:
            if event is not None and event not in REVIEW_EVENTS:
                raise unprocessable(f"Invalid event {event}")
            own = actor.lower() == pull.user.lower()
            if own and event == "APPROVE":
                raise unprocessable("Can not approve your own pull request")
            if own and event == "REQUEST_CHANGES":
                raise unprocessable("Can not request changes on your own pull request")
            if event in ("REQUEST_CHANGES", "COMMENT") and not body:
                raise unprocessable(f"Body is required for {event} review")
            if pull.state != "open" and event in ("APPROVE", "REQUEST_CHANGES"):
                raise unprocessable("Pull request is closed")
            commit = commit_id or pull.head_sha
            if commit != pull.head_sha and commit not in self.pull_commits(repo, pull):
                raise unprocessable(f"Commit {commit} is not part of the pull request")
            review = Review(
                id=self.world.next_id(),
                user=actor,
                body=body,
                state=REVIEW_EVENTS[event] if event else "PENDING",
                commit_id=commit,
                submitted_at=now() if event else None,
            )
            pull.reviews.append(review)
            if event:
                # GitHub: once a requested reviewer submits a review, they are no longer
                # a requested reviewer.
                pull.requested_reviewers = [
                    login for login in pull.requested_reviewers if login.lower() != actor.lower()
                ]
                self.emit_review(repo, pull, review, "submitted", actor)
            return review

    def dismiss_review(
        self, repo: Repo, pull: Pull, review_id: int, actor: str | None, message: str
    ) -> Review:
        with self.world.lock:
            self.require(repo, actor, "write")
            review = next((r for r in pull.reviews if r.id == review_id), None)
            if review is None:
                raise not_found()
            if not message:
                raise unprocessable("Message is required")
            if review.state not in ("APPROVED", "CHANGES_REQUESTED"):
                kind = review.state.lower().replace("_", " ")
                raise unprocessable(f"Can not dismiss a {kind} pull request review")
            dismissed_by = actor or pull.user
            pull.dismissals.append(
                Dismissal(
                    id=self.world.next_id(),
                    actor=dismissed_by,
                    review_id=review.id,
                    state=review.state,
                    message=message,
                    commit_id=pull.head_sha,
                    created_at=now(),
                )
            )
            review.state = "DISMISSED"
            self.emit_review(repo, pull, review, "dismissed", dismissed_by)
            return review

    # -- merging ----------------------------------------------------------------------------

    def merge(
        self,
        repo: Repo,
        pull: Pull,
        actor: str | None,
        *,
        sha: str | None,
        method: str,
        title: str | None,
        message: str | None,
    ) -> str:
        with self.world.lock:
            self.require(repo, actor, "write")
            if method not in ("merge", "squash", "rebase"):
                raise invalid("PullRequest", "merge_method")
            if pull.state != "open":
                raise ApiError(405, "Pull Request is not mergeable")
            if sha is not None and sha != pull.head_sha:
                raise ApiError(409, "Head branch was modified. Review and try the merge again.")
            if method == "rebase":
                raise ApiError(405, "Rebase merges are not allowed on this repository.")
            base_sha = repo.git.branch_sha(pull.base_ref)
            if base_sha is None:
                raise ApiError(405, "Pull Request is not mergeable")
            tree = repo.git.merge_tree(base_sha, pull.head_sha)
            if tree is None:
                raise ApiError(405, "Pull Request is not mergeable")
            merger = self.person(actor or repo.owner)
            committer = self.web_flow()
            if method == "merge":
                subject = (
                    title or f"Merge pull request #{pull.number} from {repo.owner}/{pull.head_ref}"
                )
                text = pull.title if message is None else message
                parents = [base_sha, pull.head_sha]
            else:
                subject = title or f"{pull.title} (#{pull.number})"
                if message is None:
                    lines = [
                        "* " + repo.git.commit(c).message.strip()
                        for c in self.pull_commits(repo, pull)
                    ]
                    text = "\n\n".join(lines)
                else:
                    text = message
                parents = [base_sha]
            full = subject + ("\n\n" + text if text else "")
            author = self.person(pull.user) if method == "squash" else merger
            merged = repo.git.commit_tree(
                tree, parents, full, author, committer, sign_with=self.signer.key_path
            )
            try:
                repo.git.set_branch(pull.base_ref, merged, base_sha)
            except GitError as exc:
                raise ApiError(
                    405, "Base branch was modified. Review and try the merge again."
                ) from exc
            stamp = now()
            pull.base_sha = base_sha
            pull.state, pull.closed_at, pull.merged_at, pull.updated_at = (
                "closed",
                stamp,
                stamp,
                stamp,
            )
            pull.merged_by = actor or repo.owner
            pull.merge_commit_sha = merged
            ref = f"refs/heads/{pull.base_ref}"
            ref_updated(self, repo, ref, base_sha, merged, actor=pull.merged_by, merged=True)
            self.emit_pull(repo, pull, "closed", pull.merged_by)
            return merged

    # -- comments and labels ----------------------------------------------------------------

    def add_comment(
        self, repo: Repo, pull: Pull, actor: str, body: str, app_slug: str | None
    ) -> Comment:
        with self.world.lock:
            if not body:
                raise invalid("IssueComment", "body", "missing_field")
            stamp = now()
            comment = Comment(self.world.next_id(), actor, body, stamp, stamp, app_slug)
            pull.comments.append(comment)
            pull.updated_at = stamp
            self.emit(
                "issue_comment",
                repo,
                actor,
                {
                    "action": "created",
                    "issue": self.render.issue(repo, pull),
                    "comment": self.render.comment(repo, pull, comment),
                },
            )
            return comment

    def find_comment(self, repo: Repo, comment_id: int) -> tuple[Pull, Comment]:
        for pull in repo.pulls.values():
            for comment in pull.comments:
                if comment.id == comment_id:
                    return pull, comment
        raise not_found()

    def edit_comment(self, repo: Repo, comment_id: int, actor: str | None, body: str) -> Json:
        with self.world.lock:
            pull, comment = self.find_comment(repo, comment_id)
            is_author = actor is not None and actor.lower() == comment.user.lower()
            if not is_author:
                self.require(repo, actor, "write")
            if not body:
                raise invalid("IssueComment", "body", "missing_field")
            previous = comment.body
            comment.body = body
            # An edit always moves `updated_at` past `created_at`, even within the same second
            # (timestamps have second precision), so "edited" can be read from the comment.
            comment.updated_at = max(now(), comment.updated_at + timedelta(seconds=1))
            comment.last_edited_at = comment.updated_at
            if body != previous:
                self.emit(
                    "issue_comment",
                    repo,
                    actor or comment.user,
                    {
                        "action": "edited",
                        "changes": {"body": {"from": previous}},
                        "issue": self.render.issue(repo, pull),
                        "comment": self.render.comment(repo, pull, comment),
                    },
                )
            return self.render.comment(repo, pull, comment)

    def label(self, repo: Repo, name: str) -> Label:
        """The repository's label, created (grey) as GitHub does when an issue first uses it."""
        label = repo.labels.get(name.lower())
        if label is None:
            label = Label(self.world.next_id(), name, "ededed")
            repo.labels[name.lower()] = label
        return label

    def add_labels(self, repo: Repo, pull: Pull, actor: str | None, names: list[str]) -> None:
        with self.world.lock:
            self.require(repo, actor, "triage")
            for name in names:
                label = self.label(repo, name)
                if all(n.lower() != name.lower() for n in pull.labels):
                    pull.labels.append(label.name)
                    pull.updated_at = now()
                    self.emit_pull(repo, pull, "labeled", actor or pull.user, label=label)

    def remove_label(self, repo: Repo, pull: Pull, actor: str | None, name: str) -> None:
        with self.world.lock:
            self.require(repo, actor, "triage")
            kept = [n for n in pull.labels if n.lower() != name.lower()]
            if len(kept) == len(pull.labels):
                raise ApiError(404, "Label does not exist")
            label = repo.labels[name.lower()]
            pull.labels = kept
            pull.updated_at = now()
            self.emit_pull(repo, pull, "unlabeled", actor or pull.user, label=label)

    # -- statuses and checks ----------------------------------------------------------------

    def add_status(self, repo: Repo, sha: str, actor: str, fields: Json) -> Status:
        with self.world.lock:
            self.require(repo, actor, "write")
            resolved = repo.git.resolve(sha)
            if resolved is None:
                raise unprocessable(f"No commit found for SHA: {sha}")
            state = fields.get("state")
            if state not in ("error", "failure", "pending", "success"):
                raise invalid("Status", "state")
            stamp = now()
            status = Status(
                id=self.world.next_id(),
                sha=resolved,
                state=str(state),
                description=fields.get("description"),
                target_url=fields.get("target_url"),
                context=str(fields.get("context") or "default"),
                creator=actor,
                created_at=stamp,
                updated_at=stamp,
            )
            repo.statuses.append(status)
            return status

    def create_check_run(self, repo: Repo, app_id: int, fields: Json) -> CheckRun:
        with self.world.lock:
            name = fields.get("name")
            head_sha = fields.get("head_sha")
            if not name:
                raise invalid("CheckRun", "name", "missing_field")
            resolved = repo.git.resolve(str(head_sha or ""))
            if resolved is None or resolved != head_sha:
                raise unprocessable("No commit found for SHA: " + str(head_sha))
            suite = next(
                (
                    r.suite_id
                    for r in repo.check_runs.values()
                    if r.head_sha == head_sha and r.app_id == app_id
                ),
                None,
            )
            run = CheckRun(
                id=self.world.next_id(),
                suite_id=suite or self.world.next_id(),
                head_sha=resolved,
                name=str(name),
                status="queued",
                conclusion=None,
                started_at=now(),
                completed_at=None,
                title=None,
                summary=None,
                text=None,
                details_url=None,
                external_id="",
                app_id=app_id,
            )
            self._apply_check_fields(run, fields)
            repo.check_runs[run.id] = run
            return run

    def update_check_run(self, repo: Repo, run_id: int, app_id: int, fields: Json) -> CheckRun:
        with self.world.lock:
            run = repo.check_runs.get(run_id)
            if run is None:
                raise not_found()
            if run.app_id != app_id:
                raise ApiError(
                    403,
                    f"Invalid app_id `{app_id}` - check run can only be modified by its creator",
                )
            self._apply_check_fields(run, fields)
            return run

    @staticmethod
    def _apply_check_fields(run: CheckRun, fields: Json) -> None:
        added = check_annotations.accept(fields)  # validated before anything changes
        if fields.get("name"):
            run.name = str(fields["name"])
        for key in ("details_url", "external_id"):
            if key in fields:
                setattr(run, key, fields[key])
        status = fields.get("status")
        conclusion = fields.get("conclusion")
        if status is not None:
            if status not in ("queued", "in_progress", "completed"):
                raise invalid("CheckRun", "status")
            run.status = str(status)
        if conclusion is not None:
            allowed = (
                "action_required",
                "cancelled",
                "failure",
                "neutral",
                "success",
                "skipped",
                "timed_out",
            )
            if conclusion not in allowed:
                raise invalid("CheckRun", "conclusion")
            run.conclusion = str(conclusion)
            run.status = "completed"
        if run.status == "completed":
            if run.conclusion is None:
                raise invalid("CheckRun", "conclusion", "missing_field")
            run.completed_at = run.completed_at or now()
        else:
            run.conclusion = None
            run.completed_at = None
        output = fields.get("output")
        if isinstance(output, dict):
            if not output.get("title") or not output.get("summary"):
                raise invalid("CheckRun", "output", "missing_field")
            run.title = str(output["title"])
            run.summary = str(output["summary"])
            run.text = None if output.get("text") is None else str(output["text"])
        run.annotations.extend(added)

    def rerequest_check_run(self, repo: Repo, run_id: int, sender: str) -> None:
        with self.world.lock:
            run = repo.check_runs.get(run_id)
            if run is None:
                raise KeyError(run_id)
            app = self.world.apps.get(run.app_id)
            payload: Json = {
                "action": "rerequested",
                "check_run": self.render.check_run(repo, run, full_suite=True),
            }
            if app is not None:
                payload["installation"] = {
                    "id": app.installation_id,
                    "node_id": node_id("Installation", app.installation_id),
                }
            self.emit("check_run", repo, sender, payload)

    # -- webhooks ---------------------------------------------------------------------------

    def emit_pull(self, repo: Repo, pull: Pull, action: str, sender: str, **extra: Any) -> None:
        payload: Json = {
            "action": action,
            "number": pull.number,
            "pull_request": self.pull_json(repo, pull),
        }
        if "label" in extra:
            payload["label"] = self.render.label(repo, extra.pop("label"))
        payload.update(extra)
        self.emit("pull_request", repo, sender, payload)

    def emit_review(self, repo: Repo, pull: Pull, review: Review, action: str, sender: str) -> None:
        rendered = self.render.review(repo, pull, review)
        rendered["state"] = review.state.lower()
        rendered.setdefault("submitted_at", None)
        self.emit(
            "pull_request_review",
            repo,
            sender,
            {
                "action": action,
                "review": rendered,
                "pull_request": self.render.pull_simple(repo, pull),
            },
        )

    def emit(self, event: str, repo: Repo, sender: str, payload: Json) -> None:
        full: Json = dict(payload)
        full["repository"] = self.render.repository(repo)
        full["sender"] = self.render.user(sender)
        owner = self.world.user(repo.owner)
        if owner is not None and owner.type == "Organization":
            full["organization"] = self.organization(owner.login)
        app = self.world.app_for_owner(repo.owner)
        if app is not None and "installation" not in full:
            full["installation"] = {
                "id": app.installation_id,
                "node_id": node_id("Installation", app.installation_id),
            }
        self.hooks.emit(event, full)

    def organization(self, login: str) -> Json:
        """`organization-simple-webhooks`."""
        user = self.world.user(login)
        assert user is not None
        url = f"{self.render.api}/orgs/{user.login}"
        return {
            "login": user.login,
            "id": user.id,
            "node_id": node_id("Organization", user.id),
            "url": url,
            "repos_url": f"{url}/repos",
            "events_url": f"{url}/events",
            "hooks_url": f"{url}/hooks",
            "issues_url": f"{url}/issues",
            "members_url": f"{url}/members{{/member}}",
            "public_members_url": f"{url}/public_members{{/member}}",
            "avatar_url": f"{self.render.web}/avatars/u/{user.id}",
            "description": None,
        }
