"""``sealgate run --check --online`` against the loopback GitHub and Kubernetes servers:
GitHub authenticates and shows the repository and its rules, the environments' key ids
are in the key directory, every cluster answers, its namespaces exist and access is
allowed; whatever it could not check it says."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from controller.cli import main
from controller.cli.exit_codes import ExitCode
from controller.sandbox.github_server import GitHubApiServer
from controller.sandbox.kube_server import KubeApiServer
from tests.integration.installation import (
    Installation,
    config_text,
    kubeconfig_text,
    make_installation,
)

POLICY = b"""\
apiVersion: sealgate.dev/v1
kind: ApprovalPolicy
metadata: {name: production}
spec:
  environments: [production]
  secrets: ["**"]
  approvals: {required: 1, users: [bob]}
"""
LEADER = """\
leaderElection:
  enabled: true
  cluster: local
  namespace: sealgate
"""


@dataclass
class Online:
    installed: Installation
    github: GitHubApiServer
    kube: KubeApiServer
    token: str

    def environment(
        self,
        *,
        keys: list[str] | None = None,
        namespaces: str = "[payments]",
        clusters: str = "[local]",
    ) -> None:
        ids = keys or [self.installed.key_id]
        entries = "".join(
            f"    - id: {key_id}\n      publicKey: {self.installed.public_key}\n" for key_id in ids
        )
        text = (
            "apiVersion: sealgate.dev/v1\nkind: Environment\nmetadata:\n  name: production\n"
            f"spec:\n  sealingKeys:\n{entries}  namespaces: {namespaces}\n"
            f"  clusters: {clusters}\n"
        )
        self.github.create_repo(
            "acme",
            "requests",
            {"environments/production.yaml": text.encode(), "policies/production.yaml": POLICY},
            author="alice",
        )

    def check(self, *, token: str | None = None, extra: str = LEADER) -> tuple[int, str]:
        self.installed.config.write_text(config_text(github_url=self.github.url, extra=extra))
        result = CliRunner().invoke(
            main,
            ["run", "--config", str(self.installed.config), "--check", "--online"],
            env={"GH_TOKEN": token or self.token, "HOOK_SECRET": "hook-456"},
        )
        return result.exit_code, result.output


@pytest.fixture
def online(tmp_path: Path) -> Iterator[Online]:
    kube = KubeApiServer()
    kube.start()
    github = GitHubApiServer(tmp_path / "github")
    github.start()
    try:
        installed = make_installation(tmp_path / "install")
        installed.kubeconfig.unlink()
        kube.write_kubeconfig(installed.kubeconfig)
        token = github.add_user("alice")
        github.add_user("bob")
        github.add_org("acme")
        kube.create_namespace("payments")
        kube.create_namespace("sealgate")
        yield Online(installed, github, kube, token)
    finally:
        github.stop()
        kube.stop()


def test_a_reachable_installation_passes_and_says_what_it_did_not_check(online: Online) -> None:
    online.environment()
    code, output = online.check()
    assert code == 0, output
    assert "reached GitHub and every cluster" in output
    assert "note: github.token: authenticated and the repository is visible" in output
    assert "note: clusters[0]: cluster local: update and delete of Secrets" in output
    # Proven with dry runs: nothing was created.
    assert online.kube.list("v1", "Secret", "payments") == []
    assert online.kube.list("coordination.k8s.io/v1", "Lease", "sealgate") == []


def test_every_problem_github_and_the_cluster_show(online: Online) -> None:
    online.environment(
        keys=[online.installed.key_id, "production-2020-01-gone"],
        namespaces='[payments, web, "team-*"]',
        clusters="[local, far-away]",
    )
    online.kube.forbid("list", "secrets", "payments")
    code, output = online.check(extra=LEADER.replace("namespace: sealgate", "namespace: absent"))
    assert code == ExitCode.INVALID
    lines = output.splitlines()

    def has(*parts: str) -> bool:
        return any(all(p in line for p in parts) for line in lines)

    assert has("keys.dir: ", "lists sealing key production-2020-01-gone", "does not hold"), output
    assert has(
        "clusters: environment production syncs to cluster far-away, which is not configured"
    )
    assert has("clusters[0]: cluster local: namespace web does not exist: create it")
    assert has(
        "clusters[0]: cluster local: namespace payments: may not list Secrets (HTTP 403)",
        "deploy/rbac/",
    ), output
    assert has("leader Lease absent/sealgate-controller: namespace absent does not exist")
    assert has("note: clusters[0]: environment production: namespaces matching team-* were not")
    assert "5 problems: the controller would not start" in output


def test_github_refusing_the_token_and_a_silent_cluster(online: Online, tmp_path: Path) -> None:
    online.environment()
    online.installed.kubeconfig.write_text(kubeconfig_text("http://127.0.0.1:9"))
    code, output = online.check(token="ghp_not-a-token", extra="")
    assert code == ExitCode.INVALID
    assert f"{online.installed.config}: github.token: " in output
    assert "the credentials, and that acme/requests exists and they may read it" in output
    assert "note: github.repository: the rules could not be read" in output
    assert "cluster local: the API at http://127.0.0.1:9 does not answer" in output
    assert "ghp_not-a-token" not in output


def test_json_output_lists_problems_and_notes(online: Online) -> None:
    online.environment(namespaces="[payments, web]")
    online.installed.config.write_text(config_text(github_url=online.github.url))
    result = CliRunner().invoke(
        main,
        ["run", "--config", str(online.installed.config), "--check", "--online", "-o", "json"],
        env={"GH_TOKEN": online.token, "HOOK_SECRET": "hook-456"},
    )
    assert result.exit_code == ExitCode.INVALID
    body = json.loads(result.stdout)
    assert body["online"] is True
    levels = {(p["setting"], p["level"]) for p in body["problems"]}
    assert ("clusters[0]", "error") in levels
    assert ("clusters[0]", "note") in levels
