"""ServiceAccount tokens on the loopback Kubernetes API server, through the real client.

TokenRequest (the ``token`` subresource) issues signed JWTs; TokenReview accepts them only
with a meeting audience, a valid signature, before expiry and while the very ServiceAccount
they were issued for (same uid) exists, answering refusals as kube-apiserver does: an
``authenticated: false`` review with the reason in ``status.error``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from kubernetes import client, config, dynamic
from kubernetes.client.exceptions import ApiException

from controller.sandbox.kube_server import KubeApiServer
from controller.sandbox.kube_server.tokens import ISSUER

AUDIENCE = "sealgate.example"
load_kube_config: Callable[..., None] = config.load_kube_config
new_dynamic_client: Callable[..., Any] = dynamic.DynamicClient


@pytest.fixture
def server() -> Iterator[KubeApiServer]:
    with KubeApiServer() as srv:
        srv.create_namespace("agents")
        yield srv


@pytest.fixture
def api(server: KubeApiServer, tmp_path: Path) -> Iterator[Any]:
    kubeconfig = server.write_kubeconfig(tmp_path / "kubeconfig", namespace="agents")
    configuration = client.Configuration()
    load_kube_config(config_file=str(kubeconfig), client_configuration=configuration)
    with client.ApiClient(configuration) as api_client:
        yield api_client


def make_account(api: Any, name: str = "deployer") -> str:
    body = client.V1ServiceAccount(metadata=client.V1ObjectMeta(name=name))
    created: Any = client.CoreV1Api(api).create_namespaced_service_account("agents", body)
    uid: str = created.metadata.uid
    return uid


def request_token(api: Any, name: str, audiences: list[str], seconds: int = 600) -> Any:
    body = client.AuthenticationV1TokenRequest(
        spec=client.V1TokenRequestSpec(audiences=audiences, expiration_seconds=seconds)
    )
    return client.CoreV1Api(api).create_namespaced_service_account_token(name, "agents", body)


def review(api: Any, token: str, audiences: list[str] | None = None) -> dict[str, Any]:
    """The raw review body (checked to deserialize into the client's model too)."""
    body = client.V1TokenReview(spec=client.V1TokenReviewSpec(token=token, audiences=audiences))
    response: Any = client.AuthenticationV1Api(api).create_token_review(
        body, _preload_content=False
    )
    assert response.status == 201
    text = response.data.decode()
    api.deserialize(text, "V1TokenReview", "application/json")
    found: dict[str, Any] = json.loads(text)
    assert found["kind"] == "TokenReview"
    assert found["apiVersion"] == "authentication.k8s.io/v1"
    return found


def refusal(found: dict[str, Any]) -> str:
    status = found["status"]
    assert status["authenticated"] is False
    assert not status.get("user")
    assert "audiences" not in status
    error: str = status["error"]
    assert error.startswith("[invalid bearer token, ") or error == "invalid bearer token"
    return error


def test_a_requested_token_is_a_signed_jwt_a_review_accepts(api: Any) -> None:
    uid = make_account(api)
    issued = request_token(api, "deployer", [AUDIENCE], seconds=900)
    assert issued.kind == "TokenRequest"
    assert issued.spec.audiences == [AUDIENCE]
    assert issued.spec.expiration_seconds == 900
    assert issued.status.expiration_timestamp is not None
    token = issued.status.token
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "ES256"
    assert header["kid"]
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["iss"] == ISSUER
    assert claims["sub"] == "system:serviceaccount:agents:deployer"
    assert claims["aud"] == [AUDIENCE]
    assert claims["exp"] - claims["iat"] == 900
    assert claims["nbf"] == claims["iat"]
    assert claims["kubernetes.io"] == {
        "namespace": "agents",
        "serviceaccount": {"name": "deployer", "uid": uid},
    }
    status = review(api, token, [AUDIENCE])["status"]
    assert status["authenticated"] is True
    assert status["audiences"] == [AUDIENCE]
    assert "error" not in status
    user = status["user"]
    assert user["username"] == "system:serviceaccount:agents:deployer"
    assert user["uid"] == uid
    assert user["groups"] == [
        "system:serviceaccounts",
        "system:serviceaccounts:agents",
        "system:authenticated",
    ]
    assert user["extra"]["authentication.kubernetes.io/credential-id"] == [f"JTI={claims['jti']}"]


def test_audiences_default_to_the_api_servers_own(api: Any) -> None:
    make_account(api)
    token = request_token(api, "deployer", []).status.token
    assert jwt.decode(token, options={"verify_signature": False})["aud"] == [ISSUER]
    assert review(api, token)["status"]["audiences"] == [ISSUER]
    error = refusal(review(api, token, [AUDIENCE]))
    assert "is invalid for the target audiences" in error


def test_a_review_names_only_the_audiences_that_meet(api: Any) -> None:
    make_account(api)
    token = request_token(api, "deployer", [AUDIENCE, "other"]).status.token
    assert review(api, token, ["third", AUDIENCE])["status"]["audiences"] == [AUDIENCE]


def test_an_expired_token_is_refused(api: Any, server: KubeApiServer) -> None:
    make_account(api)
    token = server.issue_token("agents", "deployer", AUDIENCE, expires_s=-3600)
    assert refusal(review(api, token, [AUDIENCE])) == (
        "[invalid bearer token, service account token has expired]"
    )


def test_a_token_for_another_audience_is_refused(api: Any, server: KubeApiServer) -> None:
    make_account(api)
    token = server.issue_token("agents", "deployer", "vault")
    assert refusal(review(api, token, [AUDIENCE])) == (
        '[invalid bearer token, token audiences ["vault"] is invalid for the target '
        f'audiences ["{AUDIENCE}"]]'
    )


def test_a_forged_signature_is_refused(api: Any, server: KubeApiServer) -> None:
    make_account(api)
    genuine = server.issue_token("agents", "deployer", AUDIENCE)
    claims = jwt.decode(genuine, options={"verify_signature": False})
    other_key = ec.generate_private_key(ec.SECP256R1())
    header = jwt.get_unverified_header(genuine)
    forged = jwt.encode(claims, other_key, algorithm="ES256", headers={"kid": header["kid"]})
    assert "cryptographic primitive" in refusal(review(api, forged, [AUDIENCE]))
    # The genuine signature over edited claims (another ServiceAccount) fails the same way.
    head, _, signature = genuine.split(".")
    claims["sub"] = "system:serviceaccount:agents:admin"
    body = jwt.utils.base64url_encode(json.dumps(claims).encode()).decode()
    assert "cryptographic primitive" in refusal(review(api, f"{head}.{body}.{signature}"))
    unsigned = jwt.encode(claims, "", algorithm="none")
    assert "cryptographic primitive" in refusal(review(api, unsigned, [AUDIENCE]))


def test_garbage_and_foreign_issuers_are_just_invalid(api: Any) -> None:
    assert refusal(review(api, "not-a-jwt", [AUDIENCE])) == "invalid bearer token"
    foreign = jwt.encode({"iss": "https://elsewhere", "aud": [AUDIENCE]}, "k" * 32, "HS256")
    assert refusal(review(api, foreign, [AUDIENCE])) == "invalid bearer token"


def test_a_deleted_service_account_invalidates_its_tokens(api: Any) -> None:
    make_account(api)
    token = request_token(api, "deployer", [AUDIENCE]).status.token
    client.CoreV1Api(api).delete_namespaced_service_account("deployer", "agents")
    assert refusal(review(api, token, [AUDIENCE])) == (
        '[invalid bearer token, serviceaccount "deployer" not found]'
    )


def test_a_recreated_service_account_does_not_inherit_old_tokens(api: Any) -> None:
    old_uid = make_account(api)
    token = request_token(api, "deployer", [AUDIENCE]).status.token
    client.CoreV1Api(api).delete_namespaced_service_account("deployer", "agents")
    new_uid = make_account(api)
    assert refusal(review(api, token, [AUDIENCE])) == (
        f"[invalid bearer token, service account UID ({new_uid}) does not match claim ({old_uid})]"
    )
    fresh = request_token(api, "deployer", [AUDIENCE]).status.token
    assert review(api, fresh, [AUDIENCE])["status"]["user"]["uid"] == new_uid


def status_of(error: ApiException) -> dict[str, Any]:
    assert error.body is not None
    body: dict[str, Any] = json.loads(error.body)
    assert body["kind"] == "Status"
    assert body["code"] == error.status
    return body


def test_token_requests_are_checked_as_the_api_checks_them(api: Any) -> None:
    make_account(api)
    with pytest.raises(ApiException) as short:
        request_token(api, "deployer", [AUDIENCE], seconds=60)
    assert short.value.status == 422
    body = status_of(short.value)
    assert body["reason"] == "Invalid"
    assert body["details"]["causes"][0]["field"] == "spec.expirationSeconds"
    assert "less than 10 minutes" in body["message"]
    with pytest.raises(ApiException) as missing:
        request_token(api, "nobody", [AUDIENCE])
    assert missing.value.status == 404
    assert status_of(missing.value)["message"] == 'serviceaccounts "nobody" not found'


def raw(server: KubeApiServer, method: str, path: str) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(  # noqa: S310 - loopback http
        server.url + path,
        method=method,
        data=b"{}" if method == "POST" else None,
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request) as response:  # noqa: S310 - loopback http
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_a_review_needs_a_token_and_is_create_only(api: Any, server: KubeApiServer) -> None:
    authn = client.AuthenticationV1Api(api)
    with pytest.raises(ApiException) as empty:
        authn.create_token_review(client.V1TokenReview(spec=client.V1TokenReviewSpec(token="")))
    assert empty.value.status == 400
    assert "token is required" in status_of(empty.value)["message"]
    for method in ("GET", "DELETE"):
        code, body = raw(server, method, "/apis/authentication.k8s.io/v1/tokenreviews")
        assert (code, body["reason"]) == (405, "MethodNotAllowed")
    assert raw(server, "POST", "/api/v1/namespaces/agents/serviceaccounts/x/status")[0] == 404
    assert raw(server, "POST", "/api/v1/namespaces/agents/secrets/x/token")[0] == 404
    assert raw(server, "GET", "/api/v1/namespaces/agents/serviceaccounts/x/token")[0] == 405
    namespaced = "/apis/authentication.k8s.io/v1/namespaces/agents/tokenreviews"
    assert raw(server, "POST", namespaced)[0] == 404


def test_a_review_can_fail_like_any_request(api: Any, server: KubeApiServer) -> None:
    make_account(api)
    token = server.issue_token("agents", "deployer", AUDIENCE)
    server.inject_faults(status=503, count=1, resource="tokenreviews")
    with pytest.raises(ApiException) as caught:
        review(api, token, [AUDIENCE])
    assert caught.value.status == 503
    assert review(api, token, [AUDIENCE])["status"]["authenticated"] is True


def test_discovery_lists_service_accounts_tokens_and_reviews(
    api: Any, server: KubeApiServer, tmp_path: Path
) -> None:
    dynamic_client = new_dynamic_client(api, cache_file=str(tmp_path / "discovery.json"))
    accounts = dynamic_client.resources.get(api_version="v1", kind="ServiceAccount")
    assert accounts.namespaced
    assert accounts.short_names == ["sa"]
    assert "token" in accounts.subresources
    reviews = dynamic_client.resources.get(
        api_version="authentication.k8s.io/v1", kind="TokenReview"
    )
    assert not reviews.namespaced
    assert reviews.verbs == ["create"]
    entries = {r["name"]: r for r in raw(server, "GET", "/api/v1")[1]["resources"]}
    assert entries["serviceaccounts/token"]["kind"] == "TokenRequest"
    assert entries["serviceaccounts/token"]["group"] == "authentication.k8s.io"
    assert entries["serviceaccounts/token"]["verbs"] == ["create"]


def test_kubectl_creates_tokens_and_reviews_them(
    server: KubeApiServer, api: Any, tmp_path: Path
) -> None:
    """kubectl, an independent client: raw TokenRequests, TokenReviews as objects, discovery.
    (``kubectl create token`` sends protobuf, which this server does not speak.)"""
    binary = shutil.which("kubectl")
    assert binary, "this test needs kubectl on PATH"
    kubeconfig = server.write_kubeconfig(tmp_path / "kubectl-config", namespace="agents")
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path / "home")}

    def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [binary, "--kubeconfig", str(kubeconfig), *args],
            capture_output=True, text=True, timeout=60, env=env, check=False, input=stdin,
        )  # fmt: skip

    uid = make_account(api)
    request = {"spec": {"audiences": [AUDIENCE], "expirationSeconds": 900}}
    (tmp_path / "request.json").write_text(json.dumps(request))
    path = "/api/v1/namespaces/agents/serviceaccounts/deployer/token"
    made = run("create", "--raw", path, "-f", str(tmp_path / "request.json"))
    assert made.returncode == 0, made.stderr
    token = json.loads(made.stdout)["status"]["token"]
    claims = jwt.decode(token, options={"verify_signature": False})
    assert (claims["aud"], claims["exp"] - claims["iat"]) == ([AUDIENCE], 900)
    body = {
        "apiVersion": "authentication.k8s.io/v1",
        "kind": "TokenReview",
        "spec": {"token": token, "audiences": [AUDIENCE]},
    }
    # No object schemas are served (openapi.py), and a create-only kind has no PATCH operation
    # to show kubectl that the server validates fields itself: kubectl must not validate.
    reviewed = run("create", "--validate=false", "-f", "-", "-o", "json", stdin=json.dumps(body))
    assert reviewed.returncode == 0, reviewed.stderr
    status = json.loads(reviewed.stdout)["status"]
    assert status["authenticated"] is True
    assert status["user"]["uid"] == uid
    listed = run("api-resources", "--api-group", "authentication.k8s.io", "-o", "name")
    assert listed.returncode == 0, listed.stderr
    assert sorted(listed.stdout.split()) == [
        "selfsubjectreviews.authentication.k8s.io",
        "tokenreviews.authentication.k8s.io",
    ]
    accounts = run("get", "serviceaccounts", "-o", "name")
    assert accounts.stdout.split() == ["serviceaccount/deployer"]
