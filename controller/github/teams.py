"""Team memberships, cached briefly, read concurrently and conditionally.

Policies name teams as ``org/slug``. Membership changes rarely and every evaluation needs
it, so answers are kept for a short TTL (60 s by default): long enough that a burst of
review events costs one request per team, short enough that removing someone from a team
takes effect within a minute. A merge does not wait that minute: the reconciler reads the
teams its decision relied on again with ``fresh=True`` right before merging. A read from
GitHub made moments before (within :data:`FRESH_WITHIN_SECONDS`, such as the one a snapshot
makes alongside the reviews it judges) is as fresh as that, and is not made twice.

Lists are read with conditional requests: an unchanged team answers ``304``, which costs no
rate-limit budget. Several teams are read at once, each on a worker with its own client.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from urllib.parse import quote

from github.GithubException import UnknownObjectException

from controller.github.cache import TtlCache
from controller.github.client import GitHubClient
from controller.github.conditional import ConditionalLists
from controller.github.failures import github_errors
from controller.model import frozen_map

DEFAULT_TTL_SECONDS = 60.0
FRESH_WITHIN_SECONDS = 2.0
"""How old a read from GitHub may be and still count as fresh: well under the time between
a review and the merge it allows, and far under the cache's TTL."""
TEAM_WORKERS = 8


class TeamDirectory:
    def __init__(
        self,
        client: GitHubClient,
        *,
        ttl: float = DEFAULT_TTL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._cache: TtlCache[str, frozenset[str]] = TtlCache(ttl, clock=clock)
        # team -> the members GitHub gave in the last FRESH_WITHIN_SECONDS.
        self._read: TtlCache[str, frozenset[str]] = TtlCache(FRESH_WITHIN_SECONDS, clock=clock)
        self._lists = ConditionalLists(client, maxsize=1024)
        self._pool = ThreadPoolExecutor(max_workers=TEAM_WORKERS, thread_name_prefix="teams")

    def members(self, team: str, *, fresh: bool = False) -> frozenset[str]:
        """Logins in ``org/slug``. A team GitHub does not show us has no members: fail closed.

        ``fresh`` skips the cache (and refreshes it) for a decision that acts, such as a merge;
        a read from GitHub made in the last :data:`FRESH_WITHIN_SECONDS` stands for one.
        """
        known = self._read.get(team) if fresh else self._cache.get(team)
        return known if known is not None else self.read(team)

    def read(self, team: str) -> frozenset[str]:
        """Logins in ``org/slug`` as GitHub answers now; refreshes the cache."""
        org_login, sep, slug = team.partition("/")
        if not sep or not org_login or not slug:
            return frozenset()
        path = f"/orgs/{quote(org_login, safe='')}/teams/{quote(slug, safe='')}/members"
        with github_errors(f"list members of team {team}"):
            try:
                listed = self._lists.get(path)
                logins = frozenset(
                    str(m["login"]) for m in listed.items if isinstance(m, dict) and m.get("login")
                )
            except UnknownObjectException:
                # A typo in a policy or a missing members:read permission: nobody counts,
                # so approvals stay pending rather than being granted by accident.
                logins = frozenset()
        self._cache.put(team, logins)
        self._read.put(team, logins)
        return logins

    def learned(self, team: str, logins: frozenset[str]) -> None:
        """What GitHub answered for ``team`` just now through another read (a GraphQL
        query that also read the reviews): as fresh as a read of its own."""
        self._cache.put(team, logins)
        self._read.put(team, logins)

    def start(self, teams: Iterable[str]) -> dict[str, Future[frozenset[str]]]:
        """Begin reading ``teams`` from GitHub on the workers."""
        return {team: self._pool.submit(self.read, team) for team in sorted(set(teams))}

    def memberships(
        self, teams: Iterable[str], *, fresh: bool = False
    ) -> Mapping[str, frozenset[str]]:
        wanted = sorted(set(teams))
        if len(wanted) <= 1:
            return frozen_map({team: self.members(team, fresh=fresh) for team in wanted})
        started = {team: self._pool.submit(self.members, team, fresh=fresh) for team in wanted}
        return frozen_map({team: future.result() for team, future in started.items()})

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
