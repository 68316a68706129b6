"""A bare git repository written only with plumbing: objects, trees, commits, guarded refs.

No working tree means no torn file: a commit becomes visible only when ``update-ref``
renames its lock file into place, so a crash leaves either the old or the new ref. New trees
reuse the SHAs of untouched subtrees, so an update costs O(touched paths * tree depth).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
import threading
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from io import BytesIO
from pathlib import Path

import git
from git.objects.fun import tree_entries_from_data, tree_to_stream
from gitdb import IStream, LooseObjectDB  # type: ignore[import-untyped]  # GitPython's object layer
from gitdb.exc import BadObject  # type: ignore[import-untyped]

from controller.errors import ConflictError, StoreError

BRANCH = "refs/heads/main"
TREE_MODE = 0o040000
BLOB_MODE = 0o100644
_ZERO = "0" * 40
_ACTOR = git.Actor("sealgate", "sealgate@localhost")
_WRITER_LOCK = "sealgate-writer.lock"
_BULK_THRESHOLD = 256
_TREE_CACHE_SIZE = 65536

Entries = dict[str, tuple[bytes, int]]


class GitObjects:
    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            if (path / "HEAD").exists():
                self.repo = git.Repo(path)
            else:
                path.mkdir(parents=True, exist_ok=True)
                self.repo = git.Repo.init(path, bare=True, initial_branch="main")
                with self.repo.config_writer() as config:
                    # git's own writes (packs, refs) reach the disk before they count.
                    config.set_value("core", "fsync", "objects,reference")
                    config.set_value("core", "fsyncMethod", "fsync")
        except (git.GitError, OSError) as exc:
            raise StoreError(
                f"{path}: cannot open or create the store's git repository; check the path "
                "and its permissions",
                retryable=False,
            ) from exc
        self._loose = LooseObjectDB(str(path / "objects"))
        # GitPython reads objects through one long-lived ``git cat-file`` process: two
        # threads reading at once would interleave its answers.
        self._odb = threading.RLock()
        self._trees: dict[bytes, Entries] = {}
        self._unsynced: list[bytes] = []
        if not self.repo.bare:
            raise StoreError(
                f"{path}: the store must be a bare git repository (it has a working tree)",
                retryable=False,
            )

    def close(self) -> None:
        self.repo.close()

    # ---------------------------------------------------------------- locking and repair

    @contextlib.contextmanager
    def writer_lock(self) -> Iterator[None]:
        """One writer per store on this host (the kernel drops the lock if the writer dies)."""
        descriptor = os.open(self.path / _WRITER_LOCK, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX)
            yield
        finally:
            os.close(descriptor)

    def repair(self) -> list[str]:
        """On start: remove git lock files a crashed writer left behind; returns them.

        Only when no live writer holds the store: then a ``*.lock`` can only be a leftover.
        """
        descriptor = os.open(self.path / _WRITER_LOCK, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return []  # a live writer holds it: its locks are not stale
            return self._remove_stale_locks()
        finally:
            os.close(descriptor)

    def _remove_stale_locks(self) -> list[str]:
        removed: list[str] = []
        candidates = [self.path / "HEAD.lock", self.path / "packed-refs.lock"]
        candidates += [self.path / "config.lock", self.path / "index.lock"]
        refs = self.path / "refs"
        if refs.is_dir():
            candidates += list(refs.rglob("*.lock"))
        for candidate in candidates:
            if candidate.exists():
                candidate.unlink()
                removed.append(str(candidate.relative_to(self.path)))
        return removed

    # ---------------------------------------------------------------- refs and commits

    def head(self) -> str | None:
        try:
            return str(self.repo.git.rev_parse("--verify", "-q", BRANCH + "^{commit}"))
        except git.GitCommandError:
            return None

    def commit_tree(self, commit: str) -> bytes:
        with self._odb:
            return bytes(self.repo.commit(commit).tree.binsha)

    def commit_message(self, commit: str) -> str:
        with self._odb:
            message = self.repo.commit(commit).message
        return message if isinstance(message, str) else message.decode()

    def commit_time(self, commit: str) -> datetime:
        with self._odb:
            return self.repo.commit(commit).committed_datetime

    def write_commit(self, tree: bytes, message: str, parent: str | None, when: datetime) -> str:
        with self._odb:
            return self._write_commit(tree, message, parent, when)

    def _write_commit(self, tree: bytes, message: str, parent: str | None, when: datetime) -> str:
        parents = [self.repo.commit(parent)] if parent else []
        commit = git.Commit.create_from_tree(
            self.repo,
            tree.hex(),
            message,
            parent_commits=parents,
            head=False,
            author=_ACTOR,
            committer=_ACTOR,
            author_date=when,
            commit_date=when,
        )
        return commit.hexsha

    def advance(self, new: str, old: str | None) -> None:
        """Point the branch at ``new`` only if it still points at ``old``.

        Objects written since the last advance are flushed to disk first: after a power
        cut the ref must never name a commit whose objects were lost.
        """
        self._sync_written()
        try:
            self.repo.git.update_ref(BRANCH, new, old or _ZERO)
        except git.GitCommandError as exc:
            raise ConflictError(
                f"{self.path}: the store's branch moved during this write, or another git "
                "process holds refs/heads/main.lock; re-read the store and try again (a lock "
                "left by a crash is removed when the store is next opened)"
            ) from exc

    def log(self, path: str) -> list[str]:
        """Commits that touched ``path``, newest first."""
        if self.head() is None:
            return []
        output = self.repo.git.log("--format=%H", BRANCH, "--", path)
        return [line for line in output.splitlines() if line]

    def first_commit_adding(self, path: str) -> str | None:
        """The commit that created ``path``; walks history, so only for replays."""
        if self.head() is None:
            return None
        output = self.repo.git.log("--diff-filter=A", "-1", "--format=%H", BRANCH, "--", path)
        return output.strip() or None

    def push(self, remote: str) -> None:
        try:
            self.repo.git.push(remote, f"{BRANCH}:{BRANCH}")
        except git.GitCommandError as exc:
            raise StoreError(
                f"{self.path}: push to the store's remote failed; the local store is "
                "intact and the next apply pushes again",
                retryable=True,
            ) from exc

    # ---------------------------------------------------------------- objects

    def write_blob(self, data: bytes) -> bytes:
        return self._store(b"blob", data)

    def write_blobs(self, blobs: Sequence[bytes]) -> list[bytes]:
        """Many blobs at once: one ``git fast-import`` pack instead of thousands of files."""
        if len(blobs) < _BULK_THRESHOLD:
            return [self.write_blob(data) for data in blobs]
        stream = BytesIO()
        for mark, data in enumerate(blobs, start=1):
            stream.write(b"blob\nmark :%d\ndata %d\n" % (mark, len(data)))
            stream.write(data)
            stream.write(b"\n")
        with tempfile.TemporaryDirectory(prefix="sealgate-import-") as directory:
            marks = Path(directory) / "marks"
            self._git_run(["fast-import", "--quiet", f"--export-marks={marks}"], stream.getvalue())
            by_mark = dict(line.split() for line in marks.read_text().splitlines())
        return [bytes.fromhex(by_mark[f":{mark}"]) for mark in range(1, len(blobs) + 1)]

    def read_blob(self, sha: bytes) -> bytes:
        try:
            return bytes(self._loose.stream(sha).read())
        except BadObject:  # packed (after gc or a bulk import): ask git
            with self._odb:
                return bytes(self.repo.odb.stream(sha).read())

    def read_blobs(self, shas: Sequence[bytes]) -> list[bytes]:
        """Many objects in one ``git cat-file --batch`` round trip."""
        if len(shas) < _BULK_THRESHOLD:
            return [self.read_blob(sha) for sha in shas]
        output = self._git_run(
            ["cat-file", "--batch"], b"".join(s.hex().encode() + b"\n" for s in shas)
        )
        contents: list[bytes] = []
        position = 0
        for sha in shas:
            end = output.index(b"\n", position)
            header = output[position:end].split()
            if len(header) != 3 or header[0] != sha.hex().encode():
                raise StoreError(
                    f"{self.path}: object {sha.hex()} is missing from the store repository; "
                    "run `git fsck` and restore from the remote",
                    retryable=False,
                )
            size = int(header[2])
            contents.append(output[end + 1 : end + 1 + size])
            position = end + 1 + size + 1
        return contents

    def tree_entries(self, sha: bytes | None) -> Mapping[str, tuple[bytes, int]]:
        """Entries of a tree (read-only); trees are immutable, so parsed ones are kept by SHA."""
        if sha is None:
            return {}
        cached = self._trees.get(sha)
        if cached is None:
            data = self.read_blob(sha)
            cached = {
                name: (bytes(binsha), mode) for binsha, mode, name in tree_entries_from_data(data)
            }
            if len(self._trees) >= _TREE_CACHE_SIZE:
                self._trees.clear()
            self._trees[sha] = cached
        return cached

    def _store(self, kind: bytes, data: bytes) -> bytes:
        # gitdb's loose-object writer: temporary file renamed into place, no subprocess.
        sha = bytes(self._loose.store(IStream(kind, len(data), BytesIO(data))).binsha)
        self._unsynced.append(sha)
        return sha

    def _sync_written(self) -> None:
        directories: set[Path] = set()
        for sha in self._unsynced:
            name = sha.hex()
            path = self.path / "objects" / name[:2] / name[2:]
            directories.update((path.parent, path.parent.parent))  # a new fan-out dir too
            _fsync(path)
        for directory in directories:
            _fsync(directory)
        self._unsynced.clear()

    def _git_run(self, args: list[str], stdin: bytes) -> bytes:
        command = args[0].replace("-", "_")
        with tempfile.TemporaryFile() as source:
            source.write(stdin)
            source.seek(0)
            try:
                output = getattr(self.repo.git, command)(
                    *args[1:],
                    istream=source,
                    stdout_as_string=False,
                    strip_newline_in_stdout=False,
                )
            except git.GitCommandError as exc:
                raise StoreError(
                    f"{self.path}: git {args[0]} failed; check the repository with `git fsck`",
                    retryable=True,
                ) from exc
        return bytes(output)

    def lookup(self, tree: bytes | None, path: str) -> tuple[bytes, int] | None:
        """The entry at ``a/b/c`` below ``tree``, reading one tree per path component."""
        entry: tuple[bytes, int] | None = (tree, TREE_MODE) if tree is not None else None
        for part in path.split("/"):
            if entry is None or entry[1] != TREE_MODE:
                return None
            entry = self.tree_entries(entry[0]).get(part)
        return entry

    def read_path(self, tree: bytes | None, path: str) -> bytes | None:
        entry = self.lookup(tree, path)
        if entry is None or entry[1] == TREE_MODE:
            return None
        return self.read_blob(entry[0])

    def update_tree(self, tree: bytes | None, changes: Mapping[str, bytes | None]) -> bytes:
        """A new root tree with ``changes`` (path -> blob SHA, or None to delete) applied."""
        new = self._update(tree, changes)
        return new if new is not None else self._write_tree({})

    def _update(self, tree: bytes | None, changes: Mapping[str, bytes | None]) -> bytes | None:
        entries = dict(self.tree_entries(tree))
        below: dict[str, dict[str, bytes | None]] = {}
        for path, blob in changes.items():
            head, _, rest = path.partition("/")
            if rest:
                below.setdefault(head, {})[rest] = blob
            elif blob is None:
                entries.pop(head, None)
            else:
                entries[head] = (blob, BLOB_MODE)
        for name, subchanges in below.items():
            current = entries.get(name)
            subtree = current[0] if current is not None and current[1] == TREE_MODE else None
            new = self._update(subtree, subchanges)
            if new is None:
                entries.pop(name, None)
            else:
                entries[name] = (new, TREE_MODE)
        if not entries:
            return None
        return self._write_tree(entries)

    def _write_tree(self, entries: Entries) -> bytes:
        # git orders tree entries as if directory names ended in "/".
        ordered = sorted(
            ((sha, mode, name) for name, (sha, mode) in entries.items()),
            key=lambda e: e[2] + "/" if e[1] == TREE_MODE else e[2],
        )
        buffer = BytesIO()
        tree_to_stream(ordered, buffer.write)
        return self._store(b"tree", buffer.getvalue())

    def walk_blobs(self, tree: bytes | None, prefix: str = "") -> Iterator[tuple[str, bytes]]:
        """Every blob below ``tree`` as (path, SHA), in path order."""
        for name, (sha, mode) in sorted(self.tree_entries(tree).items()):
            path = f"{prefix}{name}"
            if mode == TREE_MODE:
                yield from self.walk_blobs(sha, path + "/")
            else:
                yield path, sha


def _fsync(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
