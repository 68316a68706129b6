"""ServiceAccount tokens: the ``token`` subresource (TokenRequest) and TokenReview.

Tokens are ES256-signed JWTs with the claims a real API server puts in a bound token (iss,
sub, aud, exp, iat, nbf, jti and the ``kubernetes.io`` claim naming the ServiceAccount and
its uid). A review refuses what kube-apiserver refuses, in its words and in its order: a
foreign or malformed token, a bad signature, audiences that do not meet, an expired or not
yet valid token, a ServiceAccount that is gone or was re-created (its uid differs). A refusal
is an answer (``status.authenticated: false`` with ``status.error``), not an HTTP error.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from controller.sandbox.kube_server import errors
from controller.sandbox.kube_server.errors import ApiError
from controller.sandbox.kube_server.resources import (
    SERVICEACCOUNTS,
    TOKEN_SUBRESOURCE,
    TOKENREVIEWS,
    ResourceType,
)
from controller.sandbox.kube_server.rollout import timestamp
from controller.sandbox.kube_server.state import ObjectStore

ISSUER = "https://kubernetes.default.svc.cluster.local"
# What the server itself accepts when a request or a review names no audience.
API_AUDIENCES: tuple[str, ...] = (ISSUER,)
DEFAULT_EXPIRATION_S = 3600
MIN_EXPIRATION_S = 600
MAX_EXPIRATION_S = 1 << 32
# go-jose's default clock leeway, which kube-apiserver's claim validation uses.
LEEWAY_S = 60
AUTHN_VERSION = "authentication.k8s.io/v1"
CREDENTIAL_ID = "authentication.kubernetes.io/credential-id"
_INVALID = "invalid bearer token"


def serves(rtype: ResourceType, subresource: str | None) -> bool:
    """True for the requests this module answers instead of the object store."""
    if rtype is TOKENREVIEWS:
        return True
    return rtype is SERVICEACCOUNTS and subresource == TOKEN_SUBRESOURCE.name


def _refused(reason: str | None = None) -> dict[str, Any]:
    # kube-apiserver aggregates its authenticators' errors in brackets.
    error = _INVALID if reason is None else f"[{_INVALID}, {reason}]"
    return {"authenticated": False, "user": {}, "error": error}


def _quoted(values: list[str]) -> str:
    """Go's ``%q`` of a string slice: ``["a" "b"]``."""
    return "[" + " ".join(json.dumps(v) for v in values) + "]"


