"""What anyone may read from a copy of the store without its keys: versions, change ids and
key names of each secret (never a value, never opened).

``sealgate propose --store`` fills ``spec.baseVersion`` in from here and checks the version
a restore names. Nothing here is verified (that needs the data keys): the controller checks
everything again when it judges the pull request and when it applies it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import git

from controller.errors import InputError, Problem
from controller.store.secretfile import decode, file_path


@dataclass(frozen=True, slots=True)
class PublicVersion:
    version: int
    change_id: str
    keys: frozenset[str]


def public_history(store: Path, env: str, secret: str) -> list[PublicVersion]:
    """Every version of ``<env>/<secret>`` in the store at ``store`` (bare or a clone),
    newest first; empty when the secret does not exist there."""
    where = file_path(env, secret)
    try:
        repo = git.Repo(store)
    except (git.GitError, OSError) as exc:
        raise InputError(
            [Problem("--store", str(store), "is not a git repository: give the store's path")]
        ) from exc
    try:
        try:
            commits = list(repo.iter_commits("HEAD", paths=where))
        except (git.GitError, ValueError):
            return []  # an empty store: no commit yet
        versions: list[PublicVersion] = []
        for commit in commits:
            try:
                data = (commit.tree / where).data_stream.read()
            except KeyError:
                continue
            stored = decode(data, where=f"{where}@{commit.hexsha[:12]}")
            versions.append(PublicVersion(stored.version, stored.change_id, frozenset(stored.keys)))
        return sorted(versions, key=lambda v: -v.version)
    finally:
        repo.close()
