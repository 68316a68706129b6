"""Secret-path globs: ``*`` matches within one path segment, ``**`` across segments.

``fnmatch`` is not used because its ``*`` crosses ``/``: ``payments/*`` would then cover
``payments/team/db`` too, silently widening a policy. Matching is by dynamic programming,
linear in pattern times path, so no pattern can make it backtrack exponentially.
"""

from __future__ import annotations

from functools import lru_cache

_ANY_SEGMENTS = "**"


@lru_cache(maxsize=8192)
def secret_glob_matches(pattern: str, path: str) -> bool:
    """Whether ``pattern`` (e.g. ``payments/*``, ``oncall/**``) covers ``path`` (``ns/name``)."""
    return _matches(tuple(pattern.split("/")), tuple(path.split("/")))


def _matches(pattern: tuple[str, ...], path: tuple[str, ...]) -> bool:
    # reachable[j]: the pattern segments consumed so far can match the first j path segments.
    reachable = [True] + [False] * len(path)
    for segment in pattern:
        if segment == _ANY_SEGMENTS:
            # "**" matches zero or more whole segments: once reachable, every longer prefix is.
            for j in range(1, len(path) + 1):
                reachable[j] = reachable[j] or reachable[j - 1]
            continue
        reachable = [False] + [
            reachable[j - 1] and _segment_matches(segment, path[j - 1])
            for j in range(1, len(path) + 1)
        ]
    return reachable[len(path)]


def _segment_matches(pattern: str, text: str) -> bool:
    """``*`` matches any run of characters inside one segment; everything else is literal."""
    parts = pattern.split("*")
    if len(parts) == 1:
        return pattern == text
    first, *middle, last = parts
    if len(text) < len(first) + len(last) or not text.startswith(first):
        return False
    if not text.endswith(last):
        return False
    # Greedy leftmost placement of each literal between stars is optimal for "*"-only globs.
    position = len(first)
    end = len(text) - len(last)
    for literal in middle:
        found = text.find(literal, position, end)
        if found < 0:
            return False
        position = found + len(literal)
    return True
