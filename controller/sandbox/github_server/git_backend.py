"""Real git behind the loopback GitHub: one bare repository per GitHub repository.

Commits are built with plumbing (a throw-away index file, `write-tree`, `commit-tree`) so no
work tree is ever needed, and merges use `git merge-tree --write-tree`, which is what decides
both mergeability and the merged tree.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar, cast

import git

T = TypeVar("T")
ZERO_SHA = "0" * 40
WEB_FLOW_EMAIL = "noreply@github.com"  # GitHub's committer for merges made on the website/API


class GitError(Exception):
    """A git object or ref the caller asked for does not exist, or an update lost a race."""


@dataclass(frozen=True)
class Person:
    name: str
    email: str
    date: datetime


def person_for(login: str, user_id: int, when: datetime) -> Person:
    return Person(login, f"{user_id}+{login}@users.noreply.github.com", when)


@dataclass(frozen=True)
class CommitInfo:
    sha: str
    tree: str
    message: str
    author: Person
    committer: Person
    parents: tuple[str, ...]


@dataclass(frozen=True)
class FileChange:
    filename: str
    status: str  # GitHub's words: added, removed, modified, renamed
    additions: int
    deletions: int
    patch: str | None
    blob_sha: str | None
    previous_filename: str | None


@dataclass(frozen=True)
class Entry:
    name: str
    path: str
    kind: str  # "file" or "dir"
    sha: str
    size: int
    data: bytes | None


class GitRepo:
    """A bare repository and the few operations the loopback GitHub needs."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._repo = git.Repo(path)
        # Answers that depend only on commit SHAs never change, so they are kept: a pull
        # request is rendered many times between pushes.
        self._memo: dict[tuple[str, ...], Any] = {}

    def _remember(self, key: tuple[str, ...], compute: Callable[[], T]) -> T:
        if key not in self._memo:
            self._memo[key] = compute()
        return cast(T, self._memo[key])

    @classmethod
    def init_bare(cls, path: Path, default_branch: str) -> GitRepo:
        path.mkdir(parents=True, exist_ok=True)
        repo = git.Repo.init(path, bare=True)
        repo.git.symbolic_ref("HEAD", f"refs/heads/{default_branch}")
        return cls(path)

    @classmethod
    def clone_bare(cls, source: GitRepo, path: Path) -> GitRepo:
        path.parent.mkdir(parents=True, exist_ok=True)
        git.Repo.clone_from(str(source.path), str(path), bare=True)
        return cls(path)

    def fetch_branch(self, source: GitRepo, branch: str, ref: str) -> None:
        """Copy ``branch`` of ``source`` here as ``ref`` (a fork's head, as GitHub keeps it
        under ``refs/pull/N/head``)."""
        self._repo.git.fetch(str(source.path), f"+refs/heads/{branch}:{ref}")

    # -- refs -----------------------------------------------------------------------------

    def branch_sha(self, branch: str) -> str | None:
        try:
            return str(
                self._repo.git.rev_parse("--verify", "--quiet", f"refs/heads/{branch}^{{commit}}")
            )
        except git.GitCommandError:
            return None

    def refs(self) -> dict[str, str]:
        """Every ref (``refs/heads/main`` -> sha), sorted by name."""
        out = self._repo.git.for_each_ref("--format=%(refname) %(objectname)")
        pairs = (line.split(" ", 1) for line in out.splitlines() if line)
        return dict(sorted((name, sha) for name, sha in pairs))

    def resolve(self, ref: str) -> str | None:
        """Commit SHA of a branch, tag or (abbreviated) SHA; None when nothing matches."""
        for candidate in (f"refs/heads/{ref}", f"refs/tags/{ref}", ref):
            try:
                return str(
                    self._repo.git.rev_parse("--verify", "--quiet", f"{candidate}^{{commit}}")
                )
            except git.GitCommandError:
                continue
        return None

    def set_branch(self, branch: str, sha: str, expected_old: str | None) -> None:
        """Move a branch, failing when it no longer points where the caller last saw it."""
        try:
            self._repo.git.update_ref(f"refs/heads/{branch}", sha, expected_old or ZERO_SHA)
        except git.GitCommandError as exc:
            raise GitError(f"branch {branch} moved concurrently") from exc

    def delete_branch(self, branch: str, expected_old: str) -> None:
        """Remove a branch, failing when it no longer points where the caller last saw it."""
        try:
            self._repo.git.update_ref("-d", f"refs/heads/{branch}", expected_old)
        except git.GitCommandError as exc:
            raise GitError(f"branch {branch} moved concurrently") from exc

    # -- objects --------------------------------------------------------------------------

    def commit_files(
        self,
        parent: str | None,
        files: dict[str, bytes | None],
        *,
        message: str,
        author: Person,
        committer: Person,
        sign_with: Path | None = None,
    ) -> str:
        """A new commit: `parent`'s tree with `files` written (None removes); returns its SHA."""
        with tempfile.TemporaryDirectory() as tmp:
            # --force-remove insists on a work tree; an empty one is enough, nothing is read.
            env = {"GIT_INDEX_FILE": str(Path(tmp) / "index"), "GIT_WORK_TREE": tmp}
            g = self._repo.git
            if parent is None:
                g.read_tree("--empty", env=env)
            else:
                g.read_tree(parent, env=env)
            written = sorted((p, d) for p, d in files.items() if d is not None)
            blob_files = []
            for index, (_, data) in enumerate(written):
                blob_file = Path(tmp) / f"blob-{index}"
                blob_file.write_bytes(data)
                blob_files.append(str(blob_file))
            blobs = (
                g.hash_object("-w", "--no-filters", "--", *blob_files).split() if written else []
            )
            for (path, _), blob in zip(written, blobs, strict=True):
                g.update_index("--add", "--cacheinfo", f"100644,{blob},{path}", env=env)
            for path in sorted(p for p, d in files.items() if d is None):
                g.update_index("--force-remove", "--", path, env=env)
            tree = str(g.write_tree(env=env))
        parents = [parent] if parent else []
        return self.commit_tree(tree, parents, message, author, committer, sign_with=sign_with)

    def commit_tree(
        self,
        tree: str,
        parents: list[str],
        message: str,
        author: Person,
        committer: Person,
        *,
        sign_with: Path | None = None,
    ) -> str:
        """A commit object; with `sign_with` (an SSH private key) it carries an SSH signature."""
        env = {
            "GIT_AUTHOR_NAME": author.name,
            "GIT_AUTHOR_EMAIL": author.email,
            "GIT_AUTHOR_DATE": author.date.isoformat(),
            "GIT_COMMITTER_NAME": committer.name,
            "GIT_COMMITTER_EMAIL": committer.email,
            "GIT_COMMITTER_DATE": committer.date.isoformat(),
        }
        args: list[str] = [tree]
        for parent in parents:
            args += ["-p", parent]
        if sign_with is not None:
            env.update(
                {
                    "GIT_CONFIG_COUNT": "2",
                    "GIT_CONFIG_KEY_0": "gpg.format",
                    "GIT_CONFIG_VALUE_0": "ssh",
                    "GIT_CONFIG_KEY_1": "user.signingkey",
                    "GIT_CONFIG_VALUE_1": str(sign_with),
                }
            )
            args.append("-S")
        return str(self._repo.git.commit_tree(*args, "-m", message, env=env))

    def raw_commit(self, sha: str) -> str:
        """The commit object as git stores it (headers, signature, message)."""

        def read() -> str:
            return str(self._repo.git.cat_file("commit", sha, strip_newline_in_stdout=False))

        return self._remember(("raw", sha), read)

    @staticmethod
    def ref_moves(before: dict[str, str], after: dict[str, str]) -> list[tuple[str, str, str]]:
        """(ref, old sha, new sha) for every ref that differs; ZERO_SHA for a missing side."""
        moved = []
        for ref in sorted(set(before) | set(after)):
            old, new = before.get(ref, ZERO_SHA), after.get(ref, ZERO_SHA)
            if old != new:
                moved.append((ref, old, new))
        return moved

    def commit(self, sha: str) -> CommitInfo:
        return self._remember(("commit", sha), lambda: self._commit(sha))

    def _commit(self, sha: str) -> CommitInfo:
        try:
            c = self._repo.commit(sha)
        except (ValueError, git.BadName) as exc:
            raise GitError("no such commit") from exc
        return CommitInfo(
            sha=c.hexsha,
            tree=c.tree.hexsha,
            message=str(c.message),
            author=Person(str(c.author.name), str(c.author.email), c.authored_datetime),
            committer=Person(str(c.committer.name), str(c.committer.email), c.committed_datetime),
            parents=tuple(p.hexsha for p in c.parents),
        )

    def is_ancestor(self, ancestor: str, descendant: str) -> bool:
        try:
            self._repo.git.merge_base("--is-ancestor", ancestor, descendant)
        except git.GitCommandError:
            return False
        return True

    def merge_base(self, a: str, b: str) -> str | None:
        return self._remember(("merge-base", a, b), lambda: self._merge_base(a, b))

    def _merge_base(self, a: str, b: str) -> str | None:
        try:
            return str(self._repo.git.merge_base(a, b))
        except git.GitCommandError:
            return None

    def commits_between(self, base: str, head: str) -> list[str]:
        """Commits reachable from head but not base, oldest first (a pull request's commits)."""
        return list(self._remember(("between", base, head), lambda: self._between(base, head)))

    def _between(self, base: str, head: str) -> list[str]:
        out = self._repo.git.rev_list("--reverse", "--topo-order", f"{base}..{head}")
        return [line for line in out.splitlines() if line]

    def merge_tree(self, ours: str, theirs: str) -> str | None:
        """Tree of merging `theirs` into `ours`, or None when the merge conflicts."""
        return self._remember(("merge", ours, theirs), lambda: self._merge_tree(ours, theirs))

    def _merge_tree(self, ours: str, theirs: str) -> str | None:
        try:
            out = self._repo.git.merge_tree("--write-tree", ours, theirs)
        except git.GitCommandError as exc:
            if exc.status == 1:  # merge-tree's documented "conflicts" exit status
                return None
            raise
        return str(out.splitlines()[0])

    def diff(self, base: str, head: str) -> list[FileChange]:
        """Changed files from base to head, with unified-diff hunks as GitHub shows them."""
        return list(self._remember(("diff", base, head), lambda: self._diff(base, head)))

    def _diff(self, base: str, head: str) -> list[FileChange]:
        old = self._repo.commit(base)
        new = self._repo.commit(head)
        changes: list[FileChange] = []
        for d in old.diff(new, create_patch=True, M=True):
            raw = d.diff if isinstance(d.diff, bytes) else str(d.diff or "").encode()
            text = raw.decode("utf-8", errors="replace")
            binary = text.startswith("Binary files")
            additions = deletions = 0
            if not binary:
                for line in text.splitlines():
                    if line.startswith("+") and not line.startswith("+++"):
                        additions += 1
                    elif line.startswith("-") and not line.startswith("---"):
                        deletions += 1
            if d.new_file:
                status = "added"
            elif d.deleted_file:
                status = "removed"
            elif d.renamed_file:
                status = "renamed"
            else:
                status = "modified"
            path = d.b_path if d.b_path is not None else d.a_path
            blob = d.b_blob if d.b_blob is not None else d.a_blob
            changes.append(
                FileChange(
                    filename=str(path),
                    status=status,
                    additions=additions,
                    deletions=deletions,
                    patch=None if binary else text.rstrip("\n"),
                    blob_sha=blob.hexsha if blob is not None else None,
                    previous_filename=str(d.a_path) if d.renamed_file else None,
                )
            )
        return sorted(changes, key=lambda c: c.filename)

    def entry(self, sha: str, path: str) -> Entry | list[Entry] | None:
        """A file (with its bytes) or a directory listing at a commit; None when missing."""
        tree = self._repo.commit(sha).tree
        path = path.strip("/")
        try:
            obj = tree / path if path else tree
        except KeyError:
            return None
        if isinstance(obj, git.Tree):
            listing: list[Entry] = []
            for child in obj:
                if isinstance(child, git.Tree):
                    listing.append(Entry(child.name, str(child.path), "dir", child.hexsha, 0, None))
                elif isinstance(child, git.Blob):
                    listing.append(
                        Entry(child.name, str(child.path), "file", child.hexsha, child.size, None)
                    )
            return listing
        if isinstance(obj, git.Blob):
            data = obj.data_stream.read()
            return Entry(obj.name, str(obj.path), "file", obj.hexsha, len(data), data)
        return None
