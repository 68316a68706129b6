"""Shared pieces for the loopback GitHub tests: a checked server, seeding, a webhook receiver.

Every test that uses the `github` fixture has every JSON body the server answered validated
against GitHub's own description after the test, by the documented path, method and status.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from github import Auth, Github
from jsonschema import Draft4Validator
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from controller.sandbox.github_server import Delivery, GitHubApiServer, RequestRecord
from tests.api_specs import (
    _github_components,
    _github_spec,
    github_schema_validator,
    github_validator,
    problems,
)

OWNER = "acme"
REPO = "requests"
FULL = f"{OWNER}/{REPO}"

# Operations outside the trimmed description, validated against the schema GitHub documents
# for them elsewhere ("[name]" means an array of that schema).
UNDOCUMENTED: dict[tuple[str, str], str] = {
    ("POST", "/repos/{owner}/{repo}/pulls"): "pull-request",
    # repos/create-fork (202): GitHub documents its answer as a `full-repository`.
    ("POST", "/repos/{owner}/{repo}/forks"): "full-repository",
    ("GET", "/repos/{owner}/{repo}/pulls/{pull_number}/reviews/{review_id}"): "pull-request-review",
    ("GET", "/repos/{owner}/{repo}/issues/comments/{comment_id}"): "issue-comment",
    ("PUT", "/repos/{owner}/{repo}/issues/{issue_number}/labels"): "[label]",
    ("DELETE", "/repos/{owner}/{repo}/issues/{issue_number}/labels/{name}"): "[label]",
    ("GET", "/repos/{owner}/{repo}/labels"): "[label]",
    ("POST", "/repos/{owner}/{repo}/labels"): "label",
    ("GET", "/repos/{owner}/{repo}/labels/{name}"): "label",
    ("GET", "/repos/{owner}/{repo}/commits/{ref}/statuses"): "[status]",
    ("GET", "/repos/{owner}/{repo}/statuses/{ref}"): "[status]",
    ("GET", "/repos/{owner}/{repo}/check-runs/{check_run_id}"): "check-run",
    ("POST", "/repos/{owner}/{repo}/git/refs"): "git-ref",
    ("GET", "/repos/{owner}/{repo}/git/refs"): "[git-ref]",
    ("GET", "/repos/{owner}/{repo}/commits/{ref}"): "commit",
    ("GET", "/repos/{owner}/{repo}/issues/{issue_number}"): "issue",
    ("GET", "/orgs/{org}/teams/{team_slug}"): "team",
    # `organization-full` is not in the trimmed description; it extends this one.
    ("GET", "/orgs/{org}"): "organization-simple-webhooks",
    ("GET", "/app"): "integration",
    ("GET", "/app/installations/{installation_id}"): "installation",
    ("GET", "/repos/{owner}/{repo}/activity"): "[activity]",
    # The imitation lists only the timeline's `review_dismissed` events.
    ("GET", "/repos/{owner}/{repo}/issues/{issue_number}/timeline"): (
        "[review-dismissed-issue-event]"
    ),
    # pulls/request-reviewers (201) and pulls/remove-requested-reviewers (200).
    ("POST", "/repos/{owner}/{repo}/pulls/{pull_number}/requested_reviewers"): (
        "pull-request-simple"
    ),
    ("DELETE", "/repos/{owner}/{repo}/pulls/{pull_number}/requested_reviewers"): (
        "pull-request-simple"
    ),
    ("GET", "/repos/{owner}/{repo}/pulls/{pull_number}/requested_reviewers"): (
        "pull-request-review-request"
    ),
    # repos/create-or-update-file-contents (201 created, 200 replaced).
    ("PUT", "/repos/{owner}/{repo}/contents/{path}"): "file-commit",
}

# GitHub's `pull-request-review-request` (operation pulls/list-requested-reviewers), which
# the trimmed description lacks; copied from GitHub's description.
REVIEW_REQUEST_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "users": {"type": "array", "items": {"$ref": "#/components/schemas/simple-user"}},
        "teams": {"type": "array", "items": {"$ref": "#/components/schemas/team"}},
    },
    "required": ["users", "teams"],
}

# GitHub's `activity` schema (operation repos/list-activities), which the trimmed description
# lacks; copied from GitHub's description, its actor reference resolved in the subset.
ACTIVITY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "node_id": {"type": "string"},
        "before": {"type": "string"},
        "after": {"type": "string"},
        "ref": {"type": "string"},
        "timestamp": {"type": "string", "format": "date-time"},
        "activity_type": {
            "type": "string",
            "enum": [
                "push",
                "force_push",
                "branch_deletion",
                "branch_creation",
                "pr_merge",
                "merge_queue_merge",
            ],
        },
        "actor": {"$ref": "#/components/schemas/nullable-simple-user"},
    },
    "required": [
        "id",
        "node_id",
        "before",
        "after",
        "ref",
        "timestamp",
        "activity_type",
        "actor",
    ],
}

# GitHub's `review-dismissed-issue-event` (one kind of `timeline-issue-events`, operation
# issues/list-events-for-timeline), which the trimmed description lacks; written after
# GitHub's description, its references resolved in the subset.
REVIEW_DISMISSED_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "node_id": {"type": "string"},
        "url": {"type": "string"},
        "actor": {"$ref": "#/components/schemas/simple-user"},
        "event": {"type": "string", "enum": ["review_dismissed"]},
        "commit_id": {"type": ["string", "null"]},
        "commit_url": {"type": ["string", "null"]},
        "created_at": {"type": "string", "format": "date-time"},
        "performed_via_github_app": {"$ref": "#/components/schemas/nullable-integration"},
        "dismissed_review": {
            "type": "object",
            "properties": {
                "state": {"type": "string"},
                "review_id": {"type": "integer"},
                "dismissal_message": {"type": ["string", "null"]},
                "dismissal_commit_id": {"type": "string"},
            },
            "required": ["state", "review_id", "dismissal_message"],
        },
    },
    "required": [
        "dismissed_review",
        "id",
        "node_id",
        "url",
        "actor",
        "event",
        "commit_id",
        "commit_url",
        "created_at",
        "performed_via_github_app",
    ],
}


# GitHub's `file-commit` (operation repos/create-or-update-file-contents), which the trimmed
# description lacks; written after GitHub's description.
_GIT_PERSON: dict[str, Any] = {
    "type": "object",
    "properties": {
        "date": {"type": "string"},
        "name": {"type": "string"},
        "email": {"type": "string"},
    },
}
FILE_COMMIT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["content", "commit"],
    "properties": {
        "content": {
            "type": ["object", "null"],
            "properties": {
                "name": {"type": "string"},
                "path": {"type": "string"},
                "sha": {"type": "string"},
                "size": {"type": "integer"},
                "url": {"type": "string"},
                "html_url": {"type": "string"},
                "git_url": {"type": "string"},
                "download_url": {"type": "string"},
                "type": {"type": "string"},
                "_links": {
                    "type": "object",
                    "properties": {
                        "self": {"type": "string"},
                        "git": {"type": "string"},
                        "html": {"type": "string"},
                    },
                },
            },
        },
        "commit": {
            "type": "object",
            "properties": {
                "sha": {"type": "string"},
                "node_id": {"type": "string"},
                "url": {"type": "string"},
                "html_url": {"type": "string"},
                "author": _GIT_PERSON,
                "committer": _GIT_PERSON,
                "message": {"type": "string"},
                "tree": {
                    "type": "object",
                    "properties": {"url": {"type": "string"}, "sha": {"type": "string"}},
                },
                "parents": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "url": {"type": "string"},
                            "html_url": {"type": "string"},
                            "sha": {"type": "string"},
                        },
                    },
                },
                "verification": {
                    "type": "object",
                    "properties": {
                        "verified": {"type": "boolean"},
                        "reason": {"type": "string"},
                        "signature": {"type": ["string", "null"]},
                        "payload": {"type": ["string", "null"]},
                        "verified_at": {"type": ["string", "null"]},
                    },
                },
            },
        },
    },
}


# Routes that are the same documented operation under another spelling.
ALIASES = {"/repos/{owner}/{repo}/contents": "/repos/{owner}/{repo}/contents/{path}"}


def _schema(name: str) -> Draft4Validator:
    if name == "activity":
        return Draft4Validator({**ACTIVITY_SCHEMA, "components": _github_components()})
    if name == "pull-request-review-request":
        return Draft4Validator({**REVIEW_REQUEST_SCHEMA, "components": _github_components()})
    if name == "file-commit":
        return Draft4Validator(FILE_COMMIT_SCHEMA)
    if name == "review-dismissed-issue-event":
        return Draft4Validator({**REVIEW_DISMISSED_SCHEMA, "components": _github_components()})
    if name == "issue":
        # The trimmed description has no `issue` schema; GitHub's issue_comment webhook
        # documents the same issue object.
        return github_schema_validator("webhook-issue-comment-created/properties/issue")
    return github_schema_validator(name)


def _named(name: str, body: Any) -> list[str]:
    if name.startswith("["):
        inner = name.strip("[]")
        if not isinstance(body, list):
            return [f"$: expected an array of {inner}"]
        found: list[str] = []
        for index, item in enumerate(body):
            found += [f"[{index}]{p}" for p in problems(_schema(inner), item)]
        return found
    return problems(_schema(name), body)


def _documented(method: str, template: str, status: int) -> Draft4Validator | None:
    operation = _github_spec()["paths"].get(template, {}).get(method.lower())
    if operation is None:
        return None
    response = operation["responses"].get(str(status))
    if response is None:
        return None
    if "$ref" in response:
        name = response["$ref"].rsplit("/", 1)[1]
        response = _github_spec()["components"]["responses"][name]
    if "application/json" not in response.get("content", {}):
        return None
    return github_validator(method, template, status)


def graphql_problems(body: Any) -> list[str]:
    """Why a GraphQL answer is not shaped as GitHub's: ``data`` and/or typed ``errors``."""
    if not isinstance(body, dict) or not body or set(body) - {"data", "errors"}:
        return ["$: expected an object of `data` and/or `errors`"]
    found: list[str] = []
    if "data" in body and not isinstance(body["data"], dict | None):
        found.append("$.data: expected an object or null")
    for index, error in enumerate(body.get("errors", [])):
        if not isinstance(error, dict) or not isinstance(error.get("message"), str):
            found.append(f"$.errors[{index}]: expected an object with a `message`")
            continue
        if set(error) - {"type", "code", "path", "locations", "message", "extensions"}:
            found.append(f"$.errors[{index}]: unexpected keys {sorted(error)}")
        if "path" in error and not all(isinstance(p, str | int) for p in error["path"]):
            found.append(f"$.errors[{index}].path: expected names and indexes")
    return found


