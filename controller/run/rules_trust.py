"""``sealgate rules trust``: an operator trusts the rules at a commit, after an out-of-band
change was reviewed (or reverted to rules that were never trusted in this form)."""

from __future__ import annotations

from dataclasses import dataclass

from controller.config import ControllerConfig
from controller.documents import rules_digest
from controller.github import GitHubGateway
from controller.keyring import Keyring, LocalKekFile
from controller.reconciler.trust import OPERATOR
from controller.run.wiring import github_client
from controller.store import Store


@dataclass(frozen=True, slots=True)
class Trusted:
    repository: str
    ref: str
    sha: str
    digest: str
    files: tuple[str, ...]
    """The rule files the digest covers, by path."""


def trust_rules(config: ControllerConfig, *, sha: str | None, actor: str, reason: str) -> Trusted:
    """Trust the rules at ``sha`` (the default branch's tip when None); audited in the
    store with ``actor`` and ``reason``. Raises SealgateError when GitHub or the store fail."""
    repo = config.github.repository
    gateway = GitHubGateway(github_client(config))
    try:
        current = gateway.current_rules(repo)
        ref = current.branch
        if sha is None or sha == current.sha:
            sha, files = current.sha, current.files
        else:
            files = gateway.rules_at(repo, sha)
    finally:
        gateway.client.close()
    digest = rules_digest(files)
    kek = LocalKekFile(config.keys.kek_file)
    with Store(
        config.store.path, kek, Keyring(config.keys.dir, kek), remote=config.store.remote
    ) as store:
        store.trust_rules(
            digest, how=OPERATOR, repo=repo, ref=ref, sha=sha, actor=actor, reason=reason
        )
    return Trusted(repo, ref, sha, digest, tuple(sorted(files)))
