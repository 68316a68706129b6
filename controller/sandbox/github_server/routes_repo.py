"""REST handlers for a repository: itself, contents, refs, comments, labels, statuses, checks."""

from __future__ import annotations

from typing import Any

from controller.sandbox.github_server.context import Ctx, Reply, paginate
from controller.sandbox.github_server.errors import ApiError, invalid, not_found
from controller.sandbox.github_server.pushes import ref_updated
from controller.sandbox.github_server.state import Repo


def get_repo(ctx: Ctx, owner: str, repo: str) -> Reply:
    r = ctx.hub.repo(owner, repo)
    body = ctx.hub.render.repository(r)
    level = ctx.hub.world.permission(r, ctx.login)
    at_least = ctx.hub.world.at_least
    body["permissions"] = {
        "admin": at_least(level, "admin"),
        "maintain": at_least(level, "maintain"),
        "push": at_least(level, "write"),
        "triage": at_least(level, "triage"),
        "pull": True,
    }
    return Reply(200, body, last_modified=max(r.updated_at, r.pushed_at))


# -- contents and refs -----------------------------------------------------------------------


def create_fork(ctx: Ctx, owner: str, repo: str) -> Reply:
    fork = ctx.hub.fork_repo(ctx.hub.repo(owner, repo), ctx.actor())
    return Reply(202, ctx.hub.render.repository(fork))


def get_contents(ctx: Ctx, owner: str, repo: str, path: str = "") -> Reply:
    r = ctx.hub.repo(owner, repo)
    ref = ctx.request.args.get("ref") or r.default_branch
    sha = r.git.resolve(ref)
    if sha is None:
        raise ApiError(404, f"No commit found for the ref {ref}")
    entry = r.git.entry(sha, path)
    if entry is None:
        raise not_found()
    if isinstance(entry, list):
        return Reply(200, [ctx.hub.render.content(r, ref, e) for e in entry])
    return Reply(200, ctx.hub.render.content(r, ref, entry))


def _ref_pairs(r: Repo) -> list[tuple[str, str]]:
    return [(name, sha) for name, sha in r.git.refs().items() if name.startswith("refs/")]


def get_ref(ctx: Ctx, owner: str, repo: str, ref: str) -> Reply:
    r = ctx.hub.repo(owner, repo)
    full = "refs/" + ref.strip("/")
    for name, sha in _ref_pairs(r):
        if name == full:
            return Reply(200, ctx.hub.render.git_ref(r, name, sha))
    raise not_found()


def matching_refs(ctx: Ctx, owner: str, repo: str, ref: str = "") -> Reply:
    r = ctx.hub.repo(owner, repo)
    prefix = "refs/" + ref.strip("/") if ref else "refs/"
    found = [(n, s) for n, s in _ref_pairs(r) if n.startswith(prefix)]
    return paginate(ctx, found, lambda pair: ctx.hub.render.git_ref(r, pair[0], pair[1]))


def legacy_refs(ctx: Ctx, owner: str, repo: str, ref: str = "") -> Reply:
    """`GET /git/refs[/{ref}]`: one object on an exact match, else a list of prefix matches."""
    r = ctx.hub.repo(owner, repo)
    full = "refs/" + ref.strip("/") if ref else "refs/"
    pairs = _ref_pairs(r)
    exact = [(n, s) for n, s in pairs if n == full]
    if exact:
        return Reply(200, ctx.hub.render.git_ref(r, *exact[0]))
    found = [(n, s) for n, s in pairs if n.startswith(full)]
    if not found:
        raise not_found()
    return paginate(ctx, found, lambda pair: ctx.hub.render.git_ref(r, pair[0], pair[1]))


def create_ref(ctx: Ctx, owner: str, repo: str) -> Reply:
    actor = ctx.actor()
    r = ctx.hub.repo(owner, repo)
    ctx.hub.require(r, actor, "write")
    body = ctx.json()
    ref, sha = str(body.get("ref") or ""), str(body.get("sha") or "")
    if not ref.startswith("refs/heads/") or r.git.resolve(sha) != sha:
        raise invalid("Reference", "ref")
    branch = ref.removeprefix("refs/heads/")
    with ctx.hub.world.lock:
        if r.git.branch_sha(branch) is not None:
            raise ApiError(422, "Reference already exists")
        r.git.set_branch(branch, sha, None)
        ref_updated(ctx.hub, r, ref, None, sha, actor=actor)
    return Reply(201, ctx.hub.render.git_ref(r, ref, sha))


