"""Secret sync against the loopback Kubernetes API server: sealgate's adapter vs kubectl apply.

One server, one run. 1,000 Secrets across 10 namespaces: a first sync into empty namespaces,
then a re-sync of all 1,000 with one of them changed. The adapter and ``kubectl apply -f DIR``
each get their own 10 namespaces so both start empty. Requests are counted on the server.
"""

from __future__ import annotations

import base64
import logging
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import yaml

from controller.kube import ClusterConfig, DesiredSecret, KubeTargets, Provenance, SecretOutcome
from controller.sandbox.kube_server import KubeApiServer

NAMESPACES = 10
PER_NAMESPACE = 100
KEY = b"bench-checksum-key"


def _data(ns: int, i: int, version: int) -> dict[str, bytes]:
    seed = f"{ns}-{i}-{version}".encode()
    return {
        "username": b"svc-" + seed,
        "password": base64.b64encode(seed * 4),
        "url": b"postgres://db.internal:5432/app-" + seed,
    }


def _desired(prefix: str, changed: tuple[int, int] | None = None) -> list[DesiredSecret]:
    out = []
    for ns in range(NAMESPACES):
        for i in range(PER_NAMESPACE):
            version = 2 if (ns, i) == changed else 1
            out.append(
                DesiredSecret(
                    f"{prefix}-{ns}",
                    f"secret-{i:03d}",
                    _data(ns, i, version),
                    Provenance(store_version=version, change_id=f"bench-{version}"),
                )
            )
    return out


def _write_manifests(directory: Path, secrets: list[DesiredSecret]) -> None:
    for old in directory.glob("*.yaml"):
        old.unlink()
    for s in secrets:
        manifest = {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": s.name, "namespace": s.namespace},
            "type": "Opaque",
            "data": {k: base64.b64encode(v).decode() for k, v in s.data.items()},
        }
        (directory / f"{s.namespace}--{s.name}.yaml").write_text(yaml.safe_dump(manifest))


def _kubectl(kubectl: str, kubeconfig: Path, cache: Path, directory: Path) -> None:
    done = subprocess.run(
        [
            kubectl,
            "--kubeconfig",
            str(kubeconfig),
            "--cache-dir",
            str(cache),
            "apply",
            # The loopback server publishes no OpenAPI document for client-side validation.
            "--validate=false",
            "-f",
            str(directory),
        ],
        check=False,
        capture_output=True,
        env={**os.environ, "KUBECONFIG": str(kubeconfig)},
        text=True,
    )
    if done.returncode != 0:
        raise RuntimeError(f"kubectl apply failed: {done.stderr[-2000:]}")


def _sync(targets: KubeTargets, secrets: list[DesiredSecret], expect: set[SecretOutcome]) -> None:
    report = targets.sync_many("loop", secrets, wait=True, timeout_s=60)
    got = {s.outcome for s in report.secrets}
    if not got <= expect or not report.ok:
        raise RuntimeError(f"unexpected sync outcomes {sorted(got)}")


def run() -> dict[str, float]:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        raise RuntimeError("kubectl is not on PATH")
    figures: dict[str, float] = {}
    # The server logs every request; a thousand lines per step would drown the figures.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp, KubeApiServer(rollout_seconds=0.05) as server:
        root = Path(tmp)
        kubeconfig = server.write_kubeconfig(root / "kubeconfig")
        manifests = root / "manifests"
        manifests.mkdir()
        for ns in range(NAMESPACES):
            server.create_namespace(f"sg-{ns}")
            server.create_namespace(f"kc-{ns}")
        targets = KubeTargets([ClusterConfig("loop", kubeconfig=kubeconfig)], KEY)
        # The client imports its API modules on first use (about 2 s): a process start-up
        # cost, not a sync cost, so it is paid before measuring.
        targets.api("loop")

        def measure(name: str, action: object) -> None:
            assert callable(action)
            server.reset_request_log()
            started = time.perf_counter()
            action()
            figures[f"{name}_s"] = time.perf_counter() - started
            figures[f"{name}_requests"] = float(len(server.request_log))

        first = _desired("sg")
        changed = _desired("sg", changed=(4, 42))
        measure("sync_first", lambda: _sync(targets, first, {SecretOutcome.CREATED}))
        measure(
            "sync_one_changed",
            lambda: _sync(targets, changed, {SecretOutcome.UNCHANGED, SecretOutcome.UPDATED}),
        )
        figures["sync_one_changed_writes"] = float(
            sum(r.verb in {"create", "update", "patch"} for r in server.request_log)
        )
        targets.close()

        cache = root / "kubectl-cache"
        _write_manifests(manifests, _desired("kc"))
        measure("kubectl_apply_first", lambda: _kubectl(kubectl, kubeconfig, cache, manifests))
        _write_manifests(manifests, _desired("kc", changed=(4, 42)))
        measure(
            "kubectl_apply_one_changed", lambda: _kubectl(kubectl, kubeconfig, cache, manifests)
        )
        figures["kubectl_apply_one_changed_writes"] = float(
            sum(r.verb in {"create", "update", "patch"} for r in server.request_log)
        )
    return figures
