"""The sandbox's people: they seal, push and open pull requests, review and comment.

Each acts on the loopback GitHub through its REST API with their own personal token, the
way a person (or their tools) would on GitHub; a developer writes change files with
``sealgate propose``, so values are sealed by the same code a real developer runs, and
access requests by hand (they hold no value).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import requests
import yaml
from click.testing import CliRunner

from controller.cli.propose import propose
from controller.sandbox import observe
from controller.sandbox.observe import StoryFailed
from controller.sandbox.world import DEVELOPER, OWNER, REPO, SECRET, World

HTTP_TIMEOUT = 10.0
RETRIES = 6


def demo_values() -> dict[str, bytes]:
    """Fresh made-up values: the sandbox never needs a real credential."""
    return {
        "STRIPE_API_KEY": f"sk_live_sandbox_{secrets.token_hex(12)}".encode(),
        "STRIPE_WEBHOOK_SECRET": f"whsec_sandbox_{secrets.token_hex(12)}".encode(),
    }


class Person:
    """Someone acting on the loopback GitHub through its REST API with a personal token."""

    def __init__(self, world: World, login: str) -> None:
        self.login = login
        self._base = f"{world.github.url}/repos/{OWNER}/{REPO}"
        self._session = requests.Session()
        self._session.headers.update(
            {
                "Authorization": f"token {world.tokens[login]}",
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": "2022-11-28",
            }
        )

    def post(self, path: str, body: Mapping[str, Any]) -> requests.Response:
        """POST, retrying server errors and rate limits as a person clicking again would."""
        for attempt in range(RETRIES):
            answer = self._session.post(
                f"{self._base}{path}", json=dict(body), timeout=HTTP_TIMEOUT
            )
            limited = answer.status_code in (403, 429) and "Retry-After" in answer.headers
            if answer.status_code < 500 and not limited:
                return answer
            if attempt + 1 < RETRIES:
                wait = float(answer.headers.get("Retry-After", "0") or 0)
                time.sleep(min(max(wait, 0.2 * (attempt + 1)), 5.0))
        return answer

    def open_pull(self, head: str, title: str, body: str) -> int:
        answer = self.post("/pulls", {"head": head, "base": "main", "title": title, "body": body})
        answer.raise_for_status()
        return int(answer.json()["number"])

    def review(self, number: int, event: str, body: str = "") -> requests.Response:
        return self.post(f"/pulls/{number}/reviews", {"event": event, "body": body})

    def approve(self, number: int) -> None:
        self.review(number, "APPROVE", "Looks right to me.").raise_for_status()

    def comment(self, number: int, body: str) -> None:
        self.post(f"/issues/{number}/comments", {"body": body}).raise_for_status()

    def close(self) -> None:
        self._session.close()


CHANGE_REASON = "rotate the Stripe keys after the processor's key roll"


def write_change(
    world: World,
    values: Mapping[str, bytes],
    *,
    secret: str,
    environment: str,
    tier: str | None = None,
    reason: str = CHANGE_REASON,
) -> tuple[str, bytes]:
    """What a developer does: ``sealgate propose`` in a checkout, values on stdin."""
    checkout = world.workdir / "checkouts" / DEVELOPER
    env_file = checkout / "environments" / f"{environment}.yaml"
    env_file.parent.mkdir(parents=True, exist_ok=True)
    env_file.write_bytes(world.environment_files[f"environments/{environment}.yaml"])
    args = ["--env-file", str(env_file), "--secret", secret]
    if tier is not None:
        args += ["--tier", tier]
    for key in values:
        args += ["--set", key]
    args += ["--reason", reason]
    args += ["--out-dir", str(checkout / "changes")]
    stdin = b"".join(key.encode() + b"=" + value + b"\n" for key, value in values.items())
    result = CliRunner().invoke(propose, args, input=stdin, catch_exceptions=False)
    if result.exit_code != 0:
        raise StoryFailed("sealgate propose", result.output.strip() or "it failed")
    written = checkout.joinpath(result.output.strip().splitlines()[-1]).resolve()
    relative = written.relative_to(checkout.resolve()).as_posix()
    return relative, written.read_bytes()


@dataclass(frozen=True)
class Proposal:
    number: int
    branch: str
    head_sha: str
    path: str
    data: bytes


def open_change(
    world: World,
    developer: Person,
    values: Mapping[str, bytes],
    *,
    environment: str,
    secret: str = SECRET,
    tier: str | None = None,
    reason: str = CHANGE_REASON,
) -> Proposal:
    """Seal ``values`` into a change file, push it on a new branch, open a pull request."""
    path, data = write_change(
        world, values, secret=secret, environment=environment, tier=tier, reason=reason
    )
    if any(value in data for value in values.values()):
        raise StoryFailed("propose", "the change file holds a plaintext value")
    branch = f"{developer.login}/{environment}-{secret.replace('/', '-')}-{secrets.token_hex(3)}"
    world.github.push(
        OWNER,
        REPO,
        branch,
        {path: data},
        message=f"Change {secret} in {environment}",
        author=developer.login,
        base="main",
    )
    number = developer.open_pull(
        branch, f"Change {environment} {secret}", "Sealed with `sealgate propose`."
    )
    pr = observe.pull(world, number)
    head = str(pr["head"]["sha"])
    if pr["state"] != "open" or world.github.read_file(OWNER, REPO, head, path) != data:
        raise StoryFailed("propose", "the pull request or its file is not on GitHub")
    return Proposal(number, branch, head, path, data)


def open_request(
    world: World, requester: Person, path: str, data: bytes, *, title: str, body: str
) -> Proposal:
    """Push one file (an access request, written by hand) on a new branch and open a pull
    request for it."""
    branch = f"{requester.login}/{path.rsplit('/', 1)[-1].removesuffix('.yaml')}"
    branch += f"-{secrets.token_hex(3)}"
    world.github.push(
        OWNER, REPO, branch, {path: data}, message=title, author=requester.login, base="main"
    )
    number = requester.open_pull(branch, title, body)
    pr = observe.pull(world, number)
    head = str(pr["head"]["sha"])
    if pr["state"] != "open" or world.github.read_file(OWNER, REPO, head, path) != data:
        raise StoryFailed("access request", "the pull request or its file is not on GitHub")
    return Proposal(number, branch, head, path, data)


def access_request(
    name: str, *, environment: str, secret: str, reason: str, duration: str, subject: str
) -> bytes:
    """What a developer writes by hand to read ``secret`` for ``duration``: an
    ``AccessRequest`` delivered by ``sealgate open`` and as a Kubernetes Role for the
    ``User`` ``subject``."""
    document = {
        "apiVersion": "sealgate.dev/v1",
        "kind": "AccessRequest",
        "metadata": {"name": name},
        "spec": {
            "environment": environment,
            "secrets": [{"secret": secret}],
            "requester": DEVELOPER,
            "reason": reason,
            "duration": duration,
            "activateWithin": "24h",
            "deliver": ["open", "kubernetes"],
            "kubernetesSubject": {"kind": "User", "name": subject},
        },
    }
    return yaml.safe_dump(document, sort_keys=False).encode()