def body_problems(record: RequestRecord) -> list[str]:
    """Why one logged answer does not match GitHub's description (empty when it does)."""
    if record.body is None or record.status == 304:
        return []
    where = f"{record.method} {record.path} -> {record.status}"
    if record.template == "/graphql" and record.status == 200:
        return [f"{where}: {p}" for p in graphql_problems(record.body)]
    if record.template is None:
        return [
            f"{where}: {p}" for p in problems(github_schema_validator("basic-error"), record.body)
        ]
    template = ALIASES.get(record.template, record.template)
    validator = _documented(record.method, template, record.status)
    if validator is not None:
        return [f"{where}: {p}" for p in problems(validator, record.body)]
    if record.status >= 400:
        return [
            f"{where}: {p}" for p in problems(github_schema_validator("basic-error"), record.body)
        ]
    # A ref lookup under /git/refs answers one object on an exact match.
    name = UNDOCUMENTED.get((record.method, record.template))
    if record.template == "/repos/{owner}/{repo}/git/refs/{ref}":
        name = "git-ref" if isinstance(record.body, dict) else "[git-ref]"
    if name is None:
        return [f"{where}: no schema known for {record.method} {record.template}"]
    return [f"{where}: {p}" for p in _named(name, record.body)]


# Events GitHub sends whose schema the trimmed description lacks, and the documented event
# whose body GitHub documents identically apart from `action` (and the `changes` it adds).
SAME_SHAPE = {
    "pull-request-unlabeled": "pull-request-labeled",
    "issue-comment-edited": "issue-comment-created",
}