def get_commit(ctx: Ctx, owner: str, repo: str, ref: str) -> Reply:
    r = ctx.hub.repo(owner, repo)
    sha = r.git.resolve(ref)
    if sha is None:
        raise ApiError(422, f"No commit found for SHA: {ref}")
    info = r.git.commit(sha)
    body = ctx.hub.render.commit(r, info, ctx.hub.verification(r, sha))
    if info.parents:
        files = r.git.diff(info.parents[0], sha)
        body["files"] = [ctx.hub.render.diff_entry(r, sha, f) for f in files]
        additions = sum(f.additions for f in files)
        deletions = sum(f.deletions for f in files)
        body["stats"] = {
            "additions": additions,
            "deletions": deletions,
            "total": additions + deletions,
        }
    return Reply(200, body)


# -- issue comments and labels ---------------------------------------------------------------


def get_issue(ctx: Ctx, owner: str, repo: str, issue_number: int) -> Reply:
    r = ctx.hub.repo(owner, repo)
    pull = ctx.hub.pull(r, issue_number)
    return Reply(200, ctx.hub.render.issue(r, pull), last_modified=pull.updated_at)


def list_comments(ctx: Ctx, owner: str, repo: str, issue_number: int) -> Reply:
    r = ctx.hub.repo(owner, repo)
    pull = ctx.hub.pull(r, issue_number)
    return paginate(ctx, pull.comments, lambda c: ctx.hub.render.comment(r, pull, c))


def create_comment(ctx: Ctx, owner: str, repo: str, issue_number: int) -> Reply:
    actor = ctx.actor()
    r = ctx.hub.repo(owner, repo)
    pull = ctx.hub.pull(r, issue_number)
    app = ctx.hub.world.apps.get(ctx.identity.app_id) if ctx.identity.app_id else None
    comment = ctx.hub.add_comment(
        r, pull, actor, str(ctx.json().get("body") or ""), app.slug if app else None
    )
    url = f"{ctx.hub.render.repo_url(r)}/issues/comments/{comment.id}"
    return Reply(201, ctx.hub.render.comment(r, pull, comment), {"Location": url})


def get_comment(ctx: Ctx, owner: str, repo: str, comment_id: int) -> Reply:
    r = ctx.hub.repo(owner, repo)
    pull, comment = ctx.hub.find_comment(r, comment_id)
    return Reply(200, ctx.hub.render.comment(r, pull, comment))


def edit_comment(ctx: Ctx, owner: str, repo: str, comment_id: int) -> Reply:
    actor = ctx.actor()
    r = ctx.hub.repo(owner, repo)
    body = ctx.hub.edit_comment(r, comment_id, actor, str(ctx.json().get("body") or ""))
    return Reply(200, body)


def delete_comment(ctx: Ctx, owner: str, repo: str, comment_id: int) -> Reply:
    """Anyone with write access may delete anyone's comment, as on GitHub; a sticky comment
    deleted this way is what a report must recover from."""
    actor = ctx.actor()
    r = ctx.hub.repo(owner, repo)
    with ctx.hub.world.lock:
        pull, comment = ctx.hub.find_comment(r, comment_id)
        if actor.lower() != comment.user.lower():
            ctx.hub.require(r, actor, "write")
        rendered = ctx.hub.render.comment(r, pull, comment)
        pull.comments.remove(comment)
        payload = {"action": "deleted", "issue": ctx.hub.render.issue(r, pull), "comment": rendered}
        ctx.hub.emit("issue_comment", r, actor, payload)
    return Reply(204, None)


def _label_names(ctx: Ctx) -> list[str]:
    # GitHub takes either a bare array or {"labels": [...]}; PyGithub sends the bare array.
    body: Any = ctx.json_any()
    if isinstance(body, dict):
        body = body.get("labels")
    if not isinstance(body, list) or not all(isinstance(x, str) for x in body):
        raise invalid("Label", "labels")
    return [str(x) for x in body]


def list_labels(ctx: Ctx, owner: str, repo: str, issue_number: int) -> Reply:
    r = ctx.hub.repo(owner, repo)
    pull = ctx.hub.pull(r, issue_number)
    return paginate(ctx, ctx.hub.render.labels_of(r, pull.labels))


