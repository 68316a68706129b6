"""Team memberships, cached briefly.

Policies name teams as ``org/slug``. Membership changes rarely and every evaluation needs
it, so answers are kept for a short TTL (60 s by default): long enough that a burst of
review events costs one request per team, short enough that removing someone from a team
takes effect within a minute. A merge does not wait that minute: the reconciler reads the
teams its decision relied on again with ``fresh=True`` right before merging.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping

from github.GithubException import UnknownObjectException

from controller.github.cache import TtlCache
from controller.github.client import GitHubClient
from controller.github.failures import github_errors
from controller.model import frozen_map

DEFAULT_TTL_SECONDS = 60.0


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

    def members(self, team: str, *, fresh: bool = False) -> frozenset[str]:
        """Logins in ``org/slug``. A team GitHub does not show us has no members: fail closed.

        ``fresh`` skips the cache (and refreshes it) for a decision that acts, such as a merge.
        """
        cached = None if fresh else self._cache.get(team)
        if cached is not None:
            return cached
        org_login, sep, slug = team.partition("/")
        if not sep or not org_login or not slug:
            return frozenset()
        with github_errors(f"list members of team {team}"):
            try:
                org = self._client.github.get_organization(org_login)
                logins = frozenset(m.login for m in org.get_team_by_slug(slug).get_members())
            except UnknownObjectException:
                # A typo in a policy or a missing members:read permission: nobody counts,
                # so approvals stay pending rather than being granted by accident.
                logins = frozenset()
        self._cache.put(team, logins)
        return logins

    def memberships(
        self, teams: Iterable[str], *, fresh: bool = False
    ) -> Mapping[str, frozenset[str]]:
        return frozen_map({team: self.members(team, fresh=fresh) for team in sorted(set(teams))})
