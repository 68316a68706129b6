"""Can each configured cluster's client be built? Read the kubeconfig the way the client
will, but say in plain words what is missing: the file, the context, its cluster or user
entry, a certificate or token file it names. The client's own loader runs last, for
whatever else it refuses (it names only the exception's type: its messages can quote
credentials)."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml

from controller.config.model import ClusterSettings
from controller.errors import SealgateError
from controller.kube import ClusterConfig
from controller.kube.clusters import connect

SERVICE_ACCOUNT_TOKEN = Path("/var/run/secrets/kubernetes.io/serviceaccount/token")
_FILE_FIELDS = {
    "cluster": ("certificate-authority",),
    "user": ("client-certificate", "client-key", "tokenFile"),
}
MAX_KUBECONFIG_BYTES = 4 * 1024 * 1024


def kubeconfig_findings(cluster: ClusterSettings) -> Iterator[tuple[str, str]]:
    """(setting, message) for everything that stops ``cluster``'s client from loading."""
    if cluster.in_cluster:
        if not os.environ.get("KUBERNETES_SERVICE_HOST") or not SERVICE_ACCOUNT_TOKEN.exists():
            yield (
                "inCluster",
                f"cluster {cluster.name}: not running in a pod with a service account "
                f"(KUBERNETES_SERVICE_HOST unset or {SERVICE_ACCOUNT_TOKEN} missing): run in "
                "the cluster, or name a kubeconfig instead",
            )
        return
    path = cluster.kubeconfig or _default_kubeconfig()
    setting = "kubeconfig"
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_KUBECONFIG_BYTES + 1)
        document = yaml.safe_load(raw)
    except OSError as exc:
        where = "" if cluster.kubeconfig else " (no kubeconfig set: the default)"
        yield (
            setting,
            f"cluster {cluster.name}: cannot read {path}{where}: "
            f"{exc.strerror or type(exc).__name__}; mount it or fix the path",
        )
        return
    except yaml.YAMLError:
        yield setting, f"cluster {cluster.name}: {path} is not YAML: name a kubeconfig file"
        return
    if not isinstance(document, dict):
        yield setting, f"cluster {cluster.name}: {path} is not a kubeconfig: name the right file"
        return
    problems = list(_context_problems(cluster, path, document))
    yield from problems
    if not problems:
        yield from _client_loads(cluster, path)


def _context_problems(
    cluster: ClusterSettings, path: Path, document: Mapping[str, Any]
) -> Iterator[tuple[str, str]]:
    contexts = _named(document.get("contexts"))
    wanted = cluster.context or document.get("current-context")
    known = ", ".join(sorted(contexts)) or "none"
    if not wanted:
        yield (
            "context",
            f"cluster {cluster.name}: {path} has no current-context: set context to one of {known}",
        )
        return
    if str(wanted) not in contexts:
        yield (
            "context",
            f"cluster {cluster.name}: context {wanted} is not in {path}: use one of {known}",
        )
        return
    context = contexts[str(wanted)].get("context") or {}
    for section in ("cluster", "user"):
        name = context.get(section)
        entries = _named(document.get(f"{section}s"))
        if section == "cluster" and name is None:
            yield "context", f"cluster {cluster.name}: context {wanted} names no cluster"
            continue
        if name is None:
            continue
        if str(name) not in entries:
            yield (
                "context",
                f"cluster {cluster.name}: context {wanted} names {section} {name}, which "
                f"{path} does not define: add it or fix the context",
            )
            continue
        body = entries[str(name)].get(section) or {}
        for field in _FILE_FIELDS[section]:
            named = body.get(field)
            if named and not _resolve(path, str(named)).is_file():
                yield (
                    "kubeconfig",
                    f"cluster {cluster.name}: {section} {name} names {field} "
                    f"{_resolve(path, str(named))}, which does not exist: mount it or fix "
                    f"{path}",
                )


def _client_loads(cluster: ClusterSettings, path: Path) -> Iterator[tuple[str, str]]:
    try:
        api = connect(
            ClusterConfig(
                name=cluster.name,
                kubeconfig=path,
                context=cluster.context,
                request_timeout_s=cluster.request_timeout_s,
            )
        )
    except SealgateError as exc:
        yield "kubeconfig", f"{exc}: fix {path}"
        return
    api.close()


def _named(section: object) -> dict[str, dict[str, Any]]:
    if not isinstance(section, list):
        return {}
    return {
        str(item["name"]): item
        for item in section
        if isinstance(item, dict) and item.get("name") is not None
    }


def _resolve(kubeconfig: Path, named: str) -> Path:
    candidate = Path(named).expanduser()
    return candidate if candidate.is_absolute() else kubeconfig.parent / candidate


def _default_kubeconfig() -> Path:
    configured = os.environ.get("KUBECONFIG", "")
    first = configured.split(os.pathsep)[0] if configured else ""
    return Path(first).expanduser() if first else Path.home() / ".kube" / "config"