def webhook_problems(delivery: Delivery) -> list[str]:
    name = f"{delivery.event.replace('_', '-')}-{delivery.action}"
    payload = delivery.payload
    if name in SAME_SHAPE:
        name = SAME_SHAPE[name]
        payload = {**payload, "action": name.rsplit("-", 1)[1]}
    schema = f"webhook-{name}"
    return [f"{schema}: {p}" for p in problems(github_schema_validator(schema), payload)]


@dataclass
class World:
    """A seeded loopback GitHub: an org repository, an author, approvers and a team."""

    server: GitHubApiServer
    tokens: dict[str, str] = field(default_factory=dict)

    def client(self, login: str) -> Github:
        return client(self.server.url, Auth.Token(self.tokens[login]))

    def open_change(
        self, branch: str = "change-1", files: Mapping[str, bytes | None] | None = None
    ) -> int:
        self.server.push(
            OWNER,
            REPO,
            branch,
            dict(files or {"changes/production/c1.yaml": b"kind: SecretChange\nid: c1\n"}),
            message="Propose c1",
            author="alice",
        )
        return self.server.open_pull_request(
            OWNER, REPO, head=branch, title="Rotate stripe key", author="alice", body="please"
        )


def client(url: str, auth: Auth.Auth) -> Github:
    """PyGithub without its politeness pauses (0.25 s a read, 1 s a write) and retries."""
    return Github(
        base_url=url,
        auth=auth,
        retry=None,
        seconds_between_requests=None,
        seconds_between_writes=None,
    )


