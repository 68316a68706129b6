"""`/repos/{owner}/{repo}/pulls/{pull_number}/requested_reviewers`: GET, POST and DELETE.

As GitHub does: asking needs the triage role or more; the whole request is refused
(422, nothing added) when it names the pull request's author, an account that is not a
collaborator, or a team the repository's owner does not have; asking someone already asked
changes nothing, and a review removes its author from the requested reviewers (see
``Hub.create_review``). Team access to the repository is not imitated: any team of the
owner counts.
"""

from __future__ import annotations

from typing import Any

from controller.sandbox.github_server.context import Ctx, Reply
from controller.sandbox.github_server.errors import ApiError, unprocessable
from controller.sandbox.github_server.state import Pull, Repo, now


def _names(body: dict[str, Any], key: str) -> list[str]:
    value = body.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ApiError(
            422,
            "Invalid request.\n\nFor 'properties/" + key + "', it is not an array of strings.",
        )
    return list(dict.fromkeys(value))


def _asked(ctx: Ctx, owner: str, repo: str, pull_number: int) -> tuple[Repo, Pull, Any]:
    actor = ctx.actor()
    r = ctx.hub.repo(owner, repo)
    pull = ctx.hub.pull(r, pull_number)
    ctx.hub.require(r, actor, "triage")
    return r, pull, ctx.json()


def list_requested(ctx: Ctx, owner: str, repo: str, pull_number: int) -> Reply:
    r = ctx.hub.repo(owner, repo)
    pull = ctx.hub.pull(r, pull_number)
    world = ctx.hub.world
    teams = [world.teams.get((r.owner.lower(), slug.lower())) for slug in pull.requested_teams]
    return Reply(
        200,
        {
            "users": [ctx.hub.render.user(login) for login in pull.requested_reviewers],
            "teams": [ctx.hub.render.team(team) for team in teams if team is not None],
        },
    )


def request_reviewers(ctx: Ctx, owner: str, repo: str, pull_number: int) -> Reply:
    r, pull, body = _asked(ctx, owner, repo, pull_number)
    world = ctx.hub.world
    users, slugs = _names(body, "reviewers"), _names(body, "team_reviewers")
    if not users and not slugs:
        raise unprocessable("Reviews may only be requested from collaborators.")
    with world.lock:
        accounts: list[str] = []
        for login in users:
            account = world.user(login)
            if account is not None and account.login.lower() == pull.user.lower():
                raise unprocessable("Review cannot be requested from pull request author.")
            if account is None or not world.at_least(world.permission(r, login), "read"):
                raise unprocessable(
                    "Reviews may only be requested from collaborators. One or more of the users"
                    f" or teams you specified is not a collaborator of the {r.full_name}"
                    " repository."
                )
            accounts.append(account.login)
        teams: list[str] = []
        for slug in slugs:
            team = world.teams.get((r.owner.lower(), slug.lower()))
            if team is None:
                raise unprocessable(
                    "Reviews may only be requested from collaborators. One or more of the users"
                    f" or teams you specified is not a collaborator of the {r.full_name}"
                    " repository."
                )
            teams.append(team.slug)
        known = {login.lower() for login in pull.requested_reviewers}
        pull.requested_reviewers += [a for a in accounts if a.lower() not in known]
        known_teams = {slug.lower() for slug in pull.requested_teams}
        pull.requested_teams += [t for t in teams if t.lower() not in known_teams]
        pull.updated_at = now()
    return Reply(201, ctx.hub.render.pull_simple(r, pull))


def remove_requested(ctx: Ctx, owner: str, repo: str, pull_number: int) -> Reply:
    r, pull, body = _asked(ctx, owner, repo, pull_number)
    users = {u.lower() for u in _names(body, "reviewers")}
    slugs = {s.lower() for s in _names(body, "team_reviewers")}
    with ctx.hub.world.lock:
        pull.requested_reviewers = [u for u in pull.requested_reviewers if u.lower() not in users]
        pull.requested_teams = [t for t in pull.requested_teams if t.lower() not in slugs]
        pull.updated_at = now()
    return Reply(200, ctx.hub.render.pull_simple(r, pull))


ROUTES = [
    ("GET", "/repos/{owner}/{repo}/pulls/{pull_number}/requested_reviewers", list_requested),
    ("POST", "/repos/{owner}/{repo}/pulls/{pull_number}/requested_reviewers", request_reviewers),
    ("DELETE", "/repos/{owner}/{repo}/pulls/{pull_number}/requested_reviewers", remove_requested),
]
