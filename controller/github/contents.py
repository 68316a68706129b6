"""File contents at a commit: the rule folders and the changed files a snapshot judges.

Content is addressed by git object ids (a commit for the rule folders, a blob for a file),
which never change, so it is cached without expiry, per repository: one repository's
content never answers for another's. Files not yet known are read concurrently on the
snapshot's pool (each worker with its own PyGithub instance).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import Future

from github.ContentFile import ContentFile
from github.GithubException import UnknownObjectException

from controller.documents import MAX_FILE_BYTES
from controller.errors import Problem
from controller.github.cache import ByteBudgetLru, LruCache
from controller.github.client import GitHubClient
from controller.github.pull_reads import PullReads
from controller.model import frozen_map

ENVIRONMENTS_DIR = "environments"
POLICIES_DIR = "policies"
RULE_DIRS = (ENVIRONMENTS_DIR, POLICIES_DIR)
YAML_SUFFIXES = (".yaml", ".yml")

_Wanted = tuple[str, str]
"""(path, blob sha)."""
_Read = tuple[bytes | None, Problem | None]


class ContentReader:
    def __init__(self, client: GitHubClient, reads: PullReads, *, blob_cache_bytes: int) -> None:
        self._client = client
        self._reads = reads
        self._blobs: ByteBudgetLru[tuple[str, str]] = ByteBudgetLru(blob_cache_bytes)
        self._rules: LruCache[tuple[str, str], Mapping[str, bytes]] = LruCache(64)

    def rules_at(self, repo_name: str, sha: str, problems: list[Problem]) -> Mapping[str, bytes]:
        """Every YAML file of ``environments/`` and ``policies/`` (and its sub-folders) at
        commit ``sha``; a file that cannot be read is a problem, and such a partial set is
        not cached. Callers wrap the call in ``github_errors``."""
        cached = self._rules.get((repo_name, sha))
        if cached is not None:
            return cached
        repo = self._client.repo(repo_name)
        wanted: list[_Wanted] = []
        folders = list(RULE_DIRS)
        while folders:
            folder = folders.pop()
            try:
                listing = repo.get_contents(folder, ref=sha)
            except UnknownObjectException:
                continue  # no such folder at the base: no rules of that kind
            if not isinstance(listing, list):
                listing = [listing]  # a file where a folder belongs: parse_rules says so
            for item in listing:
                if item.type == "dir" and item.path.startswith(POLICIES_DIR + "/"):
                    folders.append(item.path)  # policies may be grouped in sub-folders
                    continue
                if item.type != "file" or not item.name.endswith(YAML_SUFFIXES):
                    continue
                wanted.append((item.path, item.sha))
        before = len(problems)
        found = self.files(repo_name, sha, wanted, problems)
        rules = frozen_map(found)
        if len(problems) == before and len(found) == len(wanted):
            self._rules.put((repo_name, sha), rules)
        return rules

    def files(
        self, repo_name: str, ref: str, wanted: Sequence[_Wanted], problems: list[Problem]
    ) -> dict[str, bytes]:
        """Path -> bytes at ``ref`` for each ``(path, blob sha)``, read concurrently where not
        cached by blob id; what cannot be read is left out and said in ``problems``."""
        blob_of = dict(wanted)
        found: dict[str, bytes] = {}
        pending: list[tuple[str, Future[_Read]]] = []
        for path, blob_sha in wanted:
            cached = self._blobs.get((repo_name, blob_sha))
            if cached is not None:
                found[path] = cached
            else:
                pending.append((path, self._reads.submit(self._read, repo_name, path, ref)))
        for path, future in pending:
            content, problem = future.result()
            if problem is not None:
                problems.append(problem)
            if content is not None:
                found[path] = content
                if len(content) <= MAX_FILE_BYTES:
                    # Larger files are refused by the parser; keeping them would break the
                    # budget's promise that a pull request at the cap fits.
                    self._blobs.put((repo_name, blob_of[path]), content)
        return {path: found[path] for path, _ in wanted if path in found}

    def _read(self, repo_name: str, path: str, ref: str) -> _Read:
        # On a worker: the repository handle must be this thread's own.
        repo = self._client.repo(repo_name)
        try:
            item = repo.get_contents(path, ref=ref)
        except UnknownObjectException:
            return None, Problem(path, "", f"listed by GitHub but not readable at {ref[:12]}")
        if not isinstance(item, ContentFile) or item.encoding != "base64":
            # The contents API only inlines files up to 1 MB; no sealgate document is that big.
            return None, Problem(path, "", "file is too large to be a sealgate document")
        return item.decoded_content, None
