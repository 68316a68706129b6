"""Who a request is: personal tokens, installation tokens, and GitHub App JWTs (RS256)."""

from __future__ import annotations

import jwt

from controller.sandbox.github_server.errors import ApiError
from controller.sandbox.github_server.state import Identity, InstallationToken, World, now

MAX_JWT_LIFETIME_SECONDS = 600  # GitHub refuses app JWTs that live longer than ten minutes


def bad_credentials() -> ApiError:
    return ApiError(401, "Bad credentials", spends_budget=False)


def identify(world: World, authorization: str | None) -> Identity:
    """The caller behind an `Authorization` header (`token X` or `Bearer X`); 401 when unknown."""
    if not authorization:
        return Identity(login=None)
    scheme, _, credential = authorization.strip().partition(" ")
    credential = credential.strip()
    if scheme.lower() not in ("token", "bearer") or not credential:
        raise bad_credentials()
    with world.lock:
        login = world.personal_tokens.get(credential)
        if login is not None:
            return Identity(login=login)
        installation = world.installation_tokens.get(credential)
        if installation is not None:
            if installation.expires_at <= now():
                raise bad_credentials()
            app = world.app_for_installation(installation.installation_id)
            if app is None:
                raise bad_credentials()
            return Identity(login=app.bot_login, app_id=app.id, installation_id=app.installation_id)
    if credential.count(".") == 2:
        return _app_jwt(world, credential)
    raise bad_credentials()


def _app_jwt(world: World, token: str) -> Identity:
    try:
        unverified = jwt.decode(token, options={"verify_signature": False})
        app_id = int(unverified["iss"])
    except (jwt.PyJWTError, KeyError, TypeError, ValueError) as exc:
        raise bad_credentials() from exc
    app = world.apps.get(app_id)
    if app is None:
        raise ApiError(401, "Integration not found")
    try:
        claims = jwt.decode(
            token,
            app.public_key_pem,
            algorithms=["RS256"],
            options={"require": ["exp", "iat", "iss"], "verify_iss": False},
            leeway=60,
        )
    except jwt.ExpiredSignatureError as exc:
        raise ApiError(
            401,
            "'Expiration time' claim ('exp') must be a numeric value representing the future "
            "time at which the assertion expires",
        ) from exc
    except jwt.PyJWTError as exc:
        raise ApiError(401, "A JSON web token could not be decoded") from exc
    if int(claims["exp"]) - int(claims["iat"]) > MAX_JWT_LIFETIME_SECONDS + 60:
        raise ApiError(401, "'Expiration time' claim ('exp') is too far in the future")
    return Identity(login=None, app_id=app.id, is_app_jwt=True)


def issue_installation_token(
    world: World, identity: Identity, installation_id: int
) -> InstallationToken:
    """An installation token (one hour, as on GitHub, unless the control API shortened it)."""
    if not identity.is_app_jwt:
        raise ApiError(401, "A JSON web token could not be decoded")
    with world.lock:
        app = world.app_for_installation(installation_id)
        if app is None or app.id != identity.app_id:
            raise ApiError(404, "Not Found")
        token = InstallationToken(
            token=world.new_token("ghs_"),
            installation_id=installation_id,
            expires_at=now() + world.installation_token_lifetime,
        )
        world.installation_tokens[token.token] = token
        return token
