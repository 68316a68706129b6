"""``KubeApiServer``: the loopback Kubernetes API server and its control API for tests.

The control methods (``put``, ``get``, ``list``, ``can``, ``fail_rollouts``, ``forbid``,
``inject_faults``, ...) act on the same state the HTTP API serves, without going through
HTTP, so tests can seed a cluster and break it on purpose.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import yaml
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from controller.sandbox.kube_server.app import KubeApp
from controller.sandbox.kube_server.faults import DROP, FaultPlan
from controller.sandbox.kube_server.identity import UserInfo, with_implied_groups
from controller.sandbox.kube_server.rbac import Attributes, RbacAuthorizer
from controller.sandbox.kube_server.request_log import RequestRecord
from controller.sandbox.kube_server.resources import (
    NAMESPACES,
    WORKLOAD_TYPES,
    ResourceType,
    by_kind,
)
from controller.sandbox.kube_server.state import ObjectStore
from controller.sandbox.kube_server.tokens import DEFAULT_EXPIRATION_S, TokenAuthority

# The bearer token the written kubeconfig carries; the server accepts any token.
# How quickly stop() takes effect (serve_forever checks for shutdown this often).
SHUTDOWN_POLL_SECONDS = 0.05
KUBECONFIG_TOKEN = "loopback-token"  # noqa: S105 - not a secret: the loopback server checks none


class _QuietRequestHandler(WSGIRequestHandler):
    """No access log line per request: ``KubeApiServer.request_log`` is the record."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return


def _resource_type(api_version: str, kind: str) -> ResourceType:
    rtype = by_kind(api_version, kind)
    if rtype is None:
        raise ValueError(f"the loopback API server does not serve {api_version} {kind}")
    return rtype


def _workload_type(kind: str) -> ResourceType:
    for rtype in WORKLOAD_TYPES:
        if rtype.kind == kind:
            return rtype
    raise ValueError(f"{kind!r} is not a workload kind; use Deployment, StatefulSet or DaemonSet")


