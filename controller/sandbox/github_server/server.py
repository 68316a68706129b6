"""`GitHubApiServer`: start and stop the loopback GitHub, and drive it from Python (control API).

PyGithub talks to it with ``Github(base_url=server.url, auth=Auth.Token(token))``. The API is
served at the root, as api.github.com serves it, and also under ``/api/v3`` as GitHub
Enterprise Server serves it, so ``base_url=server.url + "/api/v3"`` works too. In tests, pass
``retry=None`` (or a small `GithubRetry`) and ``seconds_between_requests=None,
seconds_between_writes=None``: PyGithub otherwise pauses 0.25 s before every read and 1 s
before every write, and sleeps through rate-limit answers.

Personal tokens come from `add_user`; an app registered with `register_app` gets installation
tokens through the real flow (RS256 app JWT -> ``POST /app/installations/{id}/access_tokens``)
and acts as ``<slug>[bot]``. Check runs, as on GitHub, can only be written by an app.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from datetime import timedelta
from pathlib import Path
from types import TracebackType
from typing import Any

from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from controller.sandbox.github_server.actions import Hub
from controller.sandbox.github_server.app import GitHubApp, RequestRecord
from controller.sandbox.github_server.git_http import GitHttp
from controller.sandbox.github_server.latency import Latency, LatencyInjector
from controller.sandbox.github_server.limits import Fault, Faults, RateLimiter
from controller.sandbox.github_server.render import Renderer
from controller.sandbox.github_server.state import Activity, App, Team, World, now
from controller.sandbox.github_server.webhooks import Delivery, WebhookSender

PERMISSIONS = ("read", "triage", "write", "maintain", "admin")


class _QuietHandler(WSGIRequestHandler):
    """Keeps one access-log line per API call out of test and sandbox output."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return


