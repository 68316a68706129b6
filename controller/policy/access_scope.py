"""Which policies judge an access request, at which tier, and what is wrong with it.

An access request is judged like a change of the secrets it reads: a policy covers it when
the policy governs ``access`` (``spec.actions``), and its environments, secret globs and
tiers match every secret asked for. The tier is the secret's tier now (stored, else the
environment's default, raised to its floor): reading a critical secret is judged at
critical, whatever the request says. Every covering policy applies, so the strictest wins.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from controller.model import (
    GOVERNANCE,
    AccessRequest,
    Action,
    Environment,
    Policy,
    PullRequestFacts,
    SecretAccess,
    Tier,
    Unmatched,
)
from controller.policy.agents import agent_allowed
from controller.policy.people import login_key
from controller.policy.scope import covers_secret
from controller.policy.text import duration
from controller.policy.tiers import secret_tier

SERVICE_ACCOUNT_PREFIX = "system:serviceaccount:"


def covers_access(policy: Policy, environment: str, secret: str, tier: Tier) -> bool:
    """Action ``access``, environment, secret glob and tier."""
    return Action.ACCESS in policy.actions and covers_secret(policy, environment, secret, tier)


def access_tiers(
    request: AccessRequest, environment: Environment, current_tiers: Mapping[str, Tier]
) -> dict[str, Tier]:
    """``<env>/<namespace>/<name>`` -> the tier reading it is judged at."""
    return {
        f"{request.environment}/{item.secret}": secret_tier(
            environment,
            item.secret,
            current_tiers.get(f"{request.environment}/{item.secret}"),
        )
        for item in request.secrets
    }


def covering_policies(
    request: AccessRequest,
    tiers: Mapping[str, Tier],
    policies: Sequence[Policy],
) -> list[Policy]:
    """Every policy covering some secret of ``request`` (in ``policies`` order)."""
    return [
        policy
        for policy in policies
        if any(
            covers_access(policy, request.environment, item.secret, tiers[_path(request, item)])
            for item in request.secrets
        )
    ]


@dataclass(slots=True)
class AccessScope:
    """The policies a set of access requests brings in, and what is wrong with them."""

    applicable: list[Policy] = field(default_factory=list)
    tiers: dict[str, Tier] = field(default_factory=dict)
    invalid: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def scope_access(
    environments: Mapping[str, Environment],
    policies: Sequence[Policy],
    requests: Sequence[AccessRequest],
    facts: PullRequestFacts,
) -> AccessScope:
    """Tiers, applicable policies (in ``policies`` order), and the requests that are invalid:
    a requester other than the author, a duration over a policy's ``maxDuration``, a secret
    no policy covers where the environment denies unmatched requests, or allows them while
    a policy judges changes of that secret."""
    scope = AccessScope()
    applicable: set[str] = set()
    for request in requests:
        where = request.source or request.name
        refused = requester_problem(request, facts)
        if refused is not None:
            scope.invalid.append(refused)
        environment = environments.get(request.environment)
        if request.environment == GOVERNANCE or environment is None:
            known = ", ".join(sorted(environments)) or "none are defined"
            scope.invalid.append(
                f"{where}: spec.environment: environment '{request.environment}' does not exist"
                f" in environments/ of the base commit (known: {known}); fix the name."
            )
            continue
        if refused is None and _vouched_agent(request, facts):
            # Asking was allowed when the agent asked; the base's spec.agents must still
            # allow it when the request is judged, or revoking an agent leaves its pending
            # requests to be granted.
            scope.invalid.extend(_agent_refusals(request, environment))
        tiers = access_tiers(request, environment, facts.current_tiers)
        for path, tier in tiers.items():
            scope.tiers[path] = Tier.highest(tier, scope.tiers.get(path, tier))
        covering = covering_policies(request, tiers, policies)
        applicable.update(policy.name for policy in covering)
        scope.invalid.extend(_too_long(request, covering))
        for item in request.secrets:
            path = _path(request, item)
            if any(
                covers_access(p, request.environment, item.secret, tiers[path]) for p in covering
            ):
                continue
            guarded = _changes_guarded(policies, request.environment, item.secret, tiers[path])
            if environment.unmatched is Unmatched.ALLOW and guarded:
                # ``unmatched: allow`` predates access requests: it must not let anyone
                # read, with no approval at all, a secret whose every change needs one.
                scope.invalid.append(
                    f"{where}: access to {path} (tier {tiers[path]}) is covered by no policy,"
                    f" while policy {', '.join(guarded)} judges changes of it; reading a"
                    " secret needs approval wherever changing it does, even where the"
                    f" environment '{environment.name}' allows unmatched requests: add"
                    " access to that policy's spec.actions, or a policy for access."
                )
            elif environment.unmatched is Unmatched.ALLOW:
                scope.notes.append(
                    f"{where}: access to {path} (tier {tiers[path]}) is covered by no policy;"
                    f" environment '{environment.name}' allows unmatched requests, so it needs"
                    " no approval."
                )
            else:
                scope.invalid.append(
                    f"{where}: access to {path} (tier {tiers[path]}) is covered by no policy"
                    f" and environment '{environment.name}' denies unmatched requests; add a"
                    " policy with spec.actions listing access whose environments, secrets and"
                    " tiers cover it."
                )
    scope.applicable = [policy for policy in policies if policy.name in applicable]
    return scope


def requester_problem(request: AccessRequest, facts: PullRequestFacts) -> str | None:
    """Why ``request``'s requester may not ask through this pull request, or None.

    A person asks for themselves: the requester is the author. An agent cannot open a pull
    request, so the controller opens one for it; then, and only then, the requester is the
    agent: the author must be the controller's own login and the store must hold the
    durable record of exactly this file (``facts.agent_requests``, matched by path and
    bytes) naming this requester. Someone who pushes to that branch, edits the file, or
    names an agent in a pull request of their own gets an invalid request, never a grant.
    """
    where = request.source or request.name
    author = login_key(facts.author)
    bot = login_key(facts.bot_login) if facts.bot_login else None
    if author == bot:
        vouched = facts.agent_requests.get(request.source)
        if vouched is None or vouched != request.requester:
            return (
                f"{where}: spec.requester: '{request.requester}' is not an agent request"
                " the controller recorded for exactly this file: a pull request the"
                " controller opened carries only the file it wrote; close it and ask again"
                " through POST /v1/access-requests."
            )
        # Commit metadata is forgeable (and GitHub may commit for the controller), so the
        # bytes digest guards the content; known pushers are who really wrote the branch.
        others = sorted({login_key(p.pusher) for p in facts.pushes} - {bot})
        if others:
            return (
                f"{where}: spec.requester: the controller's pull request for"
                f" '{request.requester}' was pushed to by {', '.join(others)}: only the"
                " controller writes to its branch; close it and ask again."
            )
        return None
    if login_key(request.requester) != author:
        return (
            f"{where}: spec.requester: '{request.requester}' is not the author of the pull"
            f" request ({author}); access is asked for by the person who"
            " will use it: open the pull request as them, or name the author."
        )
    return None


def _vouched_agent(request: AccessRequest, facts: PullRequestFacts) -> bool:
    bot = login_key(facts.bot_login) if facts.bot_login else None
    return (
        bot is not None
        and login_key(facts.author) == bot
        and facts.agent_requests.get(request.source) == request.requester
    )


def _agent_refusals(request: AccessRequest, environment: Environment) -> list[str]:
    """``spec.agents`` of ``environment`` for the agent ``request.requester`` names
    (``system:serviceaccount:<namespace>:<name>@<cluster>``)."""
    where = request.source or request.name
    account, _, cluster = request.requester.rpartition("@")
    parts = account.removeprefix(SERVICE_ACCOUNT_PREFIX).split(":")
    if not account.startswith(SERVICE_ACCOUNT_PREFIX) or len(parts) != 2 or not cluster:
        return [f"{where}: spec.requester: '{request.requester}' is not an agent's name"]
    refusals = (
        agent_allowed(environment, parts[0], parts[1], cluster, item.secret)
        for item in request.secrets
    )
    return [f"{where}: {refused}" for refused in dict.fromkeys(refusals) if refused is not None]


def _too_long(request: AccessRequest, covering: Sequence[Policy]) -> list[str]:
    where = request.source or request.name
    return [
        f"{where}: spec.duration: {duration(request.duration)} is longer than the"
        f" {duration(policy.max_duration)} policy '{policy.name}' allows (spec.maxDuration);"
        " ask for less."
        for policy in covering
        if policy.max_duration is not None and request.duration > policy.max_duration
    ]


def _changes_guarded(
    policies: Sequence[Policy], environment: str, secret: str, tier: Tier
) -> list[str]:
    """The policies judging changes of ``secret`` at ``tier`` (and not access)."""
    return [
        policy.name
        for policy in policies
        if Action.CHANGE in policy.actions and covers_secret(policy, environment, secret, tier)
    ]


def _path(request: AccessRequest, item: SecretAccess) -> str:
    return f"{request.environment}/{item.secret}"
