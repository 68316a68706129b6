"""The agents API remembers, briefly, a token its cluster vouched for: a polling agent costs no
TokenReview per poll, and a deleted ServiceAccount is refused once the answer is older than
``REVIEW_CACHE_SECONDS``. Refusals are never remembered."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from controller.errors import CredentialRefused
from controller.kube import ClusterConfig, KubeTargets, RetryPolicy
from controller.run.agents_wiring import REVIEW_CACHE_SECONDS, KubeTokenReviewer
from controller.sandbox.kube_server import KubeApiServer

AUDIENCE = "sealgate"
CLUSTER = "prod-eu-1"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def server() -> Iterator[KubeApiServer]:
    with KubeApiServer() as srv:
        srv.create_namespace("agents")
        srv.put(
            {
                "apiVersion": "v1",
                "kind": "ServiceAccount",
                "metadata": {"name": "release-agent", "namespace": "agents"},
            }
        )
        yield srv


@pytest.fixture
def targets(server: KubeApiServer, tmp_path: Path) -> Iterator[KubeTargets]:
    kubeconfig = server.write_kubeconfig(tmp_path / "kubeconfig")
    made = KubeTargets(
        [ClusterConfig(CLUSTER, kubeconfig=kubeconfig)],
        b"checksum-key",
        retry=RetryPolicy(attempts=1, initial_s=0.01, max_s=0.01),
    )
    yield made
    made.close()


def reviews(server: KubeApiServer) -> int:
    return sum(r.resource == "tokenreviews" for r in server.request_log)


def test_a_vouched_token_is_remembered_briefly_and_a_deleted_account_is_then_refused(
    server: KubeApiServer, targets: KubeTargets
) -> None:
    clock = Clock()
    reviewer = KubeTokenReviewer(targets, clock=clock)
    token = server.issue_token("agents", "release-agent", AUDIENCE)
    server.reset_request_log()
    first = reviewer.review(CLUSTER, token, AUDIENCE)
    again = reviewer.review(CLUSTER, token, AUDIENCE)
    assert first == again
    assert first.requester == f"system:serviceaccount:agents:release-agent@{CLUSTER}"
    assert reviews(server) == 1

    server.delete("v1", "ServiceAccount", "agents", "release-agent")
    clock.now += REVIEW_CACHE_SECONDS + 0.1
    with pytest.raises(CredentialRefused):
        reviewer.review(CLUSTER, token, AUDIENCE)


def test_a_refused_token_is_asked_about_every_time(
    server: KubeApiServer, targets: KubeTargets
) -> None:
    reviewer = KubeTokenReviewer(targets, clock=Clock())
    token = server.issue_token("agents", "release-agent", "someone-else")
    server.reset_request_log()
    for _ in range(2):
        with pytest.raises(CredentialRefused):
            reviewer.review(CLUSTER, token, AUDIENCE)
    assert reviews(server) == 2


def test_the_audience_and_the_cluster_are_part_of_what_is_remembered(
    server: KubeApiServer, targets: KubeTargets
) -> None:
    reviewer = KubeTokenReviewer(targets, clock=Clock())
    token = server.issue_token("agents", "release-agent", AUDIENCE)
    reviewer.review(CLUSTER, token, AUDIENCE)
    with pytest.raises(CredentialRefused):
        reviewer.review(CLUSTER, token, "another-audience")