class KubeApiServer:
    """A stateful, threaded Kubernetes API server on 127.0.0.1 for tests and the sandbox."""

    def __init__(self, *, rollout_seconds: float = 0.3, watch_history: int = 50_000) -> None:
        """``rollout_seconds``: how long a simulated rollout takes; ``watch_history``: how many
        changes a watch can start behind the newest one before it gets 410 Expired."""
        self.rollout_seconds = rollout_seconds
        self.url = ""
        self.request_log: list[RequestRecord] = []
        self._log_lock = threading.Lock()
        self._store = ObjectStore(rollout_seconds, watch_history=watch_history)
        self._faults = FaultPlan()
        self._authorizer = RbacAuthorizer(self._store)
        self.tokens = TokenAuthority(self._store)
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle -----------------------------------------------------------------------

    def _record(self, record: RequestRecord) -> None:
        with self._log_lock:
            self.request_log.append(record)

    def _server_address(self) -> str:
        return self.url.removeprefix("http://")

    def start(self) -> str:
        """Serve on a free port of 127.0.0.1; returns the base URL."""
        if self._server is not None:
            return self.url
        app = KubeApp(
            self._store,
            self._faults,
            self._record,
            self._server_address,
            token_authority=self.tokens,
        )
        self._server = make_server(
            "127.0.0.1", 0, app, threaded=True, request_handler=_QuietRequestHandler
        )
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._store.start()
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": SHUTDOWN_POLL_SECONDS},
            name="kube-api-server",
            daemon=True,
        )
        self._thread.start()
        return self.url

    def stop(self) -> None:
        """Stop serving; open watches end within a fraction of a second."""
        if self._server is None:
            return
        self._store.close()
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> KubeApiServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def write_kubeconfig(
        self, path: Path, *, context: str = "loopback", namespace: str = "default"
    ) -> Path:
        """A kubeconfig context for this server: plain http, a bearer token.

        An existing kubeconfig at ``path`` keeps its other clusters, users and contexts (and
        its current context), so several servers can stand for several clusters in one file.
        """
        if not self.url:
            raise RuntimeError("start the server before writing a kubeconfig for it")
        config: dict[str, Any] = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [],
            "users": [],
            "contexts": [],
            "current-context": context,
            "preferences": {},
        }
        if path.exists():
            existing = yaml.safe_load(path.read_text()) or {}
            if isinstance(existing, dict):
                config.update(existing)
        user = f"{context}-admin"
        entries = {
            "clusters": {"name": context, "cluster": {"server": self.url}},
            "users": {"name": user, "user": {"token": KUBECONFIG_TOKEN}},
            "contexts": {
                "name": context,
                "context": {"cluster": context, "user": user, "namespace": namespace},
            },
        }
        for section, entry in entries.items():
            others = [e for e in config.get(section) or [] if e.get("name") != entry["name"]]
            config[section] = [*others, entry]
        config["current-context"] = config.get("current-context") or context
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        return path

    # --- state ---------------------------------------------------------------------------

    def create_namespace(self, name: str) -> None:
        if self._store.find(NAMESPACES, None, name) is None:
            self._store.create(NAMESPACES, None, {"metadata": {"name": name}})

    def put(self, obj: dict[str, Any]) -> dict[str, Any]:
        """Create or replace any served object (its namespace is created when missing)."""
        rtype = _resource_type(obj.get("apiVersion", ""), obj.get("kind", ""))
        return self._store.put(obj, rtype)

    def get(
        self, api_version: str, kind: str, namespace: str | None, name: str
    ) -> dict[str, Any] | None:
        return self._store.find(_resource_type(api_version, kind), namespace, name)

    def list(
        self, api_version: str, kind: str, namespace: str | None = None
    ) -> list[dict[str, Any]]:
        items, _ = self._store.list(_resource_type(api_version, kind), namespace)
        return items

    def delete(self, api_version: str, kind: str, namespace: str | None, name: str) -> None:
        self._store.delete(_resource_type(api_version, kind), namespace, name)

    def can(
        self,
        user: str,
        verb: str,
        resource: str,
        *,
        namespace: str | None = None,
        name: str | None = None,
        group: str = "",
        subresource: str = "",
        groups: Sequence[str] = (),
    ) -> bool:
        """What RBAC answers for ``user`` impersonated with ``groups`` (plus the groups a
        real server adds), without HTTP: the same decision a request or review gets."""
        acting = UserInfo(
            user, groups=with_implied_groups(user, list(groups), groups_given=bool(groups))
        )
        wanted = Attributes(
            user=acting, verb=verb, api_group=group, resource=resource,
            subresource=subresource, namespace=namespace or "", name=name or "",
        )  # fmt: skip
        return self._authorizer.authorize(wanted).allowed

    def issue_token(
        self, namespace: str, name: str, audience: str, expires_s: int = DEFAULT_EXPIRATION_S
    ) -> str:
        """A signed token for ServiceAccount ``namespace/name`` (which must exist) with one
        audience, as its ``token`` subresource would issue it. ``expires_s`` may be zero or
        negative: an already expired token, without waiting for one to expire."""
        token, _ = self.tokens.issue(namespace, name, [audience], expires_s)
        return token

    # --- rollouts ------------------------------------------------------------------------

    def fail_rollouts(self, namespace: str, kind: str, name: str, message: str = "") -> None:
        """Rollouts of this workload stall from now on: the current one if still running and
        every later one. A Deployment reports ProgressDeadlineExceeded with ``message`` (or
        the message a real controller writes) once the rollout time has passed."""
        self._store.fail_rollouts((_workload_type(kind).kind, namespace, name), message)

    def heal_rollouts(self, namespace: str, kind: str, name: str) -> None:
        """Undo ``fail_rollouts``: a stalled rollout completes."""
        self._store.heal_rollouts((_workload_type(kind).kind, namespace, name))

    def rollout_count(self, namespace: str, kind: str, name: str) -> int:
        """How many pod-template changes (rollouts) this workload has had since creation."""
        return self._store.rollout_count((_workload_type(kind).kind, namespace, name))

    # --- faults and the request log ------------------------------------------------------

    def forbid(self, verb: str, resource: str, namespace: str | None = None) -> None:
        """Answer 403 Forbidden to ``verb`` on ``resource`` (plural, e.g. "secrets"; "*" for
        any) in ``namespace`` (None: everywhere), as RBAC would."""
        self._faults.forbid(verb, resource, namespace)

    def inject_faults(
        self,
        *,
        status: int,
        count: int,
        verb: str | None = None,
        resource: str | None = None,
        delay_seconds: float = 0.0,
    ) -> None:
        """The next ``count`` matching resource requests wait ``delay_seconds`` and then answer
        ``status`` (500, 503, 504, 429 with Retry-After, 409 Conflict); a ``status`` below 400
        only delays them."""
        self._faults.inject(
            status=status, count=count, verb=verb, resource=resource, delay_seconds=delay_seconds
        )

    def lose_answers(
        self, *, verb: str, resource: str, count: int = 1, status: int | None = None
    ) -> None:
        """The next ``count`` matching writes are carried out and stored, and then their
        answer is lost: ``status`` (500, 503, 504) instead of the result, or with None the
        connection is cut before the body arrives."""
        self._faults.inject(
            status=DROP if status is None else status,
            count=count,
            verb=verb,
            resource=resource,
            delay_seconds=0.0,
            committed=True,
        )

    def clear_faults(self) -> None:
        """Drop every refusal and pending fault (including ``forbid`` rules)."""
        self._faults.clear()

    def reset_request_log(self) -> None:
        with self._log_lock:
            self.request_log.clear()
