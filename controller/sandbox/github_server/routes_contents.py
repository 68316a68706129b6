"""Writing through the REST API: a file by the contents API, a branch deleted by its ref.

``PUT /repos/{owner}/{repo}/contents/{path}`` commits one file on a branch as GitHub does for
API writes: authored by the caller, committed and signed by GitHub, answered with a
``file-commit`` (201 for a new file, 200 for a replaced one). Replacing needs the blob
``sha`` the caller last saw (422 without it, 409 when it is stale), so two writers cannot
silently overwrite each other. ``DELETE /repos/{owner}/{repo}/git/refs/{ref}`` removes a
branch (204) and, as on GitHub, closes the open pull requests whose head it was.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from controller.sandbox.github_server.context import Ctx, Reply
from controller.sandbox.github_server.errors import ApiError, invalid, unprocessable
from controller.sandbox.github_server.git_backend import GitError
from controller.sandbox.github_server.pushes import ref_updated
from controller.sandbox.github_server.state import Repo

Json = dict[str, Any]


def _decoded(text: Any) -> bytes:
    if not isinstance(text, str):
        raise invalid("Contents", "content", "missing_field")
    try:
        # GitHub accepts base64 wrapped at any width, as its own answers wrap it.
        return base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise unprocessable("content is not valid Base64") from exc


def _file_commit(ctx: Ctx, r: Repo, branch: str, path: str, sha: str) -> Json:
    entry = r.git.entry(sha, path)
    if entry is None or isinstance(entry, list):
        raise ApiError(500, "the file just written is not in its commit")
    content = ctx.hub.render.content(r, branch, entry)
    for field in ("content", "encoding"):
        content.pop(field, None)
    listed = ctx.hub.render.commit(r, r.git.commit(sha), ctx.hub.verification(r, sha))
    # A file-commit's `commit` is the git commit object, not the listed commit around it.
    git_commit = listed["commit"]
    return {
        "content": content,
        "commit": {
            "sha": sha,
            "node_id": listed["node_id"],
            "url": git_commit["url"],
            "html_url": listed["html_url"],
            "author": git_commit["author"],
            "committer": git_commit["committer"],
            "message": git_commit["message"],
            "tree": git_commit["tree"],
            "parents": listed["parents"],
            "verification": git_commit["verification"],
        },
    }


def put_contents(ctx: Ctx, owner: str, repo: str, path: str) -> Reply:
    actor = ctx.actor()
    r = ctx.hub.repo(owner, repo)
    ctx.hub.require(r, actor, "write")
    body = ctx.json()
    message = body.get("message")
    if not isinstance(message, str) or not message:
        raise invalid("Contents", "message", "missing_field")
    data = _decoded(body.get("content"))
    branch = str(body.get("branch") or r.default_branch)
    path = path.strip("/")
    if any(part in ("", ".", "..", ".git") for part in path.split("/")):
        raise unprocessable("path contains a malformed path component")
    with ctx.hub.world.lock:
        tip = r.git.branch_sha(branch)
        if tip is None:
            raise ApiError(404, f"Branch {branch} not found")
        existing = r.git.entry(tip, path)
        if isinstance(existing, list):
            raise unprocessable(f"{path} is a directory")
        given = body.get("sha")
        if existing is not None:
            if not given:
                raise ApiError(422, 'Invalid request.\n\n"sha" wasn\'t supplied.')
            if given != existing.sha:
                raise ApiError(409, f"{path} does not match {given}")
        try:
            sha = ctx.hub.push(
                r, branch, {path: data}, message=message, author=actor, base=None, web=True
            )
        except GitError as exc:
            raise ApiError(409, f"{branch} moved while writing {path}; try again") from exc
        answer = _file_commit(ctx, r, branch, path, sha)
    return Reply(201 if existing is None else 200, answer)


def delete_ref(ctx: Ctx, owner: str, repo: str, ref: str) -> Reply:
    actor = ctx.actor()
    r = ctx.hub.repo(owner, repo)
    ctx.hub.require(r, actor, "write")
    full = "refs/" + ref.strip("/")
    if not full.startswith("refs/heads/"):
        raise unprocessable("Reference does not exist")
    branch = full.removeprefix("refs/heads/")
    with ctx.hub.world.lock:
        old = r.git.branch_sha(branch)
        if old is None:
            raise unprocessable("Reference does not exist")
        if branch == r.default_branch:
            raise unprocessable("Cannot delete the default branch")
        r.git.delete_branch(branch, old)
        ref_updated(ctx.hub, r, full, old, None, actor=actor)
    return Reply(204, None)


ROUTES = [
    ("PUT", "/repos/{owner}/{repo}/contents/{path}", put_contents),
    ("DELETE", "/repos/{owner}/{repo}/git/refs/{ref}", delete_ref),
]