def seed(server: GitHubApiServer) -> World:
    world = World(server)
    for login in ("alice", "bob", "carol", "dave"):
        world.tokens[login] = server.add_user(login)
    server.add_org(OWNER)
    server.add_team(OWNER, "approvers", ["bob", "carol"])
    server.create_repo(
        OWNER,
        REPO,
        {
            "README.md": b"requests\n",
            "policies/default.yaml": b"kind: ApprovalPolicy\nname: default\n",
            "environments/production.yaml": b"kind: Environment\nname: production\n",
        },
        author="carol",
    )
    server.add_collaborator(OWNER, REPO, "alice", "write")
    server.add_collaborator(OWNER, REPO, "bob", "write")
    server.add_collaborator(OWNER, REPO, "carol", "admin")
    server.add_collaborator(OWNER, REPO, "dave", "triage")
    return world


@pytest.fixture
def github(tmp_path: Path) -> Iterator[World]:
    """A started, seeded server; afterwards every JSON answer it gave is checked."""
    server = GitHubApiServer(tmp_path / "git")
    server.start()
    try:
        yield seed(server)
        found = [p for record in server.request_log for p in body_problems(record)]
        assert not found, "\n".join(found[:20])
        server.wait_for_deliveries(10)
        hooks = [p for d in server.deliveries for p in webhook_problems(d)]
        assert not hooks, "\n".join(hooks[:20])
    finally:
        server.stop()


@cache
def rsa_private_key(name: str = "app") -> tuple[str, bytes]:
    """An app key per name: the private PEM (for PyGithub), the public PEM (for the server).

    Kept for the session because generating RSA keys is the slowest step of these tests.
    """
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, public


@dataclass(frozen=True)
class Received:
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class _Quiet(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return


class Receiver:
    """A loopback webhook receiver that records each POST and answers with `status`."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.received: list[Received] = []
        self._lock = threading.Lock()
        self._server: BaseWSGIServer = make_server(
            "127.0.0.1", 0, self._app, threaded=True, request_handler=_Quiet
        )
        self.url = f"http://127.0.0.1:{self._server.server_port}/hooks"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def _app(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        with self._lock:
            self.received.append(Received(dict(request.headers), request.get_data()))
        return Response("", status=self.status)(environ, start_response)

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
