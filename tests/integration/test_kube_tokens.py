"""``review_token``: an agent's ServiceAccount token, vouched for by its cluster.

The real ``kubernetes`` client asks the loopback API server's TokenReview. The token is a
credential: every test checks that it appears in no message, no exception and no log line.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from controller.errors import ClusterError, CredentialRefused
from controller.kube import ClusterConfig, KubeApi, RetryPolicy, connect
from controller.kube.tokens import review_token
from controller.model import AgentIdentity
from controller.sandbox.kube_server import KubeApiServer
from controller.sandbox.kube_server.errors import ApiError

AUDIENCE = "sealgate.example"
FAST = RetryPolicy(attempts=1, initial_s=0.01, max_s=0.01)


@pytest.fixture
def server() -> Iterator[KubeApiServer]:
    with KubeApiServer() as srv:
        srv.create_namespace("ci")
        yield srv


@pytest.fixture
def cluster(server: KubeApiServer, tmp_path: Path) -> Iterator[KubeApi]:
    kubeconfig = server.write_kubeconfig(tmp_path / "kubeconfig")
    api = connect(ClusterConfig("prod-eu-1", kubeconfig=kubeconfig), retry=FAST)
    yield api
    api.close()


@pytest.fixture(autouse=True)
def _all_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)


def account(server: KubeApiServer, name: str = "deployer") -> str:
    created = server.put(
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": name, "namespace": "ci"},
        }
    )
    uid: str = created["metadata"]["uid"]
    return uid


def refused(
    cluster: KubeApi, token: str, caplog: pytest.LogCaptureFixture, audience: str = AUDIENCE
) -> CredentialRefused:
    with pytest.raises(CredentialRefused) as caught:
        review_token(cluster, token, audience)
    assert_no_token(token, caught.value, caplog)
    return caught.value


def assert_no_token(token: str, error: BaseException, caplog: pytest.LogCaptureFixture) -> None:
    if not token:
        return
    # The signature alone is what makes a token usable: check it too.
    signature = token.rsplit(".", 1)[-1]
    for text in (str(error), repr(error), repr(error.args), caplog.text):
        assert token not in text
        assert signature not in text
    assert error.__cause__ is None or token not in repr(error.__cause__)


def test_a_valid_token_names_its_service_account(
    server: KubeApiServer, cluster: KubeApi, caplog: pytest.LogCaptureFixture
) -> None:
    uid = account(server)
    token = server.issue_token("ci", "deployer", AUDIENCE)
    identity = review_token(cluster, token, AUDIENCE)
    assert identity == AgentIdentity(namespace="ci", name="deployer", uid=uid, cluster="prod-eu-1")
    assert identity.requester == "system:serviceaccount:ci:deployer@prod-eu-1"
    assert token not in caplog.text
    assert "system:serviceaccount:ci:deployer@prod-eu-1" in caplog.text


def test_an_expired_token_is_refused(
    server: KubeApiServer, cluster: KubeApi, caplog: pytest.LogCaptureFixture
) -> None:
    account(server)
    token = server.issue_token("ci", "deployer", AUDIENCE, expires_s=-3600)
    assert refused(cluster, token, caplog).reason == "expired"


def test_a_token_for_another_audience_is_refused(
    server: KubeApiServer, cluster: KubeApi, caplog: pytest.LogCaptureFixture
) -> None:
    account(server)
    token = server.issue_token("ci", "deployer", "vault")
    error = refused(cluster, token, caplog)
    assert error.reason == "audience"
    assert "prod-eu-1" in str(error)


def test_a_forged_token_is_refused(
    server: KubeApiServer, cluster: KubeApi, caplog: pytest.LogCaptureFixture
) -> None:
    account(server)
    claims = jwt.decode(
        server.issue_token("ci", "deployer", AUDIENCE), options={"verify_signature": False}
    )
    forged = jwt.encode(claims, ec.generate_private_key(ec.SECP256R1()), algorithm="ES256")
    assert refused(cluster, forged, caplog).reason == "invalid"
    assert refused(cluster, "not a token at all", caplog).reason == "invalid"


def test_tokens_of_a_deleted_or_recreated_service_account_are_refused(
    server: KubeApiServer, cluster: KubeApi, caplog: pytest.LogCaptureFixture
) -> None:
    account(server)
    token = server.issue_token("ci", "deployer", AUDIENCE)
    server.delete("v1", "ServiceAccount", "ci", "deployer")
    assert refused(cluster, token, caplog).reason == "unknown-service-account"
    new_uid = account(server)
    assert refused(cluster, token, caplog).reason == "unknown-service-account"
    fresh = server.issue_token("ci", "deployer", AUDIENCE)
    assert review_token(cluster, fresh, AUDIENCE).uid == new_uid


def test_input_no_cluster_would_accept_is_refused_without_asking(
    server: KubeApiServer, cluster: KubeApi, caplog: pytest.LogCaptureFixture
) -> None:
    server.reset_request_log()
    for token in ("", "x" * 20_000, "tökén"):
        assert refused(cluster, token, caplog).reason == "invalid"
    assert server.request_log == []


def test_a_failing_cluster_is_a_retryable_backend_error(
    server: KubeApiServer, cluster: KubeApi, caplog: pytest.LogCaptureFixture
) -> None:
    account(server)
    token = server.issue_token("ci", "deployer", AUDIENCE)
    server.inject_faults(status=503, count=1, resource="tokenreviews")
    with pytest.raises(ClusterError) as unavailable:
        review_token(cluster, token, AUDIENCE)
    assert unavailable.value.retryable
    assert_no_token(token, unavailable.value, caplog)
    server.lose_answers(verb="create", resource="tokenreviews")
    with pytest.raises(ClusterError) as cut:
        review_token(cluster, token, AUDIENCE)
    assert cut.value.retryable
    assert_no_token(token, cut.value, caplog)
    assert review_token(cluster, token, AUDIENCE).name == "deployer"


def test_a_cluster_that_does_not_answer_is_retryable(
    server: KubeApiServer, cluster: KubeApi, caplog: pytest.LogCaptureFixture
) -> None:
    account(server)
    token = server.issue_token("ci", "deployer", AUDIENCE)
    server.stop()
    with pytest.raises(ClusterError) as caught:
        review_token(cluster, token, AUDIENCE)
    assert caught.value.retryable
    assert "did not answer" in str(caught.value)
    assert_no_token(token, caught.value, caplog)


def test_sealgate_without_the_right_to_review_is_told_how_to_fix_it(
    server: KubeApiServer, cluster: KubeApi, caplog: pytest.LogCaptureFixture
) -> None:
    account(server)
    token = server.issue_token("ci", "deployer", AUDIENCE)
    server.forbid("create", "tokenreviews")
    with pytest.raises(ClusterError) as caught:
        review_token(cluster, token, AUDIENCE)
    assert not caught.value.retryable
    assert "tokenreviews" in str(caught.value)
    assert "deploy/rbac/token-review" in str(caught.value)
    assert_no_token(token, caught.value, caplog)


def test_deleting_the_namespace_invalidates_its_agents(
    server: KubeApiServer, cluster: KubeApi, caplog: pytest.LogCaptureFixture
) -> None:
    account(server)
    token = server.issue_token("ci", "deployer", AUDIENCE)
    server.delete("v1", "Namespace", None, "ci")
    assert refused(cluster, token, caplog).reason == "unknown-service-account"


def test_tokens_are_issued_only_for_existing_service_accounts(server: KubeApiServer) -> None:
    with pytest.raises(ApiError) as caught:
        server.issue_token("ci", "nobody", AUDIENCE)
    assert caught.value.code == 404
