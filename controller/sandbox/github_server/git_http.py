"""`git fetch` and `git push` over smart HTTP at ``/<owner>/<repo>.git``, as github.com serves.

Requests are handed to `git http-backend` (CGI); nothing of the git protocol is written here.
Authentication is HTTP Basic with a token of the server's accounts as the password (or as the
user name with an empty password), as GitHub takes ``x-access-token:<token>`` or
``<login>:<token>``. Reading a (public) repository needs no credentials; pushing needs write
permission: 401 without credentials, 403 without the permission. After a receive-pack, every
ref that moved is attributed to the authenticated pusher (`pushes.received`).
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Iterable
from email.parser import BytesHeaderParser
from typing import Any

from werkzeug.wrappers import Request, Response

from controller.sandbox.github_server.actions import Hub
from controller.sandbox.github_server.auth import identify
from controller.sandbox.github_server.errors import ApiError
from controller.sandbox.github_server.pushes import received

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
GIT_PATH = re.compile(r"^/(?P<owner>[^/]+)/(?P<name>[^/]+?)\.git(?P<rest>/.*)?$")
RECEIVE = "git-receive-pack"
# Request headers git's smart protocol uses, passed to the CGI as HTTP_* variables.
PASSED_HEADERS = ("HTTP_CONTENT_ENCODING", "HTTP_GIT_PROTOCOL")


class GitHttp:
    """WSGI middleware: git's smart HTTP under ``/<owner>/<repo>.git``, the rest to `app`."""

    def __init__(self, app: WSGIApp, hub: Hub) -> None:
        self.app = app
        self.hub = hub

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        match = GIT_PATH.match(environ.get("PATH_INFO", ""))
        if match is None:
            return self.app(environ, start_response)
        request = Request(environ)
        response = self._serve(request, match["owner"], match["name"], match["rest"] or "/")
        return response(environ, start_response)

    def _serve(self, request: Request, owner: str, name: str, rest: str) -> Response:
        repo = self.hub.world.repo(owner, name)
        if repo is None:
            return _text(404, "Repository not found.\n")
        pushing = rest == f"/{RECEIVE}" or request.args.get("service") == RECEIVE
        try:
            login = self._login(request.headers.get("Authorization"))
        except ApiError:
            return _challenge(
                "Invalid username or token. "
                "Password authentication is not supported for Git operations.\n"
            )
        if pushing:
            if login is None:
                return _challenge("Authentication required.\n")
            with self.hub.world.lock:
                allowed = self.hub.world.at_least(self.hub.world.permission(repo, login), "write")
            if not allowed:
                return _text(403, f"Permission to {repo.full_name}.git denied to {login}.\n")
        body = request.get_data()
        env = self._cgi_env(request, repo.git.path, rest, login, len(body))
        if rest != f"/{RECEIVE}":
            return _cgi_response(_backend(env, body))
        assert login is not None
        # Refs are compared before and after under the world lock, so a merge or API push
        # made meanwhile is not attributed to this pusher.
        with self.hub.world.lock:
            before = repo.git.refs()
            out = _backend(env, body)
            after = repo.git.refs()
            received(self.hub, repo, login, before, after)
        return _cgi_response(out)

    def _login(self, authorization: str | None) -> str | None:
        if not authorization:
            return None
        scheme, _, encoded = authorization.strip().partition(" ")
        if scheme.lower() != "basic":
            raise ApiError(401, "Bad credentials")
        try:
            user, _, password = base64.b64decode(encoded.strip()).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise ApiError(401, "Bad credentials") from exc
        token = password or user
        identity = identify(self.hub.world, f"token {token}" if token else None)
        if identity.login is None:
            raise ApiError(401, "Bad credentials")
        return identity.login

    def _cgi_env(
        self, request: Request, repo_path: Any, rest: str, login: str | None, length: int
    ) -> dict[str, str]:
        root = os.path.dirname(os.path.dirname(str(repo_path)))
        relative = os.path.relpath(str(repo_path), root)
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "GIT_PROJECT_ROOT": root,
            "GIT_HTTP_EXPORT_ALL": "1",
            "PATH_INFO": f"/{relative}{rest}",
            "REQUEST_METHOD": request.method,
            "QUERY_STRING": request.query_string.decode(),
            "CONTENT_TYPE": request.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(length),
            "REMOTE_ADDR": request.remote_addr or "127.0.0.1",
            # Who may push was decided above; the backend is told to accept the push.
            "GIT_CONFIG_COUNT": "1",
            "GIT_CONFIG_KEY_0": "http.receivepack",
            "GIT_CONFIG_VALUE_0": "true",
        }
        if login is not None:
            env["REMOTE_USER"] = login
        for key in PASSED_HEADERS:
            value = request.environ.get(key)
            if value:
                env[key] = str(value)
        return env


def _backend(env: dict[str, str], body: bytes) -> bytes:
    git = shutil.which("git")
    if git is None:
        raise RuntimeError("git is not installed")
    done = subprocess.run(  # noqa: S603 - a fixed git command, no shell
        [git, "http-backend"], env=env, input=body, capture_output=True, check=False, timeout=120
    )
    return done.stdout


def _cgi_response(out: bytes) -> Response:
    """A CGI answer (headers, blank line, body) as a WSGI response."""
    split = re.search(rb"\r?\n\r?\n", out)
    if split is None:
        return _text(500, "git http-backend gave no answer\n")
    headers = BytesHeaderParser().parsebytes(out[: split.end()])
    body = out[split.end() :]
    status = 200
    raw_status = headers.get("Status")
    if raw_status:
        status = int(str(raw_status).split()[0])
    response = Response(body, status=status)
    for key, value in headers.items():
        if key.lower() != "status":
            response.headers[key] = str(value)
    return response


def _text(status: int, message: str) -> Response:
    return Response(message, status=status, content_type="text/plain; charset=utf-8")


def _challenge(message: str) -> Response:
    response = _text(401, message)
    response.headers["WWW-Authenticate"] = 'Basic realm="GitHub"'
    return response
