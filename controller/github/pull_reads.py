"""The lists one pull-request snapshot needs, read concurrently, and what is fixed by its head.

Each read is a round trip to GitHub (100 ms or more from most clusters), and none of them
needs another's answer once the head and the branches are known, so they go out together on
a small pool of worker threads. Each worker uses its own PyGithub instance (``GitHubClient``
keeps one per thread: PyGithub's connection object is not thread-safe), with the same
authentication, base URL and retry policy as every other thread.

The head and the branches come from the pull request itself, which is read at the same time:
the reads that depend on them start from what the previous snapshot of that pull request
saw (a review or a comment moves neither), and are made again when the pull request says
otherwise. Whatever was read, the snapshot is built only from answers that agree with the
pull request's head (see :func:`files_head`), or it is read again.

The changed files and the commits of a pull request are fixed by its head and base branch:
they are kept per (pull request, head, base branch) and asked for again only every few
minutes (see :data:`HEAD_LISTS_TTL_SECONDS`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import parse_qs, quote, urlsplit

from controller.errors import ConflictError
from controller.github.cache import LruCache, TtlCache
from controller.github.conditional import ConditionalLists
from controller.github.pushes import activity_pushes
from controller.model import Push

T = TypeVar("T")

DEFAULT_WORKERS = 8
"""Enough for one snapshot's reads at once (pull request, tip, files, commits, reviews,
comments, activity) with room for a second pull request handled in parallel."""

HEAD_LISTS_TTL_SECONDS = 600.0
"""The files and commits of a head and base branch stay the same, with two exceptions a
re-read every ten minutes bounds: the GitHub accounts linked to commit emails and signature
verification can change, and a base branch that takes in some of the pull request's commits
without it moving shortens both lists."""


@dataclass(frozen=True, slots=True)
class Where:
    """Where a pull request's head and base stood: what the other reads depend on."""

    head_sha: str
    base_ref: str
    head_repo: str | None
    head_ref: str
    listable_files: bool = True
    """False when it changed more files than sealgate reads: the list is not asked for."""


def files_head(files: tuple[Any, ...]) -> str | None:
    """The head a pull request's files list was computed at, from its entries' contents
    URLs (``…/contents/<path>?ref=<head sha>``); None when the list does not say (empty, or
    entries without a ref) or its entries disagree."""
    heads: set[str] = set()
    for entry in files:
        url = entry.get("contents_url") if isinstance(entry, dict) else None
        refs = parse_qs(urlsplit(str(url or "")).query).get("ref") or []
        if len(refs) != 1 or not refs[0]:
            return None
        heads.add(refs[0])
    return heads.pop() if len(heads) == 1 else None


