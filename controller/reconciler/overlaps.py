"""Which open pull requests change the same keys, from the passes the reconciler makes anyway.

Every pass over an open pull request parses its changes; this remembers the keys they touch
(``(path, key)``; ``(path, "*")`` for a whole-secret restore) per open pull request, so each
summary can name the others racing for its keys without a single extra GitHub request. When
what a pull request touches changes, or it is merged or closed, the pull requests it overlaps
are queued for one more pass (``rechecks``), so their summaries follow, and one that has just
been overtaken by a merge is judged stale at once.

Memory only, and rebuilt from GitHub: after a restart every open pull request is handled
once (the first poll finds them all changed) and the map fills again. Nothing here decides:
staleness is judged from the store (``controller.reconciler.versions``).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence

from controller.model import SecretChange

Touched = frozenset[tuple[str, str]]
WHOLE = "*"


def touched_keys(changes: Sequence[SecretChange]) -> Touched:
    keys: set[tuple[str, str]] = set()
    for change in changes:
        if change.restores_whole:
            keys.add((change.path, WHOLE))
        keys.update((change.path, key) for key in change.keys)
    return frozenset(keys)


def shared(a: Touched, b: Touched) -> list[tuple[str, str]]:
    """The keys two pull requests both touch (a whole restore shares every key of its path)."""
    whole_a = {path for path, key in a if key == WHOLE}
    whole_b = {path for path, key in b if key == WHOLE}
    return sorted(
        {(p, k) for p, k in a if (p, k) in b or p in whole_b}
        | {(p, k) for p, k in b if p in whole_a}
    )


class OpenOverlaps:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._touched: dict[str, dict[int, Touched]] = {}
        self._recheck: dict[str, set[int]] = {}

    def update(self, repo: str, number: int, changes: Sequence[SecretChange]) -> tuple[str, ...]:
        """Record what ``number`` touches now; one summary line per other open pull request
        touching a key it touches."""
        touched = touched_keys(changes)
        with self._lock:
            pulls = self._touched.setdefault(repo, {})
            before = pulls.get(number, frozenset())
            pulls[number] = touched
            if before != touched:
                self._queue(repo, number, before | touched)
            others = {
                other: common
                for other, keys in sorted(pulls.items())
                if other != number and (common := shared(touched, keys))
            }
        return tuple(_line(other, common) for other, common in others.items())

    def forget(self, repo: str, number: int) -> None:
        """``number`` was merged or closed: the pull requests it overlapped get a pass."""
        with self._lock:
            before = self._touched.get(repo, {}).pop(number, None)
            if before:
                self._queue(repo, number, before)

    def keep_only(self, repo: str, open_numbers: Iterable[int]) -> None:
        """Drop pull requests no longer open (closed while nobody handled them)."""
        still = set(open_numbers)
        with self._lock:
            gone = [n for n in self._touched.get(repo, {}) if n not in still]
        for number in gone:
            self.forget(repo, number)

    def rechecks(self, repo: str) -> set[int]:
        with self._lock:
            return self._recheck.pop(repo, set())

    def _queue(self, repo: str, number: int, keys: Touched) -> None:
        for other, theirs in self._touched.get(repo, {}).items():
            if other != number and shared(keys, theirs):
                self._recheck.setdefault(repo, set()).add(other)


def _line(number: int, common: Sequence[tuple[str, str]]) -> str:
    by_path: dict[str, list[str]] = {}
    for path, key in common:
        by_path.setdefault(path, []).append("every key" if key == WHOLE else key)
    where = "; ".join(f"{path} key {', '.join(keys)}" for path, keys in sorted(by_path.items()))
    return f"#{number}: {where}"
