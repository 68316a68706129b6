"""``EndReports``: merged access pull requests whose grant ended since their summary said so.

A merged access request is in the poll's work while one of its grants lives
(``GrantKeeper.live_pulls``). The grant loop records most ends (lapsed, ended, an operator's
revocation) outside any pass over the pull request, and once the end is recorded the pull
request leaves that set: without a mark here its summary, labels and status would say
"active" for ever. Every end recorded marks its pull request due; a pass that reported the
pull request with all its grants' ends recorded clears the mark.

A restarted controller holds no marks, so its first look takes every grant whose end is
recorded and fell within ``RECENT`` as due: one more pass each, which rewrites nothing when
the previous process had reported it. An end older than that was reported by the process
that recorded it, unless that process died at once and stayed down longer than ``RECENT``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta

from controller.model import Grant

RECENT = timedelta(days=1)


class EndReports:
    """Thread-safe."""

    def __init__(self, clock: Callable[[], datetime]) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._due: set[tuple[str, int]] = set()
        self._seeded = False

    def ended(self, grant: Grant) -> None:
        """``grant``'s end was recorded: its pull request must be reported again."""
        with self._lock:
            self._due.add((grant.repo.casefold(), grant.pull_request))

    def due(self, repo: str, every: Callable[[], Iterable[Grant]]) -> set[int]:
        """Pull requests of ``repo`` to report; ``every`` lists the store's grants (read
        once per process, on the first call)."""
        with self._lock:
            if not self._seeded:
                since = self._clock() - RECENT
                for grant in every():
                    if grant.ended_recorded and grant.ends_at >= since:
                        self._due.add((grant.repo.casefold(), grant.pull_request))
                self._seeded = True
            key = repo.casefold()
            return {number for name, number in self._due if name == key}

    def reported(self, repo: str, number: int, grants: Sequence[Grant]) -> None:
        """A pass reported ``repo#number`` with ``grants`` as it read them. The mark stays
        while one of them had no end recorded: an end recorded during the pass is not in
        what it wrote."""
        if all(grant.ended_recorded for grant in grants):
            with self._lock:
                self._due.discard((repo.casefold(), number))
