"""Who an agent is: its ServiceAccount token, vouched for by its cluster's TokenReview API.

As Vault's Kubernetes auth method does, sealgate does not verify the token itself: it asks
the cluster that issued it (``authentication.k8s.io/v1`` TokenReview, with the audience
sealgate's configuration names), so an expired token, a foreign audience, a forged
signature or a deleted (or deleted and re-created) ServiceAccount are refused by the only
party that knows. The answer must also name the audience asked for and a ServiceAccount
user: a cluster that ignores audiences, or a person's token, is refused here.

The token is a credential: it never appears in a message, a log line or an exception,
and neither does the review's answer (a real API server echoes the token back in it).
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

import urllib3.exceptions
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from controller.errors import ClusterError, CredentialRefused
from controller.kube.api import KubeApi
from controller.model import AgentIdentity

log = logging.getLogger(__name__)

SERVICE_ACCOUNT_PREFIX = "system:serviceaccount:"
# Kubernetes names: a namespace is a DNS label, a ServiceAccount name a DNS subdomain.
_NAMESPACE = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_NAME = re.compile(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?")
MAX_TOKEN_BYTES = 16 * 1024
"""Far above any real token; bigger input is refused before it reaches the cluster."""


def _reason_word(error: str) -> str:
    """The server's free text, reduced to a word a caller may be told."""
    lowered = error.lower()
    if "expired" in lowered or "not valid yet" in lowered or "in the future" in lowered:
        return "expired"
    if "audience" in lowered:
        return "audience"
    if "not found" in lowered or "does not match claim" in lowered or "deleted" in lowered:
        return "unknown-service-account"
    return "invalid"


def _refused(cluster: str, reason: str, why: str) -> CredentialRefused:
    return CredentialRefused(
        f"cluster {cluster}: the ServiceAccount token was refused ({reason}): {why}",
        reason=reason,
    )


def identity_from_review(cluster: str, status: dict[str, Any], audience: str) -> AgentIdentity:
    """The agent a TokenReview `status` vouches for; CredentialRefused unless it does."""
    if status.get("authenticated") is not True:
        error = str(status.get("error") or "")
        reason = _reason_word(error)
        raise _refused(cluster, reason, "the cluster's TokenReview did not authenticate it")
    audiences = status.get("audiences")
    if not isinstance(audiences, list) or audience not in audiences:
        # A cluster that answers without audiences did not check ours: refuse, never assume.
        raise _refused(
            cluster, "audience", f"the cluster did not confirm the audience {audience!r}"
        )
    user = status.get("user") or {}
    username = str(user.get("username") or "")
    uid = str(user.get("uid") or "")
    parts = username.removeprefix(SERVICE_ACCOUNT_PREFIX).split(":")
    if (
        not username.startswith(SERVICE_ACCOUNT_PREFIX)
        or len(parts) != 2
        or not _NAMESPACE.fullmatch(parts[0])
        or not _NAME.fullmatch(parts[1])
        or not uid
    ):
        raise _refused(
            cluster, "not-an-agent", "the token authenticates a user that is not a ServiceAccount"
        )
    return AgentIdentity(namespace=parts[0], name=parts[1], uid=uid, cluster=cluster)


def review_token(cluster: KubeApi, token: str, audience: str) -> AgentIdentity:
    """The ServiceAccount ``token`` proves to be, as ``cluster`` vouches for it with
    ``audience``.

    Raises ``CredentialRefused`` for a token the cluster does not accept (or accepts without
    confirming ``audience``, or for a user that is not a ServiceAccount), ``ClusterError``
    with ``retryable=True`` when the cluster does not answer or fails, and with
    ``retryable=False`` when it refuses sealgate itself (401/403: the controller lacks
    ``create`` on ``tokenreviews``).
    """
    name = cluster.cluster
    if not token or len(token.encode()) > MAX_TOKEN_BYTES or not token.isascii():
        raise _refused(name, "invalid", "the token is empty, too long or not ASCII")
    if not audience:
        raise ValueError("review_token needs the audience sealgate's configuration names")
    body = client.V1TokenReview(
        api_version="authentication.k8s.io/v1",
        kind="TokenReview",
        spec=client.V1TokenReviewSpec(token=token, audiences=[audience]),
    )
    api = client.AuthenticationV1Api(cluster.api_client)
    try:
        response = api.create_token_review(
            body, _preload_content=False, _request_timeout=cluster.request_timeout
        )
        raw = getattr(response, "data", b"")  # a raw HTTP response with _preload_content=False
    except ApiException as exc:
        status = exc.status or 0
        # Unchained on purpose: the exception carries the response body, and whatever
        # echoes a review (a proxy, a debugging server) may echo the token with it.
        if status in (401, 403):
            raise ClusterError(
                f"cluster {name}: create tokenreviews.authentication.k8s.io: sealgate's "
                f"credentials are refused ({status}): grant the controller's ServiceAccount "
                "create on tokenreviews (deploy/rbac/token-review)",
                retryable=False,
            ) from None
        raise ClusterError(
            f"cluster {name}: create tokenreviews.authentication.k8s.io failed (HTTP {status})",
            retryable=status == 429 or status >= 500 or status == 0,
        ) from None
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        raise ClusterError(
            f"cluster {name}: the API server did not answer a TokenReview ({type(exc).__name__})",
            retryable=True,
        ) from exc
    try:
        answer = json.loads(raw or b"{}")
    except ValueError:
        answer = None
    if not isinstance(answer, dict) or not isinstance(answer.get("status"), dict):
        raise ClusterError(
            f"cluster {name}: the TokenReview answer is not a TokenReview", retryable=True
        )
    identity = identity_from_review(name, answer["status"], audience)
    log.info("cluster %s vouched for agent %s", name, identity.requester)
    return identity