def add_labels(ctx: Ctx, owner: str, repo: str, issue_number: int) -> Reply:
    actor = ctx.actor()
    r = ctx.hub.repo(owner, repo)
    pull = ctx.hub.pull(r, issue_number)
    ctx.hub.add_labels(r, pull, actor, _label_names(ctx))
    return Reply(200, ctx.hub.render.labels_of(r, pull.labels))


def set_labels(ctx: Ctx, owner: str, repo: str, issue_number: int) -> Reply:
    actor = ctx.actor()
    r = ctx.hub.repo(owner, repo)
    pull = ctx.hub.pull(r, issue_number)
    wanted = _label_names(ctx)
    with ctx.hub.world.lock:
        for name in list(pull.labels):
            if all(name.lower() != w.lower() for w in wanted):
                ctx.hub.remove_label(r, pull, actor, name)
        ctx.hub.add_labels(r, pull, actor, wanted)
    return Reply(200, ctx.hub.render.labels_of(r, pull.labels))


def remove_label(ctx: Ctx, owner: str, repo: str, issue_number: int, name: str) -> Reply:
    actor = ctx.actor()
    r = ctx.hub.repo(owner, repo)
    pull = ctx.hub.pull(r, issue_number)
    ctx.hub.remove_label(r, pull, actor, name)
    return Reply(200, ctx.hub.render.labels_of(r, pull.labels))


def remove_all_labels(ctx: Ctx, owner: str, repo: str, issue_number: int) -> Reply:
    actor = ctx.actor()
    r = ctx.hub.repo(owner, repo)
    pull = ctx.hub.pull(r, issue_number)
    for name in list(pull.labels):
        ctx.hub.remove_label(r, pull, actor, name)
    return Reply(204, None)


def list_repo_labels(ctx: Ctx, owner: str, repo: str) -> Reply:
    r = ctx.hub.repo(owner, repo)
    labels = sorted(r.labels.values(), key=lambda label: label.name.lower())
    return paginate(ctx, labels, lambda label: ctx.hub.render.label(r, label))


def create_repo_label(ctx: Ctx, owner: str, repo: str) -> Reply:
    actor = ctx.actor()
    r = ctx.hub.repo(owner, repo)
    ctx.hub.require(r, actor, "write")
    body = ctx.json()
    name = str(body.get("name") or "")
    if not name:
        raise invalid("Label", "name", "missing_field")
    with ctx.hub.world.lock:
        if name.lower() in r.labels:
            raise invalid("Label", "name", "already_exists")
        label = ctx.hub.label(r, name)
        label.color = str(body.get("color") or label.color).lstrip("#")
        label.description = body.get("description")
    return Reply(201, ctx.hub.render.label(r, label))


def get_repo_label(ctx: Ctx, owner: str, repo: str, name: str) -> Reply:
    r = ctx.hub.repo(owner, repo)
    label = r.labels.get(name.lower())
    if label is None:
        raise not_found()
    return Reply(200, ctx.hub.render.label(r, label))


# -- statuses and check runs -----------------------------------------------------------------


def create_status(ctx: Ctx, owner: str, repo: str, sha: str) -> Reply:
    actor = ctx.actor()
    r = ctx.hub.repo(owner, repo)
    status = ctx.hub.add_status(r, sha, actor, ctx.json())
    return Reply(201, ctx.hub.render.status(r, status))


def list_statuses(ctx: Ctx, owner: str, repo: str, ref: str) -> Reply:
    r = ctx.hub.repo(owner, repo)
    sha = r.git.resolve(ref)
    if sha is None:
        raise not_found()
    found = [s for s in reversed(r.statuses) if s.sha == sha]
    return paginate(ctx, found, lambda s: ctx.hub.render.status(r, s))


def _app_id(ctx: Ctx) -> int:
    if ctx.identity.app_id is None or ctx.identity.is_app_jwt:
        raise ApiError(403, "You must authenticate via a GitHub App.")
    return ctx.identity.app_id


def create_check_run(ctx: Ctx, owner: str, repo: str) -> Reply:
    app_id = _app_id(ctx)
    r = ctx.hub.repo(owner, repo)
    run = ctx.hub.create_check_run(r, app_id, ctx.json())
    return Reply(201, ctx.hub.render.check_run(r, run))


def update_check_run(ctx: Ctx, owner: str, repo: str, check_run_id: int) -> Reply:
    app_id = _app_id(ctx)
    r = ctx.hub.repo(owner, repo)
    run = ctx.hub.update_check_run(r, check_run_id, app_id, ctx.json())
    return Reply(200, ctx.hub.render.check_run(r, run))


