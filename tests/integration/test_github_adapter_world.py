"""A requests repository on the loopback GitHub, the controller's side, and its people.

Shared by the GitHub adapter and flow tests (it holds no tests itself). The controller acts
as a GitHub App (check runs need one); people act through PyGithub with their own tokens.
"""

from __future__ import annotations

import base64
import dataclasses
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import github
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa, x25519

from controller.documents import Rules, check_changes, parse_changes, parse_rules
from controller.errors import DocumentError, Problem
from controller.github import GitHubClient, Reporter, RetryPolicy, SnapshotReader
from controller.github.report import ReportResult
from controller.github.snapshot import PullRequestSnapshot
from controller.github.summary import Summary, render_summary
from controller.model import Decision, SecretChange
from controller.policy import evaluate
from controller.policy.scope import covers
from controller.sandbox.github_server import GitHubApiServer, RequestRecord
from tests.api_specs import github_validator, problems

OWNER = "acme"
REPO = "requests"
FULL = f"{OWNER}/{REPO}"
APP_ID = 4242
INSTALLATION_ID = 4343
SLUG = "sealgate"
PEOPLE = ("alice", "bob", "carol", "dave", "erin", "mallory")
"""alice authors; bob and carol are listed approvers; dave approves through acme/secops;
erin may break glass; mallory is a collaborator no policy names."""

FAST_RETRY = RetryPolicy(
    attempts=3, backoff_factor=0.01, backoff_max=0.05, jitter=0.01, max_rate_limit_wait=2.0
)


def _x25519_public() -> str:
    raw = x25519.X25519PrivateKey.generate().public_key().public_bytes_raw()
    return base64.b64encode(raw).decode()


def environment_yaml() -> bytes:
    return (
        "apiVersion: sealgate.dev/v1\n"
        "kind: Environment\n"
        "metadata:\n  name: production\n"
        "spec:\n"
        "  sealingKeys:\n"
        f"    - id: k1\n      publicKey: {_x25519_public()}\n"
        "  defaultTier: sensitive\n"
        "  namespaces: ['*']\n"
    ).encode()


POLICY_YAML = b"""\
apiVersion: sealgate.dev/v1
kind: ApprovalPolicy
metadata:
  name: production
spec:
  environments: [production]
  secrets: ["**"]
  approvals:
    required: 1
    users: [bob, carol]
    teams: [acme/secops]
  enforcement: soft
  bypassers:
    users: [alice]
"""


def change_yaml(name: str, target: str = "payments/db", key: str = "password") -> bytes:
    return (
        "apiVersion: sealgate.dev/v1\n"
        "kind: SecretChange\n"
        f"metadata:\n  name: {name}\n"
        "spec:\n"
        "  environment: production\n"
        f"  secret: {target}\n"
        "  reason: rotate after the quarterly review\n"
        "  generate:\n"
        f"    {key}:\n      length: 40\n"
    ).encode()


@dataclass(frozen=True)
class Outcome:
    snapshot: PullRequestSnapshot
    decision: Decision
    changes: tuple[SecretChange, ...]
    problems: tuple[Problem, ...]
    summary: Summary
    report: ReportResult


def decide(
    snapshot: PullRequestSnapshot,
) -> tuple[Decision, tuple[SecretChange, ...], tuple[Problem, ...], Rules]:
    """Snapshot → decision through the real documents and policy modules."""
    found: list[Problem] = list(snapshot.problems)
    try:
        rules = parse_rules(snapshot.rule_files)
    except DocumentError as exc:
        found.extend(exc.problems)
        rules = Rules()
    changes: list[SecretChange] = []
    for path, data in sorted(snapshot.change_files.items()):
        try:
            changes.extend(parse_changes(path, data))
        except DocumentError as exc:
            found.extend(exc.problems)
    found.extend(check_changes(changes, rules))
    decision = evaluate(
        environments=rules.environments,
        policies=rules.policies,
        changes=changes,
        facts=snapshot.facts,
        problems=found,
    )
    return decision, tuple(changes), tuple(found), rules


def change_policies(
    decision: Decision, changes: Sequence[SecretChange], rules: Rules
) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for change in changes:
        tier = decision.tiers.get(change.path)
        if tier is not None:
            out[change.path] = [p.name for p in rules.policies if covers(p, change, tier)]
    return out


