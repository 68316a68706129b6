"""REST handlers for accounts and apps: users, teams, collaborators, installations, rate limit."""

from __future__ import annotations

from controller.sandbox.github_server.auth import issue_installation_token
from controller.sandbox.github_server.context import Ctx, Reply, paginate
from controller.sandbox.github_server.errors import ApiError, not_found
from controller.sandbox.github_server.limits import graphql_key
from controller.sandbox.github_server.render import ts
from controller.sandbox.github_server.state import Team


def get_authenticated_user(ctx: Ctx) -> Reply:
    if ctx.identity.app_id is not None:
        raise ApiError(403, "Resource not accessible by integration")
    user = ctx.hub.world.user(ctx.actor())
    if user is None:
        raise not_found()
    return Reply(200, ctx.hub.render.private_user(user), last_modified=user.created_at)


def get_user(ctx: Ctx, username: str) -> Reply:
    user = ctx.hub.world.user(username)
    if user is None:
        raise not_found()
    return Reply(200, ctx.hub.render.public_user(user), last_modified=user.created_at)


def get_org(ctx: Ctx, org: str) -> Reply:
    """The organisation: GitHub's `organization-full` fields that the loopback can fill."""
    account = ctx.hub.world.user(org)
    if account is None or account.type != "Organization":
        raise not_found()
    body = {
        **ctx.hub.organization(account.login),
        "name": account.login,
        "html_url": f"{ctx.hub.render.web}/{account.login}",
        "type": "Organization",
        "created_at": ts(account.created_at),
        "updated_at": ts(account.created_at),
        "public_repos": sum(
            1 for r in ctx.hub.world.repos.values() if r.owner.lower() == org.lower()
        ),
        "followers": 0,
        "following": 0,
        "public_gists": 0,
        "archived_at": None,
        "has_organization_projects": False,
        "has_repository_projects": False,
    }
    return Reply(200, body, last_modified=account.created_at)


def _team(ctx: Ctx, org: str, team_slug: str) -> Team:
    team = ctx.hub.world.teams.get((org.lower(), team_slug.lower()))
    if team is None:
        raise not_found()
    return team


def team_membership(ctx: Ctx, org: str, team_slug: str, username: str) -> Reply:
    team = _team(ctx, org, team_slug)
    member = next((m for m in team.members if m.lower() == username.lower()), None)
    if member is None:
        raise not_found()
    return Reply(200, ctx.hub.render.team_membership(team, member))


def get_team(ctx: Ctx, org: str, team_slug: str) -> Reply:
    """`team-full`: the `team` fields plus counts, times and the organisation."""
    team = _team(ctx, org, team_slug)
    account = ctx.hub.world.user(team.org)
    created = ts(account.created_at) if account is not None else None
    body = {
        **ctx.hub.render.team(team),
        "created_at": created,
        "updated_at": created,
        "members_count": len(team.members),
        "repos_count": 0,
        "organization": get_org(ctx, team.org).body,
    }
    return Reply(200, body)


def is_team_member(ctx: Ctx, org: str, team_slug: str, username: str) -> Reply:
    """The legacy "check membership" call PyGithub's `Team.has_in_members` makes: 204 or 404."""
    team = _team(ctx, org, team_slug)
    if all(m.lower() != username.lower() for m in team.members):
        raise not_found()
    return Reply(204, None)


def team_members(ctx: Ctx, org: str, team_slug: str) -> Reply:
    team = _team(ctx, org, team_slug)
    return paginate(ctx, sorted(team.members, key=str.lower), ctx.hub.render.user)


def collaborator_permission(ctx: Ctx, owner: str, repo: str, username: str) -> Reply:
    r = ctx.hub.repo(owner, repo)
    user = ctx.hub.world.user(username)
    if user is None:
        raise ApiError(404, f"{username} is not a user")
    role = ctx.hub.world.permission(r, user.login)
    # The classic field folds GitHub's newer roles into admin/write/read/none.
    classic = {"maintain": "write", "triage": "read"}.get(role, role)
    account = {**ctx.hub.render.user(user.login), "role_name": role}
    body = {"permission": classic, "role_name": role, "user": account}
    return Reply(200, body)


def create_installation_token(ctx: Ctx, installation_id: int) -> Reply:
    token = issue_installation_token(ctx.hub.world, ctx.identity, installation_id)
    app = ctx.hub.world.app_for_installation(installation_id)
    assert app is not None
    body = {
        "token": token.token,
        "expires_at": ts(token.expires_at),
        "permissions": ctx.hub.render.integration(app)["permissions"],
        "repository_selection": "all",
    }
    return Reply(201, body)


def _require_app_jwt(ctx: Ctx) -> int:
    if not ctx.identity.is_app_jwt or ctx.identity.app_id is None:
        raise ApiError(
            401,
            "A JSON web token could not be decoded",
        )
    return ctx.identity.app_id


def get_app(ctx: Ctx) -> Reply:
    app_id = _require_app_jwt(ctx)
    return Reply(200, ctx.hub.render.integration(ctx.hub.world.apps[app_id]))


def get_installation(ctx: Ctx, installation_id: int) -> Reply:
    app_id = _require_app_jwt(ctx)
    app = ctx.hub.world.app_for_installation(installation_id)
    if app is None or app.id != app_id:
        raise not_found()
    return Reply(200, ctx.hub.render.installation(app))


def repo_installation(ctx: Ctx, owner: str, repo: str) -> Reply:
    app_id = _require_app_jwt(ctx)
    ctx.hub.repo(owner, repo)
    app = ctx.hub.world.apps[app_id]
    if app.owner.lower() != owner.lower():
        raise not_found()
    return Reply(200, ctx.hub.render.installation(app))


def rate_limit(ctx: Ctx) -> Reply:
    bucket = ctx.limiter.peek(ctx.identity.key)
    core = {
        "limit": bucket.limit,
        "used": bucket.used,
        "remaining": bucket.remaining,
        "reset": bucket.reset,
    }
    search = {"limit": 30, "used": 0, "remaining": 30, "reset": bucket.reset}
    spent = ctx.limiter.peek(graphql_key(ctx.identity.key))
    graphql = {
        "limit": spent.limit,
        "used": spent.used,
        "remaining": spent.remaining,
        "reset": spent.reset,
    }
    body = {"resources": {"core": core, "search": search, "graphql": graphql}, "rate": core}
    return Reply(200, body)


ROUTES = [
    ("GET", "/user", get_authenticated_user),
    ("GET", "/users/{username}", get_user),
    ("GET", "/orgs/{org}", get_org),
    ("GET", "/orgs/{org}/teams/{team_slug}/memberships/{username}", team_membership),
    ("GET", "/orgs/{org}/teams/{team_slug}/members", team_members),
    ("GET", "/orgs/{org}/teams/{team_slug}/members/{username}", is_team_member),
    ("GET", "/orgs/{org}/teams/{team_slug}", get_team),
    ("GET", "/repos/{owner}/{repo}/collaborators/{username}/permission", collaborator_permission),
    ("POST", "/app/installations/{installation_id}/access_tokens", create_installation_token),
    ("GET", "/app", get_app),
    ("GET", "/app/installations/{installation_id}", get_installation),
    ("GET", "/repos/{owner}/{repo}/installation", repo_installation),
    ("GET", "/rate_limit", rate_limit),
]
