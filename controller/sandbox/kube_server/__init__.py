"""A loopback Kubernetes API server with real state, for integration tests and the sandbox.

Serves namespaces, Secrets, Events, Deployments, StatefulSets, DaemonSets and Leases with
the semantics controllers depend on: a global resourceVersion and 409 Conflict on stale
writes, generation counting spec changes, label and field selectors, paged lists, watches,
JSON merge / strategic merge / JSON patch, server-side apply, dry runs, ``Status`` errors.
Rollouts are simulated over time (``rollout``), and tests can inject 403s, 5xx, 429,
conflicts and delays. Impersonated requests (``Impersonate-User``, kubectl's ``--as``) are
held to the stored Roles and bindings, and access reviews answer as RBAC decides;
unimpersonated callers stay unrestricted. Discovery, OpenAPI v3 stubs and server-side
tables make ``kubectl`` ``get``, ``describe``, ``rollout status``, ``apply`` and
``auth can-i`` / ``auth whoami`` work against it.

Modules: ``server`` (start/stop and the control API), ``app`` (HTTP routing), ``state``
(storage, watch history, the rollout ticker), ``objects`` (defaulting and validation on
write), ``patch``, ``apply``, ``selectors``, ``watch``, ``rollout``, ``discovery``,
``openapi``, ``tables``, ``faults``, ``errors``, ``resources``, ``request_log``, and for
access control ``identity`` (impersonation), ``access`` (request attributes), ``rbac`` (the
authorizer), ``escalation``, ``reviews`` and ``protobuf`` (kubectl's review encoding).
"""

from controller.sandbox.kube_server.request_log import RequestRecord
from controller.sandbox.kube_server.server import KubeApiServer

__all__ = ["KubeApiServer", "RequestRecord"]