@dataclass
class World:
    server: GitHubApiServer
    tokens: dict[str, str]
    client: GitHubClient
    reader: SnapshotReader
    reporter: Reporter
    app_key_pem: str
    branches: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def url(self) -> str:
        return self.server.url

    def as_user(self, login: str) -> github.Github:
        return github.Github(
            base_url=self.url,
            auth=github.Auth.Token(self.tokens[login]),
            retry=None,
            seconds_between_requests=None,
            seconds_between_writes=None,
        )

    def pull_as(self, login: str, number: int) -> Any:
        return self.as_user(login).get_repo(FULL).get_pull(number)

    def open_pull(
        self, files: Mapping[str, bytes | None] | None = None, *, author: str = "alice"
    ) -> int:
        branch = f"change-{next(self.branches)}"
        files = files or {f"changes/production/{branch}.yaml": change_yaml(branch)}
        self.server.push(
            OWNER, REPO, branch, files, message=f"propose {branch}", author=author, base="main"
        )
        return self.server.open_pull_request(
            OWNER, REPO, head=branch, title=f"Rotate {branch}", author=author
        )

    def push(self, number: int, files: Mapping[str, bytes | None], *, author: str) -> str:
        branch = str(self.server.pull(OWNER, REPO, number)["head"]["ref"])
        return self.server.push(OWNER, REPO, branch, files, message="more", author=author)

    def approve(self, login: str, number: int, event: str = "APPROVE", body: str = "") -> None:
        pr = self.pull_as(login, number)
        head = next(c for c in pr.get_commits() if c.sha == pr.head.sha)
        pr.create_review(commit=head, event=event, body=body)

    def evaluate(self, number: int, fingerprints: Mapping[tuple[str, str], str] = {}) -> Outcome:
        snapshot = self.reader.fetch(FULL, number)
        decision, changes, found, rules = decide(snapshot)
        summary = render_summary(
            decision,
            changes,
            fingerprints=fingerprints,
            problems=found,
            change_policies=change_policies(decision, changes, rules),
        )
        report = self.reporter.report(snapshot, summary)
        return Outcome(snapshot, decision, changes, found, summary, report)

    def check_run(self, sha: str) -> dict[str, Any]:
        runs = [r for r in self.server.check_runs(OWNER, REPO, sha) if r["name"] == "sealgate"]
        assert runs, f"no sealgate check run on {sha[:12]}"
        return max(runs, key=lambda r: int(r["id"]))

    def sticky_comments(self, number: int) -> list[dict[str, Any]]:
        return [
            c
            for c in self.server.comments(OWNER, REPO, number)
            if str(c["body"]).startswith("<!-- sealgate:summary -->")
        ]


def build_world(root: Path) -> World:
    server = GitHubApiServer(root)
    server.start()
    tokens = {login: server.add_user(login) for login in PEOPLE}
    server.add_org(OWNER)
    server.add_team(OWNER, "secops", ["dave"])
    server.create_repo(
        OWNER,
        REPO,
        {
            "environments/production.yaml": environment_yaml(),
            "policies/production.yaml": POLICY_YAML,
            "README.md": b"# requests\n",
        },
        author="alice",
    )
    for login in PEOPLE:
        server.add_collaborator(OWNER, REPO, login, "admin" if login == "erin" else "write")
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    server.register_app(APP_ID, SLUG, public, installation_id=INSTALLATION_ID, owner=OWNER)
    client = GitHubClient.from_app(
        APP_ID, pem, INSTALLATION_ID, slug=SLUG, base_url=server.url, retry=FAST_RETRY
    )
    return World(
        server=server,
        tokens=tokens,
        client=client,
        reader=SnapshotReader(client),
        reporter=Reporter(client),
        app_key_pem=pem,
    )


def response_problems(records: Sequence[RequestRecord]) -> list[str]:
    """Every documented JSON answer in ``records`` that does not match GitHub's description."""
    found: list[str] = []
    for record in records:
        if record.template is None or record.body is None or record.status >= 300:
            continue
        try:
            validator = github_validator(record.method, record.template, record.status)
        except KeyError:
            continue  # an operation outside the description (e.g. DELETE of a label)
        found.extend(
            f"{record.method} {record.path} {record.status}: {p}"
            for p in problems(validator, record.body)
        )
    return found


def replace_facts(snapshot: PullRequestSnapshot, **changes: Any) -> PullRequestSnapshot:
    return dataclasses.replace(snapshot, facts=dataclasses.replace(snapshot.facts, **changes))


def test_the_seeded_documents_are_valid() -> None:
    """The fixtures above must parse, or every flow test would only ever see 'invalid'."""
    rules = parse_rules(
        {
            "environments/production.yaml": environment_yaml(),
            "policies/production.yaml": POLICY_YAML,
        }
    )
    (policy,) = rules.policies
    assert set(rules.environments) == {"production"}
    assert policy.steps[0].users == {"bob", "carol"}
    assert policy.steps[0].teams == {"acme/secops"}
    (change,) = parse_changes("changes/production/x.yaml", change_yaml("x"))
    assert change.path == "production/payments/db"
    assert check_changes([change], rules) == []