class PullReads:
    """The shared pool and the head-fixed caches; safe to share between threads."""

    def __init__(self, lists: ConditionalLists, *, workers: int = DEFAULT_WORKERS) -> None:
        if workers < 1:
            raise ValueError("workers must be at least 1")
        self.lists = lists
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="github-read")
        self._batch = threading.local()
        self._where: LruCache[tuple[str, int], Where] = LruCache(4096)
        # (repo, number, head, base branch) -> the raw list GitHub gave at that head.
        self._files: TtlCache[tuple[str, int, str, str], tuple[Any, ...]] = TtlCache(
            HEAD_LISTS_TTL_SECONDS, maxsize=1024
        )
        self._commits: TtlCache[tuple[str, int, str, str], tuple[Any, ...]] = TtlCache(
            HEAD_LISTS_TTL_SECONDS, maxsize=1024
        )

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        """Run ``fn`` on a worker. Never call this from a worker and wait there: the pool is
        bounded, so nested waits could starve it."""
        future = self._pool.submit(fn, *args, **kwargs)
        batch: list[Future[Any]] | None = getattr(self._batch, "futures", None)
        if batch is not None:
            batch.append(future)
        return future

    def track(self, futures: Iterable[Future[Any]]) -> None:
        """Futures from another pool that the current :meth:`batch` must also wait for."""
        batch: list[Future[Any]] | None = getattr(self._batch, "futures", None)
        if batch is not None:
            batch.extend(futures)

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Everything this thread submits (or tracks) inside is over when it ends, even when
        it ends with an error: no read of one call outlives it."""
        futures: list[Future[Any]] = []
        self._batch.futures = futures
        try:
            yield
        finally:
            self._batch.futures = None
            wait(futures)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    # ------------------------------------------------------------------ what is remembered

    def last_seen(self, repo: str, number: int) -> Where | None:
        return self._where.get((repo, number))

    def seen(self, repo: str, number: int, where: Where) -> None:
        self._where.put((repo, number), where)

    def known_files(self, repo: str, number: int, where: Where) -> tuple[Any, ...] | None:
        return self._files.get((repo, number, where.head_sha, where.base_ref))

    def known_commits(self, repo: str, number: int, where: Where) -> tuple[Any, ...] | None:
        return self._commits.get((repo, number, where.head_sha, where.base_ref))

    def keep(
        self,
        repo: str,
        number: int,
        where: Where,
        *,
        files: tuple[Any, ...] | None,
        commits: tuple[Any, ...],
    ) -> None:
        """Called only with lists that were checked against ``where.head_sha``."""
        key = (repo, number, where.head_sha, where.base_ref)
        if files is not None:
            self._files.put(key, files)
        self._commits.put(key, commits)

    # ------------------------------------------------------------------ the reads

    def pull_list(self, repo: str, number: int, tail: str) -> tuple[Any, ...]:
        return self.lists.get(f"/repos/{quote(repo, safe='/')}/pulls/{number}/{tail}").items

    def issue_list(self, repo: str, number: int, tail: str) -> tuple[Any, ...]:
        return self.lists.get(f"/repos/{quote(repo, safe='/')}/issues/{number}/{tail}").items

    def tip(self, repo: str, branch: str) -> str:
        """Where ``branch`` stands now (conditional: unchanged costs no budget)."""
        path = f"/repos/{quote(repo, safe='/')}/git/ref/heads/{quote(branch, safe='/')}"
        answer, _ = self.lists.get_object(path)
        return str(answer["object"]["sha"])

    def pushes(self, where: Where) -> tuple[Push, ...]:
        if where.head_repo is None:
            return ()
        return activity_pushes(self.lists, where.head_repo, where.head_ref)


@dataclass(frozen=True, slots=True)
class HeadReads:
    """The reads that depend on where the head and base stand, under way."""

    tip: Future[str] | None
    """None when the base's tip came with the pull request (GraphQL) and was not asked for."""
    files: Future[tuple[Any, ...] | None]
    """None when the pull request changes too many files for the list to be read."""
    commits: Future[tuple[Any, ...]]
    pushes: Future[tuple[Push, ...]]
    files_known: bool
    """The files came from the cache: already checked against this head."""


def _done(value: T) -> Future[T]:
    future: Future[T] = Future()
    future.set_result(value)
    return future


def at_head(
    reads: PullReads, repo: str, number: int, where: Where, *, tip: bool = True
) -> HeadReads:
    """Start the reads that ``where`` decides, skipping what the caches hold for that head;
    ``tip``: the base branch's tip too (a GraphQL read brings it along)."""
    files: Future[tuple[Any, ...] | None]
    known_files = reads.known_files(repo, number, where) if where.listable_files else None
    if not where.listable_files:
        files = _done(None)
    elif known_files is not None:
        files = _done(known_files)
    else:
        files = reads.submit(reads.pull_list, repo, number, "files")
    known_commits = reads.known_commits(repo, number, where)
    return HeadReads(
        tip=reads.submit(reads.tip, repo, where.base_ref) if tip else None,
        files=files,
        commits=(
            _done(known_commits)
            if known_commits is not None
            else reads.submit(reads.pull_list, repo, number, "commits")
        ),
        pushes=reads.submit(reads.pushes, where),
        files_known=known_files is not None,
    )


def checked_at_head(
    reads: PullReads, repo: str, number: int, where: Where, heads: HeadReads
) -> tuple[tuple[Any, ...] | None, tuple[Any, ...]]:
    """The files and commits of ``heads``, once both are shown to be ``where.head_sha``'s.

    They were read while the pull request itself was: a push in between would mix two
    heads in one decision. The commits name their head (the last one); the files list names
    it in each entry's contents URL. Raises :class:`ConflictError` when either names another
    head (the caller reads again).
    """
    moved = ConflictError(f"read pull request {repo}#{number}: the head moved while it was read")
    files, commits = heads.files.result(), heads.commits.result()
    if commits and str(commits[-1]["sha"]) != where.head_sha:
        raise moved
    checked = heads.files_known or not files
    if files and not heads.files_known:
        at = files_head(files)
        if at is not None and at != where.head_sha:
            raise moved
        if at is None:
            # A server whose list does not say its head: read it again now that the head is
            # known, then the commits, which must still end at it (the order of old).
            files = reads.pull_list(repo, number, "files")
            commits = reads.pull_list(repo, number, "commits")
            if commits and str(commits[-1]["sha"]) != where.head_sha:
                raise moved
        checked = at is not None
    if commits and str(commits[-1]["sha"]) == where.head_sha:
        reads.keep(repo, number, where, files=files if checked else None, commits=commits)
    return files, commits
