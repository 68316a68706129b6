"""The agents API, wired: the pipeline over the reconciler, the store and GitHub, the
TokenReview of the configured clusters, and the HTTP handler around them."""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime

from controller.config import ControllerConfig
from controller.github import GitHubClient, GitHubGateway
from controller.github.agent_pulls import AgentPulls
from controller.kube import KubeTargets, review_token
from controller.model import AgentIdentity, Grant
from controller.reconciler import Reconciler
from controller.reconciler.access_open import AccessOpener
from controller.reconciler.agent_requests import AgentRequestFlow
from controller.reconciler.ports import GrantsPort, Observer
from controller.reconciler.status import RequestStatus
from controller.server.agents_api import AgentsApi
from controller.store import Store

REVIEW_CACHE_SECONDS = 10.0
"""How long a token a cluster vouched for is trusted without asking again: long enough that a
polling agent costs no TokenReview per poll, short enough that a deleted ServiceAccount is
refused within seconds (kube-apiserver keeps its own token answers about as long)."""
_REVIEW_CACHE_ENTRIES = 4096


class KubeTokenReviewer:
    """``review_token`` against the configured clusters, remembering each answer that
    vouched for a token for :data:`REVIEW_CACHE_SECONDS`, by a SHA-256 of the token (never the
    token). Refusals are never remembered: a refused token costs a review each time, as it
    should (the rate limits bound it)."""

    def __init__(
        self,
        targets: KubeTargets,
        *,
        ttl_s: float = REVIEW_CACHE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._targets = targets
        self._ttl = ttl_s
        self._clock = clock
        self._lock = threading.Lock()
        self._vouched: OrderedDict[tuple[str, str, str], tuple[float, AgentIdentity]] = (
            OrderedDict()
        )

    def review(self, cluster: str, token: str, audience: str) -> AgentIdentity:
        key = (cluster, hashlib.sha256(token.encode()).hexdigest(), audience)
        now = self._clock()
        with self._lock:
            found = self._vouched.get(key)
            if found is not None and now < found[0]:
                return found[1]
        identity = review_token(self._targets.api(cluster), token, audience)
        with self._lock:
            self._vouched[key] = (now + self._ttl, identity)
            self._vouched.move_to_end(key)
            while len(self._vouched) > _REVIEW_CACHE_ENTRIES:
                self._vouched.popitem(last=False)
        return identity

    def clusters(self) -> tuple[str, ...]:
        return self._targets.clusters


def agents_api(
    config: ControllerConfig,
    *,
    client: GitHubClient,
    gateway: GitHubGateway,
    store: Store,
    targets: KubeTargets,
    reconciler: Reconciler,
    observer: Observer,
) -> tuple[AgentsApi, AgentRequestFlow] | None:
    """The handler and the pipeline when ``api.agents.enabled``, else None (no routes).
    Hooks the pipeline into ``reconciler`` (``Reconciler.agents``)."""
    settings = config.api.agents
    if not settings.enabled:
        return None
    repo = config.github.repository

    def clock() -> datetime:
        return datetime.now(UTC)

    flow = AgentRequestFlow(
        repo=repo,
        github=gateway,
        pulls=AgentPulls(client),
        records=store,
        store=store,
        handle=reconciler.handle,
        clock=clock,
        controller_namespace=config.leader_election.namespace,
    )
    reconciler.agents = flow
    grants: GrantsPort = store

    def pass_of(number: int) -> RequestStatus | None:
        return reconciler.status(repo, number)

    def grant_of(grant_id: str) -> Grant | None:
        return store.grant(grant_id)

    api = AgentsApi(
        flow=flow,
        records=store,
        audit=store,
        reviewer=KubeTokenReviewer(targets),
        opener=AccessOpener(grants, store, clock=clock, observer=observer),
        grant_of=grant_of,
        pass_of=pass_of,
        clusters_of=reconciler.environment_clusters,
        audience=settings.audience,
        rate_per_minute=settings.rate_per_minute,
        address_rate_per_minute=settings.address_rate_per_minute,
        max_wait_s=settings.max_wait_s,
    )
    return api, flow
