"""``on_written``: called once every Secret is in place, before the rollouts are watched."""

from __future__ import annotations

import base64

from controller.kube import DesiredSecret, KubeTargets, RolloutOutcome, SecretOutcome
from controller.sandbox.kube_server import KubeApiServer
from tests.integration.test_kube_sync import PROV, seed_workloads
from tests.integration.test_kube_sync import kubeconfig as kubeconfig  # noqa: PLC0414
from tests.integration.test_kube_sync import ns as ns  # noqa: PLC0414
from tests.integration.test_kube_sync import server as server  # noqa: PLC0414
from tests.integration.test_kube_sync import targets as targets  # noqa: PLC0414


def test_the_hook_sees_the_secret_written(
    server: KubeApiServer, targets: KubeTargets, ns: str
) -> None:
    seed_workloads(server, ns, "app-secret")
    seen: list[bytes] = []

    def written() -> None:
        secret = server.get("v1", "Secret", ns, "app-secret")
        assert secret is not None
        seen.append(base64.b64decode(secret["data"]["password"]))

    desired = DesiredSecret(ns, "app-secret", {"password": b"hook-1"}, PROV)
    report = targets.sync_many("loop", [desired], timeout_s=20, on_written=written)
    assert seen == [b"hook-1"], "called once, with the Secret already holding the value"
    assert report.secrets[0].outcome is SecretOutcome.CREATED
    # And the rollouts were still watched after it.
    assert any(w.outcome is RolloutOutcome.ROLLED for w in report.workloads), report.workloads


def test_the_hook_is_not_called_when_a_secret_could_not_be_written(
    server: KubeApiServer, targets: KubeTargets, ns: str
) -> None:
    server.inject_faults(status=403, count=20, verb="create", resource="secrets")
    called: list[bool] = []
    desired = DesiredSecret(ns, "app-secret", {"password": b"hook-2"}, PROV)
    report = targets.sync_many(
        "loop", [desired], timeout_s=20, on_written=lambda: called.append(True)
    )
    server.clear_faults()
    assert report.secrets[0].outcome is SecretOutcome.FAILED
    assert called == []
