"""REST handlers for pull requests: list, get, create, update, files, commits, reviews, merge."""

from __future__ import annotations

from typing import Any

from controller.sandbox.github_server.context import Ctx, Reply, paginate
from controller.sandbox.github_server.errors import ApiError, invalid, not_found

MAX_FILES = 3000  # GitHub stops listing a pull request's files here


def list_pulls(ctx: Ctx, owner: str, repo: str) -> Reply:
    r = ctx.hub.repo(owner, repo)
    state = ctx.request.args.get("state", "open")
    if state not in ("open", "closed", "all"):
        raise invalid("PullRequest", "state")
    head = ctx.request.args.get("head")
    base = ctx.request.args.get("base")
    pulls = [
        p
        for p in sorted(r.pulls.values(), key=lambda p: p.number, reverse=True)
        if state in ("all", p.state)
        and (head is None or f"{r.owner}:{p.head_ref}".lower() == head.lower())
        and (base is None or p.base_ref == base)
    ]
    if ctx.request.args.get("direction") == "asc":
        pulls.reverse()
    return paginate(ctx, pulls, lambda p: ctx.hub.render.pull_simple(r, p))


def get_pull(ctx: Ctx, owner: str, repo: str, pull_number: int) -> Reply:
    r = ctx.hub.repo(owner, repo)
    pull = ctx.hub.pull(r, pull_number)
    return Reply(200, ctx.hub.pull_json(r, pull), last_modified=pull.updated_at)


def create_pull(ctx: Ctx, owner: str, repo: str) -> Reply:
    actor = ctx.actor()
    r = ctx.hub.repo(owner, repo)
    body = ctx.json()
    for key in ("head", "base"):
        if not body.get(key):
            raise invalid("PullRequest", key, "missing_field")
    pull = ctx.hub.open_pull(
        r,
        head=str(body["head"]),
        base=str(body["base"]),
        title=str(body.get("title") or ""),
        author=actor,
        body=str(body.get("body") or ""),
    )
    headers = {"Location": f"{ctx.hub.render.repo_url(r)}/pulls/{pull.number}"}
    return Reply(201, ctx.hub.pull_json(r, pull), headers)


def update_pull(ctx: Ctx, owner: str, repo: str, pull_number: int) -> Reply:
    actor = ctx.actor()
    r = ctx.hub.repo(owner, repo)
    pull = ctx.hub.pull(r, pull_number)
    ctx.hub.update_pull(r, pull, actor, ctx.json())
    return Reply(200, ctx.hub.pull_json(r, pull))


def list_files(ctx: Ctx, owner: str, repo: str, pull_number: int) -> Reply:
    r = ctx.hub.repo(owner, repo)
    pull = ctx.hub.pull(r, pull_number)
    files = r.git.diff(ctx.hub.pull_diff_base(r, pull), pull.head_sha)[:MAX_FILES]
    return paginate(ctx, files, lambda f: ctx.hub.render.diff_entry(r, pull.head_sha, f))


def list_commits(ctx: Ctx, owner: str, repo: str, pull_number: int) -> Reply:
    r = ctx.hub.repo(owner, repo)
    pull = ctx.hub.pull(r, pull_number)
    shas = ctx.hub.pull_commits(r, pull)
    return paginate(
        ctx,
        shas,
        lambda sha: ctx.hub.render.commit(r, r.git.commit(sha), ctx.hub.verification(r, sha)),
    )


def list_reviews(ctx: Ctx, owner: str, repo: str, pull_number: int) -> Reply:
    r = ctx.hub.repo(owner, repo)
    pull = ctx.hub.pull(r, pull_number)
    # A pending review is visible to its author only, as on GitHub.
    visible = [
        v
        for v in pull.reviews
        if v.state != "PENDING" or (ctx.login or "").lower() == v.user.lower()
    ]
    return paginate(ctx, visible, lambda v: ctx.hub.render.review(r, pull, v))


def create_review(ctx: Ctx, owner: str, repo: str, pull_number: int) -> Reply:
    actor = ctx.actor()
    r = ctx.hub.repo(owner, repo)
    pull = ctx.hub.pull(r, pull_number)
    body = ctx.json()
    event = body.get("event")
    review = ctx.hub.create_review(
        r,
        pull,
        actor,
        event=str(event) if event else None,
        body=str(body.get("body") or ""),
        commit_id=str(body["commit_id"]) if body.get("commit_id") else None,
    )
    return Reply(200, ctx.hub.render.review(r, pull, review))


def get_review(ctx: Ctx, owner: str, repo: str, pull_number: int, review_id: int) -> Reply:
    r = ctx.hub.repo(owner, repo)
    pull = ctx.hub.pull(r, pull_number)
    review = next((v for v in pull.reviews if v.id == review_id), None)
    if review is None:
        raise not_found()
    return Reply(200, ctx.hub.render.review(r, pull, review))


def dismiss_review(ctx: Ctx, owner: str, repo: str, pull_number: int, review_id: int) -> Reply:
    actor = ctx.actor()
    r = ctx.hub.repo(owner, repo)
    pull = ctx.hub.pull(r, pull_number)
    message = str(ctx.json().get("message") or "")
    review = ctx.hub.dismiss_review(r, pull, review_id, actor, message)
    return Reply(200, ctx.hub.render.review(r, pull, review))


def merge_pull(ctx: Ctx, owner: str, repo: str, pull_number: int) -> Reply:
    actor = ctx.actor()
    r = ctx.hub.repo(owner, repo)
    pull = ctx.hub.pull(r, pull_number)
    body: dict[str, Any] = ctx.json()
    sha = ctx.hub.merge(
        r,
        pull,
        actor,
        sha=str(body["sha"]) if body.get("sha") else None,
        method=str(body.get("merge_method") or "merge"),
        title=str(body["commit_title"]) if body.get("commit_title") else None,
        message=str(body["commit_message"]) if body.get("commit_message") is not None else None,
    )
    return Reply(200, {"sha": sha, "merged": True, "message": "Pull Request successfully merged"})


def merged_status(ctx: Ctx, owner: str, repo: str, pull_number: int) -> Reply:
    r = ctx.hub.repo(owner, repo)
    pull = ctx.hub.pull(r, pull_number)
    if pull.merged_at is None:
        raise ApiError(404, "Not Found")
    return Reply(204, None)


ROUTES = [
    ("GET", "/repos/{owner}/{repo}/pulls", list_pulls),
    ("POST", "/repos/{owner}/{repo}/pulls", create_pull),
    ("GET", "/repos/{owner}/{repo}/pulls/{pull_number}", get_pull),
    ("PATCH", "/repos/{owner}/{repo}/pulls/{pull_number}", update_pull),
    ("GET", "/repos/{owner}/{repo}/pulls/{pull_number}/files", list_files),
    ("GET", "/repos/{owner}/{repo}/pulls/{pull_number}/commits", list_commits),
    ("GET", "/repos/{owner}/{repo}/pulls/{pull_number}/reviews", list_reviews),
    ("POST", "/repos/{owner}/{repo}/pulls/{pull_number}/reviews", create_review),
    ("GET", "/repos/{owner}/{repo}/pulls/{pull_number}/reviews/{review_id}", get_review),
    (
        "PUT",
        "/repos/{owner}/{repo}/pulls/{pull_number}/reviews/{review_id}/dismissals",
        dismiss_review,
    ),
    ("PUT", "/repos/{owner}/{repo}/pulls/{pull_number}/merge", merge_pull),
    ("GET", "/repos/{owner}/{repo}/pulls/{pull_number}/merge", merged_status),
]