def _string_list(value: Any, field: str, kind: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise errors.bad_request(
            f'{kind} in version "v1" cannot be handled: {field} must be a list of strings'
        )
    return list(value)


class TokenAuthority:
    """Signs and reviews the tokens of one loopback cluster (one signing key per server)."""

    def __init__(self, store: ObjectStore, *, clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._clock = clock
        self._key = ec.generate_private_key(ec.SECP256R1())
        der = self._key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self.key_id = base64.urlsafe_b64encode(hashlib.sha256(der).digest()).decode().rstrip("=")

    # --- issuing -------------------------------------------------------------------------

    def issue(
        self, namespace: str, name: str, audiences: list[str], expires_s: int
    ) -> tuple[str, int]:
        """A token for an existing ServiceAccount and its expiry (epoch seconds). Any
        ``expires_s`` is accepted here, zero or negative too (already expired tokens for
        tests); the HTTP path enforces the API's bounds."""
        account = self._store.get(SERVICEACCOUNTS, namespace, name)
        now = int(self._clock())
        expiry = now + expires_s
        claims = {
            "aud": list(audiences or API_AUDIENCES),
            "exp": expiry,
            "iat": now,
            "iss": ISSUER,
            "jti": str(uuid.uuid4()),
            "kubernetes.io": {
                "namespace": namespace,
                "serviceaccount": {"name": name, "uid": account["metadata"]["uid"]},
            },
            "nbf": now,
            "sub": f"system:serviceaccount:{namespace}:{name}",
        }
        token = jwt.encode(claims, self._key, algorithm="ES256", headers={"kid": self.key_id})
        return token, expiry

    def token_request(
        self, namespace: str, name: str, body: dict[str, Any], *, dry_run: bool
    ) -> dict[str, Any]:
        """``POST .../serviceaccounts/{name}/token``: the TokenRequest, its status filled in."""
        spec = body.get("spec") or {}
        if not isinstance(spec, dict):
            raise errors.bad_request("TokenRequest spec must be an object")
        audiences = _string_list(spec.get("audiences"), "spec.audiences", "TokenRequest")
        seconds = spec.get("expirationSeconds")
        seconds = DEFAULT_EXPIRATION_S if seconds is None else seconds
        if not isinstance(seconds, int) or isinstance(seconds, bool):
            raise errors.bad_request("TokenRequest spec.expirationSeconds must be an integer")
        problem = None
        if seconds < MIN_EXPIRATION_S:
            problem = "may not specify a duration less than 10 minutes"
        elif seconds > MAX_EXPIRATION_S:
            problem = "may not specify a duration larger than 2^32 seconds"
        if problem is not None:
            raise ApiError(
                422,
                f'TokenRequest.authentication.k8s.io "{name}" is invalid: '
                f"spec.expirationSeconds: Invalid value: {seconds}: {problem}",
                reason="Invalid",
                details={
                    "name": name,
                    "group": "authentication.k8s.io",
                    "kind": "TokenRequest",
                    "causes": [
                        {
                            "reason": "FieldValueInvalid",
                            "message": f"Invalid value: {seconds}: {problem}",
                            "field": "spec.expirationSeconds",
                        }
                    ],
                },
            )
        audiences = audiences or list(API_AUDIENCES)
        status: dict[str, Any] = {"token": "", "expirationTimestamp": None}
        if dry_run:
            self._store.get(SERVICEACCOUNTS, namespace, name)
            status["expirationTimestamp"] = timestamp(self._clock() + seconds)
        else:
            token, expiry = self.issue(namespace, name, audiences, seconds)
            status = {"token": token, "expirationTimestamp": timestamp(expiry)}
        return {
            "kind": "TokenRequest",
            "apiVersion": AUTHN_VERSION,
            "metadata": {"name": name, "namespace": namespace, "creationTimestamp": None},
            "spec": {
                "audiences": audiences,
                "expirationSeconds": seconds,
                "boundObjectRef": spec.get("boundObjectRef"),
            },
            "status": status,
        }

    # --- reviewing -----------------------------------------------------------------------

    def authenticate(self, token: str, audiences: list[str]) -> dict[str, Any]:
        """A TokenReview ``status`` for ``token`` checked against ``audiences`` (empty: the
        server's own)."""
        wanted = audiences or list(API_AUDIENCES)
        try:
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            return _refused()
        if not isinstance(unverified, dict) or unverified.get("iss") != ISSUER:
            return _refused()
        try:
            claims = jwt.decode(
                token,
                self._key.public_key(),
                algorithms=["ES256"],
                options={
                    "verify_aud": False,
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_iat": False,
                },
            )
        except jwt.PyJWTError:
            return _refused("go-jose/go-jose: error in cryptographic primitive")
        granted = claims.get("aud") or list(API_AUDIENCES)
        granted = [granted] if isinstance(granted, str) else list(granted)
        meet = [a for a in granted if a in wanted]
        if not meet:
            return _refused(
                f"token audiences {_quoted(granted)} is invalid for the target audiences "
                f"{_quoted(wanted)}"
            )
        now = self._clock()
        if "exp" in claims and now > float(claims["exp"]) + LEEWAY_S:
            return _refused("service account token has expired")
        if "nbf" in claims and now < float(claims["nbf"]) - LEEWAY_S:
            return _refused("service account token is not valid yet")
        if "iat" in claims and now < float(claims["iat"]) - LEEWAY_S:
            return _refused("service account token is issued in the future")
        private = claims.get("kubernetes.io") or {}
        namespace = str(private.get("namespace", ""))
        account_ref = private.get("serviceaccount") or {}
        name, uid = str(account_ref.get("name", "")), str(account_ref.get("uid", ""))
        account = self._store.find(SERVICEACCOUNTS, namespace, name)
        if account is None:
            return _refused(f'serviceaccount "{name}" not found')
        if account["metadata"]["uid"] != uid:
            return _refused(
                f"service account UID ({account['metadata']['uid']}) does not match claim ({uid})"
            )
        return {
            "authenticated": True,
            "user": {
                "username": f"system:serviceaccount:{namespace}:{name}",
                "uid": uid,
                "groups": [
                    "system:serviceaccounts",
                    f"system:serviceaccounts:{namespace}",
                    "system:authenticated",
                ],
                "extra": {CREDENTIAL_ID: [f"JTI={claims.get('jti', '')}"]},
            },
            "audiences": meet,
        }

    def token_review(self, body: dict[str, Any]) -> dict[str, Any]:
        """``POST /apis/authentication.k8s.io/v1/tokenreviews``: the review, status filled in."""
        spec = body.get("spec") or {}
        if not isinstance(spec, dict):
            raise errors.bad_request("TokenReview spec must be an object")
        token = spec.get("token")
        if not isinstance(token, str) or not token:
            raise errors.bad_request("token is required for TokenReview in authentication")
        audiences = _string_list(spec.get("audiences"), "spec.audiences", "TokenReview")
        # kube-apiserver echoes the spec back, token included, as a real one does.
        return {
            "kind": "TokenReview",
            "apiVersion": AUTHN_VERSION,
            "metadata": {"creationTimestamp": None},
            "spec": spec,
            "status": self.authenticate(token, audiences),
        }

    def serve(
        self,
        rtype: ResourceType,
        namespace: str | None,
        name: str,
        body: dict[str, Any],
        *,
        dry_run: bool,
    ) -> dict[str, Any]:
        """Answer a request ``serves`` accepted (always a create)."""
        if rtype is TOKENREVIEWS:
            return self.token_review(body)
        return self.token_request(namespace or "", name, body, dry_run=dry_run)