class GitHubApiServer:
    """A stateful GitHub REST API on 127.0.0.1, backed by bare git repositories under `root`."""

    def __init__(self, root: Path, *, latency: Latency | None = None) -> None:
        """``latency``: every answer takes this long, as api.github.com's do (about 100 ms)."""
        self.root = root
        self.url = ""
        self._world = World()
        self._render = Renderer(self._world, "http://127.0.0.1")
        self._hooks = WebhookSender()
        self._hub = Hub(root, self._world, self._render, self._hooks)
        self._limiter = RateLimiter()
        self._faults = Faults()
        self._latency = LatencyInjector(latency)
        self._app = GitHubApp(self._hub, self._limiter, self._faults, self._latency)
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._world.add_account("web-flow", "User")

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> str:
        """Serve on a free loopback port; returns the base URL, e.g. ``http://127.0.0.1:PORT``."""
        if self._server is not None:
            return self.url
        self.root.mkdir(parents=True, exist_ok=True)
        # GitHub Enterprise Server serves the same API under /api/v3; answer both spellings.
        api = DispatcherMiddleware(self._app, {"/api/v3": self._app})
        wsgi = GitHttp(api, self._hub)
        self._server = make_server(
            "127.0.0.1", 0, wsgi, threaded=True, request_handler=_QuietHandler
        )
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._render.origin = self.url
        self._render.web = self.url
        self._hooks.start()
        # A short poll keeps stop() quick; serve_forever only checks for shutdown between polls.
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="github-api",
            daemon=True,
        )
        self._thread.start()
        return self.url

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        self._hooks.stop()

    def __enter__(self) -> GitHubApiServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- accounts -------------------------------------------------------------------------

    def add_user(self, login: str, *, emails: Sequence[str] = ()) -> str:
        """Create the account (if new) and return a fresh personal access token for it.

        `emails` become the account's verified addresses: commits that carry one link to it.
        Every account also owns ``<id>+<login>@users.noreply.github.com`` (`noreply_email`).
        """
        with self._world.lock:
            user = self._world.add_account(login, "User")
            for email in emails:
                self.add_email(user.login, email)
            token = self._world.new_token("ghp_")
            self._world.personal_tokens[token] = user.login
            return token

    def delete_user(self, login: str) -> None:
        """Delete the account: its tokens stop working; what it wrote REST shows as
        ``ghost``'s and GraphQL with a null author, as GitHub does."""
        self._world.delete_account(login)

    def add_email(self, login: str, email: str) -> None:
        """Add a verified address; as on GitHub, one address belongs to one account only."""
        address = email.strip().lower()
        with self._world.lock:
            user = self._world.user(login)
            if user is None:
                raise ValueError(f"unknown user {login}")
            owner = self._world.account_for_email(address)
            if owner is not None and owner is not user:
                raise ValueError("email is already in use by another account")
            if address not in user.emails:
                user.emails.append(address)

    def noreply_email(self, login: str) -> str:
        with self._world.lock:
            user = self._world.user(login)
            if user is None:
                raise ValueError(f"unknown user {login}")
            return user.noreply_email

    def add_signing_key(self, login: str, public_key: str) -> None:
        """Register an SSH public key (one ``authorized_keys`` line) as a signing key."""
        parts = public_key.split()
        if len(parts) < 2 or not parts[0].startswith(("ssh-", "ecdsa-", "sk-")):
            raise ValueError("not an SSH public key line")
        with self._world.lock:
            user = self._world.user(login)
            if user is None:
                raise ValueError(f"unknown user {login}")
            if public_key.strip() not in user.signing_keys:
                user.signing_keys.append(public_key.strip())

    def git_url(self, owner: str, repo: str, token: str | None = None) -> str:
        """The clone URL; with `token`, carrying ``x-access-token:<token>`` for pushes."""
        host = self.url.removeprefix("http://")
        auth = f"x-access-token:{token}@" if token else ""
        return f"http://{auth}{host}/{owner}/{repo}.git"

    def add_org(self, login: str) -> None:
        self._world.add_account(login, "Organization")

    def add_team(self, org: str, slug: str, members: Sequence[str]) -> None:
        with self._world.lock:
            if self._world.user(org) is None:
                raise ValueError(f"unknown organisation {org}")
            team = Team(self._world.next_id(), org, slug, [])
            self._world.teams[(org.lower(), slug.lower())] = team
            self.set_team_members(org, slug, members)

    def set_team_members(self, org: str, slug: str, members: Sequence[str]) -> None:
        with self._world.lock:
            team = self._world.teams[(org.lower(), slug.lower())]
            logins = []
            for member in members:
                user = self._world.user(member)
                if user is None:
                    raise ValueError(f"unknown user {member}")
                logins.append(user.login)
            team.members = logins

    # -- repositories ---------------------------------------------------------------------

    def create_repo(
        self,
        owner: str,
        name: str,
        files: Mapping[str, bytes],
        *,
        default_branch: str = "main",
        author: str | None = None,
    ) -> None:
        self._hub.create_repo(owner, name, files, default_branch, author)

    def add_collaborator(
        self, owner: str, repo: str, login: str, permission: str = "write"
    ) -> None:
        if permission not in PERMISSIONS:
            raise ValueError(f"permission must be one of {PERMISSIONS}")
        with self._world.lock:
            user = self._world.user(login)
            if user is None:
                raise ValueError(f"unknown user {login}")
            self._hub.repo(owner, repo).collaborators[user.login.lower()] = permission

    def push(
        self,
        owner: str,
        repo: str,
        branch: str,
        files: Mapping[str, bytes | None],
        *,
        message: str,
        author: str,
        base: str | None = None,
        web: bool = False,
    ) -> str:
        """Commit `files` on `branch` (None deletes); fires `synchronize` for its open pulls.

        The commit is `author`'s and so is the push (unsigned); with `web` it is made as a
        web edit: committed and signed by GitHub (`verified`), still pushed by `author`.
        """
        return self._hub.push(
            self._hub.repo(owner, repo),
            branch,
            files,
            message=message,
            author=author,
            base=base,
            web=web,
        )

    def open_pull_request(
        self,
        owner: str,
        repo: str,
        *,
        head: str,
        base: str = "main",
        title: str,
        author: str,
        body: str = "",
    ) -> int:
        r = self._hub.repo(owner, repo)
        return self._hub.open_pull(
            r, head=head, base=base, title=title, author=author, body=body
        ).number

    # -- apps and webhooks ----------------------------------------------------------------

    def register_app(
        self, app_id: int, slug: str, public_key_pem: bytes, *, installation_id: int, owner: str
    ) -> None:
        """Register a GitHub App installed on `owner`; it acts as the account ``<slug>[bot]``."""
        with self._world.lock:
            if self._world.user(owner) is None:
                raise ValueError(f"unknown owner {owner}")
            bot = self._world.add_account(f"{slug}[bot]", "Bot")
            self._world.apps[app_id] = App(
                app_id, slug, public_key_pem, installation_id, owner, bot.login, now()
            )

    def set_installation_token_lifetime(self, seconds: int) -> None:
        """Shorten (or restore, 3600) the lifetime of installation tokens issued from now on."""
        with self._world.lock:
            self._world.installation_token_lifetime = timedelta(seconds=seconds)

    def set_webhook(self, url: str, secret: str) -> None:
        self._hooks.configure(url, secret)

    @property
    def deliveries(self) -> list[Delivery]:
        return self._hooks.deliveries

    def wait_for_deliveries(self, timeout: float = 10.0) -> bool:
        """Block until every queued webhook was attempted; False on timeout."""
        return self._hooks.wait(timeout)

    def redeliver(self, delivery_id: str) -> None:
        self._hooks.redeliver(delivery_id)

    def rerequest_check_run(self, owner: str, repo: str, check_run_id: int, sender: str) -> None:
        """What the "Re-run" button does: a `check_run` `rerequested` webhook."""
        self._hub.rerequest_check_run(self._hub.repo(owner, repo), check_run_id, sender)

    # -- faults and limits ----------------------------------------------------------------

    def inject_faults(
        self,
        *,
        status: int,
        count: int,
        path_contains: str | None = None,
        retry_after: int | None = None,
        delay_seconds: float = 0.0,
        method: str | None = None,
        graphql: str | None = None,
    ) -> None:
        """Answer the next `count` matching requests (of `method`, when given; GraphQL
        documents of kind `graphql`, ``query`` or ``mutation``, when given) with `status`
        after `delay_seconds`.

        403 and 429 are secondary rate limits (with `Retry-After` when given); 5xx are server
        errors; a status below 400 only delays an otherwise normal answer.
        """
        self._faults.add(
            Fault(status, count, path_contains, retry_after, delay_seconds, method, graphql)
        )

    def clear_faults(self) -> None:
        self._faults.clear()

    def set_rate_limit(self, limit: int, *, remaining: int | None = None) -> None:
        """Reset every caller's hourly budget to `limit` (starting at `remaining` if given)."""
        self._limiter.configure(limit, remaining)

    def set_latency(self, seconds: float, jitter: float = 0.0) -> None:
        """From now on every answer takes ``seconds`` ± ``jitter``."""
        self._latency.set(Latency(seconds, jitter))

    @property
    def request_log(self) -> list[RequestRecord]:
        return self._app.request_log

    def reset_request_log(self) -> None:
        self._app.reset_request_log()

    # -- read-only state for tests --------------------------------------------------------

    def pull(self, owner: str, repo: str, number: int) -> dict[str, Any]:
        with self._world.lock:
            r = self._hub.repo(owner, repo)
            return self._hub.pull_json(r, self._hub.pull(r, number))

    def activity(self, owner: str, repo: str) -> list[Activity]:
        """Every ref update of the repository, oldest first, with the account that made it."""
        with self._world.lock:
            return list(self._hub.repo(owner, repo).activity)

    def check_runs(self, owner: str, repo: str, sha: str) -> list[dict[str, Any]]:
        with self._world.lock:
            r = self._hub.repo(owner, repo)
            runs = sorted(
                (c for c in r.check_runs.values() if c.head_sha == sha), key=lambda c: c.id
            )
            return [self._render.check_run(r, c) for c in runs]

    def comments(self, owner: str, repo: str, number: int) -> list[dict[str, Any]]:
        with self._world.lock:
            r = self._hub.repo(owner, repo)
            pull = self._hub.pull(r, number)
            return [self._render.comment(r, pull, c) for c in pull.comments]

    def reviews(self, owner: str, repo: str, number: int) -> list[dict[str, Any]]:
        with self._world.lock:
            r = self._hub.repo(owner, repo)
            pull = self._hub.pull(r, number)
            return [self._render.review(r, pull, v) for v in pull.reviews]

    def labels(self, owner: str, repo: str, number: int) -> list[str]:
        with self._world.lock:
            r = self._hub.repo(owner, repo)
            return list(self._hub.pull(r, number).labels)

    def branch_sha(self, owner: str, repo: str, branch: str) -> str:
        with self._world.lock:
            sha = self._hub.repo(owner, repo).git.branch_sha(branch)
            if sha is None:
                raise KeyError(branch)
            return sha

    def read_file(self, owner: str, repo: str, ref: str, path: str) -> bytes | None:
        with self._world.lock:
            r = self._hub.repo(owner, repo)
            sha = r.git.resolve(ref)
            if sha is None:
                raise KeyError(ref)
            entry = r.git.entry(sha, path)
            return entry.data if entry is not None and not isinstance(entry, list) else None