def get_check_run(ctx: Ctx, owner: str, repo: str, check_run_id: int) -> Reply:
    r = ctx.hub.repo(owner, repo)
    run = r.check_runs.get(check_run_id)
    if run is None:
        raise not_found()
    return Reply(200, ctx.hub.render.check_run(r, run))


def list_check_runs(ctx: Ctx, owner: str, repo: str, ref: str) -> Reply:
    r = ctx.hub.repo(owner, repo)
    sha = r.git.resolve(ref)
    if sha is None:
        raise ApiError(422, f"No commit found for SHA: {ref}")
    args = ctx.request.args
    runs = [run for run in r.check_runs.values() if run.head_sha == sha]
    runs.sort(key=lambda run: run.id, reverse=True)
    if args.get("filter", "latest") == "latest":
        latest: dict[tuple[int, str], Any] = {}
        for run in runs:
            latest.setdefault((run.app_id, run.name), run)
        runs = list(latest.values())
    if args.get("check_name"):
        runs = [run for run in runs if run.name == args["check_name"]]
    if args.get("status"):
        runs = [run for run in runs if run.status == args["status"]]
    page = paginate(ctx, runs, lambda run: ctx.hub.render.check_run(r, run))
    page.body = {"total_count": len(runs), "check_runs": page.body}
    return page


ROUTES = [
    ("GET", "/repos/{owner}/{repo}", get_repo),
    ("POST", "/repos/{owner}/{repo}/forks", create_fork),
    ("GET", "/repos/{owner}/{repo}/contents", get_contents),
    ("GET", "/repos/{owner}/{repo}/contents/{path}", get_contents),
    ("GET", "/repos/{owner}/{repo}/git/ref/{ref}", get_ref),
    ("GET", "/repos/{owner}/{repo}/git/matching-refs/{ref}", matching_refs),
    ("GET", "/repos/{owner}/{repo}/git/refs", legacy_refs),
    ("GET", "/repos/{owner}/{repo}/git/refs/{ref}", legacy_refs),
    ("POST", "/repos/{owner}/{repo}/git/refs", create_ref),
    ("GET", "/repos/{owner}/{repo}/commits/{ref}", get_commit),
    ("GET", "/repos/{owner}/{repo}/issues/{issue_number}", get_issue),
    ("GET", "/repos/{owner}/{repo}/issues/{issue_number}/comments", list_comments),
    ("POST", "/repos/{owner}/{repo}/issues/{issue_number}/comments", create_comment),
    ("GET", "/repos/{owner}/{repo}/issues/comments/{comment_id}", get_comment),
    ("PATCH", "/repos/{owner}/{repo}/issues/comments/{comment_id}", edit_comment),
    ("DELETE", "/repos/{owner}/{repo}/issues/comments/{comment_id}", delete_comment),
    ("GET", "/repos/{owner}/{repo}/issues/{issue_number}/labels", list_labels),
    ("POST", "/repos/{owner}/{repo}/issues/{issue_number}/labels", add_labels),
    ("PUT", "/repos/{owner}/{repo}/issues/{issue_number}/labels", set_labels),
    ("DELETE", "/repos/{owner}/{repo}/issues/{issue_number}/labels", remove_all_labels),
    ("DELETE", "/repos/{owner}/{repo}/issues/{issue_number}/labels/{name}", remove_label),
    ("GET", "/repos/{owner}/{repo}/labels", list_repo_labels),
    ("POST", "/repos/{owner}/{repo}/labels", create_repo_label),
    ("GET", "/repos/{owner}/{repo}/labels/{name}", get_repo_label),
    ("POST", "/repos/{owner}/{repo}/statuses/{sha}", create_status),
    ("GET", "/repos/{owner}/{repo}/commits/{ref}/statuses", list_statuses),
    ("GET", "/repos/{owner}/{repo}/statuses/{ref}", list_statuses),
    ("POST", "/repos/{owner}/{repo}/check-runs", create_check_run),
    ("GET", "/repos/{owner}/{repo}/check-runs/{check_run_id}", get_check_run),
    ("PATCH", "/repos/{owner}/{repo}/check-runs/{check_run_id}", update_check_run),
    ("GET", "/repos/{owner}/{repo}/commits/{ref}/check-runs", list_check_runs),
]
