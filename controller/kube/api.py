"""The one seam between sealgate and a Kubernetes API server.

Typed wrappers over the official client's raw responses: objects come back as plain JSON
dicts (the generated models reject fields they do not know, and a newer server always has
some). Every call maps failures onto the error tree and retries what a retry can fix, with
jittered exponential back-off that honours ``Retry-After``.

Secret bodies never reach a message: for Secret calls only the HTTP status and the Status
reason are kept, never the server's free-text message.
"""

from __future__ import annotations

import functools
import json
import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, cast

import urllib3.exceptions
from kubernetes import client
from kubernetes.client.exceptions import ApiException
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt

from controller.errors import ClusterError, ConflictError
from controller.kube.rbac_api import RbacCalls

log = logging.getLogger(__name__)

Obj = dict[str, Any]
WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet")
_JSON = "application/json"
_STRATEGIC = "application/strategic-merge-patch+json"
_PAGE = 500


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    attempts: int = 4
    """Total tries of one call, the first included."""
    initial_s: float = 0.2
    max_s: float = 5.0
    max_retry_after_s: float = 30.0


def _retryable(exc: BaseException) -> bool:
    return isinstance(exc, ClusterError) and exc.retryable


class KubeApi(RbacCalls):
    """One cluster's API, through one ``ApiClient`` (Roles and RoleBindings: ``RbacCalls``)."""

    def __init__(
        self,
        api_client: client.ApiClient,
        cluster: str,
        *,
        retry: RetryPolicy | None = None,
        request_timeout_s: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.cluster = cluster
        self._sleep = sleep
        self._client = api_client
        self._core = client.CoreV1Api(api_client)
        self._apps = client.AppsV1Api(api_client)
        self._coordination = client.CoordinationV1Api(api_client)
        self._retry = retry or RetryPolicy()
        self._timeout = (min(5.0, request_timeout_s), request_timeout_s)

    def close(self) -> None:
        self._client.close()  # type: ignore[no-untyped-call]

    @property
    def request_timeout(self) -> tuple[float, float]:
        """(connect, read) seconds, for calls made outside this class."""
        return self._timeout

    @property
    def api_client(self) -> client.ApiClient:
        """For one-off probes (``controller.kube.access``) that bypass the retries."""
        return self._client

    # ------------------------------------------------------------------ plumbing

    def _wait(self, state: RetryCallState) -> float:
        policy = self._retry
        ceiling = min(policy.max_s, policy.initial_s * 2 ** (state.attempt_number - 1))
        backoff = random.uniform(0, ceiling)  # noqa: S311 -- jitter needs no secrecy
        exc = state.outcome.exception() if state.outcome else None
        cause = exc.__cause__ if exc is not None else None
        headers = getattr(cause, "headers", None) or {}
        try:
            retry_after = float(headers.get("Retry-After", 0))
        except (TypeError, ValueError):
            retry_after = 0.0
        return max(backoff, min(retry_after, policy.max_retry_after_s))

    def _call(
        self,
        verb: str,
        resource: str,
        namespace: str | None,
        name: str | None,
        request: Callable[[], object],
        *,
        missing_ok: bool = False,
    ) -> Obj | None:
        def once() -> Obj | None:
            try:
                response = request()
                # The body is read lazily: a connection cut mid-body fails here.
                raw = getattr(response, "data", b"") or b"{}"
            except ApiException as exc:
                if exc.status == 404 and missing_ok:
                    return None
                raise _error(
                    self.cluster,
                    verb=verb,
                    resource=resource,
                    namespace=namespace,
                    name=name,
                    exc=exc,
                ) from exc
            except ValueError as exc:
                # The client validates bodies before sending; its messages quote the input,
                # which for a Secret holds values, so the cause is dropped for Secrets.
                error = ClusterError(
                    f"cluster {self.cluster}: {verb} {_where(resource, namespace, name)}: "
                    "the client rejected the request body",
                    retryable=False,
                )
                if resource == "secrets":
                    raise error from None
                raise error from exc
            except urllib3.exceptions.HTTPError as exc:
                raise ClusterError(
                    f"cluster {self.cluster}: {verb} {_where(resource, namespace, name)}: "
                    f"no answer ({type(exc).__name__})",
                    retryable=True,
                ) from exc
            try:
                body = json.loads(raw)
            except ValueError as exc:
                raise ClusterError(
                    f"cluster {self.cluster}: {verb} {_where(resource, namespace, name)}: "
                    "the answer is not JSON",
                    retryable=True,
                ) from None if resource == "secrets" else exc
            if not isinstance(body, dict):
                raise ClusterError(
                    f"cluster {self.cluster}: {verb} {_where(resource, namespace, name)}: "
                    "the answer is not a JSON object",
                    retryable=True,
                )
            return body

        retrying = Retrying(
            stop=stop_after_attempt(max(1, self._retry.attempts)),
            wait=self._wait,
            retry=retry_if_exception(_retryable),
            reraise=True,
            sleep=self._sleep,
            before_sleep=lambda s: log.warning(
                "cluster %s: %s %s failed, retrying (attempt %d)",
                self.cluster,
                verb,
                _where(resource, namespace, name),
                s.attempt_number,
            ),
        )
        return retrying(once)

    def _must(self, obj: Obj | None) -> Obj:
        if obj is None:  # only missing_ok calls return None
            raise AssertionError("unreachable: a call that may not miss returned nothing")
        return obj

    def _list(
        self,
        resource: str,
        namespace: str,
        page: Callable[[str | None], object],
    ) -> list[Obj]:
        items: list[Obj] = []
        token: str | None = None
        while True:
            body = self._must(
                self._call("list", resource, namespace, None, functools.partial(page, token))
            )
            items.extend(body.get("items") or [])
            token = (body.get("metadata") or {}).get("continue") or None
            if not token:
                return items

    # ------------------------------------------------------------------- secrets

    def get_secret(self, namespace: str, name: str) -> Obj | None:
        return self._call(
            "get",
            "secrets",
            namespace,
            name,
            lambda: self._core.read_namespaced_secret(
                name, namespace, _preload_content=False, _request_timeout=self._timeout
            ),
            missing_ok=True,
        )

    def list_secrets(self, namespace: str, label_selector: str | None = None) -> list[Obj]:
        return self._list(
            "secrets",
            namespace,
            lambda token: self._core.list_namespaced_secret(
                namespace,
                label_selector=label_selector,
                limit=_PAGE,
                _continue=token,
                _preload_content=False,
                _request_timeout=self._timeout,
            ),
        )

    def create_secret(self, namespace: str, body: Obj) -> Obj:
        name = body["metadata"]["name"]
        return self._must(
            self._call(
                "create",
                "secrets",
                namespace,
                name,
                lambda: self._core.create_namespaced_secret(
                    namespace,
                    cast(Any, body),
                    _preload_content=False,
                    _content_type=_JSON,
                    _request_timeout=self._timeout,
                ),
            )
        )

    def replace_secret(self, namespace: str, name: str, body: Obj) -> Obj:
        return self._must(
            self._call(
                "update",
                "secrets",
                namespace,
                name,
                lambda: self._core.replace_namespaced_secret(
                    name,
                    namespace,
                    cast(Any, body),
                    _preload_content=False,
                    _content_type=_JSON,
                    _request_timeout=self._timeout,
                ),
            )
        )

    def delete_secret(self, namespace: str, name: str, *, uid: str, resource_version: str) -> bool:
        """Delete exactly the object that was read; False when it is already gone."""
        options = {
            "apiVersion": "v1",
            "kind": "DeleteOptions",
            "preconditions": {"uid": uid, "resourceVersion": resource_version},
        }
        gone = self._call(
            "delete",
            "secrets",
            namespace,
            name,
            lambda: self._core.delete_namespaced_secret(
                name,
                namespace,
                body=cast(Any, options),
                _preload_content=False,
                _content_type=_JSON,
                _request_timeout=self._timeout,
            ),
            missing_ok=True,
        )
        return gone is not None

    # ----------------------------------------------------------------- workloads

    def list_workloads(self, kind: str, namespace: str) -> list[Obj]:
        resource = _resource(kind)
        lister: Callable[..., object] = {
            "Deployment": self._apps.list_namespaced_deployment,
            "StatefulSet": self._apps.list_namespaced_stateful_set,
            "DaemonSet": self._apps.list_namespaced_daemon_set,
        }[kind]
        items = self._list(
            resource,
            namespace,
            lambda token: lister(
                namespace,
                limit=_PAGE,
                _continue=token,
                _preload_content=False,
                _request_timeout=self._timeout,
            ),
        )
        for item in items:
            # List items carry no kind; the caller needs it to report and patch.
            item.setdefault("kind", kind)
        return items

    def get_workload(self, kind: str, namespace: str, name: str) -> Obj | None:
        reader: Callable[..., object] = {
            "Deployment": self._apps.read_namespaced_deployment,
            "StatefulSet": self._apps.read_namespaced_stateful_set,
            "DaemonSet": self._apps.read_namespaced_daemon_set,
        }[kind]
        return self._call(
            "get",
            _resource(kind),
            namespace,
            name,
            lambda: reader(name, namespace, _preload_content=False, _request_timeout=self._timeout),
            missing_ok=True,
        )

    def patch_template_annotations(
        self, kind: str, namespace: str, name: str, annotations: Mapping[str, str]
    ) -> Obj:
        """Strategic merge patch of pod-template annotations: a change starts a rollout."""
        patcher: Callable[..., object] = {
            "Deployment": self._apps.patch_namespaced_deployment,
            "StatefulSet": self._apps.patch_namespaced_stateful_set,
            "DaemonSet": self._apps.patch_namespaced_daemon_set,
        }[kind]
        patch = {"spec": {"template": {"metadata": {"annotations": dict(annotations)}}}}
        return self._must(
            self._call(
                "patch",
                _resource(kind),
                namespace,
                name,
                lambda: patcher(
                    name,
                    namespace,
                    patch,
                    _preload_content=False,
                    _content_type=_STRATEGIC,
                    _request_timeout=self._timeout,
                ),
            )
        )

    # -------------------------------------------------------------------- events

    def create_event(self, namespace: str, body: Obj) -> Obj:
        return self._must(
            self._call(
                "create",
                "events",
                namespace,
                None,
                lambda: self._core.create_namespaced_event(
                    namespace,
                    cast(Any, body),
                    _preload_content=False,
                    _content_type=_JSON,
                    _request_timeout=self._timeout,
                ),
            )
        )

    # -------------------------------------------------------------------- leases

    def get_lease(self, namespace: str, name: str) -> Obj | None:
        return self._call(
            "get",
            "leases",
            namespace,
            name,
            lambda: self._coordination.read_namespaced_lease(
                name, namespace, _preload_content=False, _request_timeout=self._timeout
            ),
            missing_ok=True,
        )

    def create_lease(self, namespace: str, body: Obj) -> Obj:
        return self._must(
            self._call(
                "create",
                "leases",
                namespace,
                body["metadata"]["name"],
                lambda: self._coordination.create_namespaced_lease(
                    namespace,
                    cast(Any, body),
                    _preload_content=False,
                    _content_type=_JSON,
                    _request_timeout=self._timeout,
                ),
            )
        )

    def replace_lease(self, namespace: str, name: str, body: Obj) -> Obj:
        return self._must(
            self._call(
                "update",
                "leases",
                namespace,
                name,
                lambda: self._coordination.replace_namespaced_lease(
                    name,
                    namespace,
                    cast(Any, body),
                    _preload_content=False,
                    _content_type=_JSON,
                    _request_timeout=self._timeout,
                ),
            )
        )


def _resource(kind: str) -> str:
    return {"Deployment": "deployments", "StatefulSet": "statefulsets", "DaemonSet": "daemonsets"}[
        kind
    ]


def _where(resource: str, namespace: str | None, name: str | None) -> str:
    target = resource if name is None else f"{resource}/{name}"
    return target if namespace is None else f"{target} in namespace {namespace}"


def _status_detail(exc: ApiException, resource: str) -> str:
    """The Status object's reason (and, except for Secrets, its message)."""
    try:
        status = json.loads(exc.body or "")
    except (TypeError, ValueError):
        status = None
    if not isinstance(status, dict):
        return str(exc.reason or "")
    reason = str(status.get("reason") or exc.reason or "")
    message = str(status.get("message") or "")
    if resource == "secrets" or not message:
        return reason
    return f"{reason}: {message[:300]}"


def _error(
    cluster: str,
    *,
    verb: str,
    resource: str,
    namespace: str | None,
    name: str | None,
    exc: ApiException,
) -> Exception:
    status = int(exc.status or 0)
    where = _where(resource, namespace, name)
    detail = _status_detail(exc, resource)
    if status == 403:
        scope = f"in namespace {namespace}" if namespace else "cluster-wide"
        return ClusterError(
            f"cluster {cluster}: forbidden: cannot {verb} {resource} {scope}"
            f"{f' ({name})' if name else ''}: grant the controller's service account "
            f"'{verb}' on '{resource}'",
            retryable=False,
        )
    if status == 401:
        return ClusterError(
            f"cluster {cluster}: {verb} {where}: credentials rejected (401): check the "
            "kubeconfig or service account token",
            retryable=False,
        )
    if status == 409:
        return ConflictError(f"cluster {cluster}: {verb} {where}: conflict ({detail})")
    if status == 404 and verb == "update":
        # Deleted since it was read: as much a lost race as a 409; the caller re-reads.
        return ConflictError(f"cluster {cluster}: {verb} {where}: it no longer exists")
    if status == 404:
        return ClusterError(
            f"cluster {cluster}: {verb} {where}: not found ({detail}): does the namespace exist?",
            retryable=False,
        )
    retryable = status == 429 or status >= 500 or status == 0
    return ClusterError(
        f"cluster {cluster}: {verb} {where}: HTTP {status} {detail}".rstrip(),
        retryable=retryable,
    )
