"""The RBAC calls of :class:`controller.kube.api.KubeApi`: Roles and RoleBindings.

A mixin rather than more of ``api.py``: the same retries, error mapping and raw-JSON bodies,
kept apart because only access delivery (``controller.kube.access_rbac``) uses them. Each
public method is one RBAC rule in ``deploy/rbac/`` (``tests/integration/test_rbac.py``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from kubernetes import client

Obj = dict[str, Any]
RBAC_KINDS = ("Role", "RoleBinding")
_JSON = "application/json"
_PAGE = 500
_RESOURCE = {"Role": "roles", "RoleBinding": "rolebindings"}


def rbac_resource(kind: str) -> str:
    """``roles`` or ``rolebindings``; refuses any other kind (no cluster-wide RBAC here)."""
    try:
        return _RESOURCE[kind]
    except KeyError:
        raise ValueError(f"not a namespaced RBAC kind: {kind}") from None


class RbacCalls:
    """Namespaced Roles and RoleBindings. Mixed into ``KubeApi``, which provides the rest."""

    if TYPE_CHECKING:
        cluster: str
        _timeout: tuple[float, float]

        def _call(
            self,
            verb: str,
            resource: str,
            namespace: str | None,
            name: str | None,
            request: Callable[[], object],
            *,
            missing_ok: bool = False,
        ) -> Obj | None: ...

        def _must(self, obj: Obj | None) -> Obj: ...

        @property
        def api_client(self) -> client.ApiClient: ...

    @functools.cached_property
    def _rbac(self) -> client.RbacAuthorizationV1Api:
        return client.RbacAuthorizationV1Api(self.api_client)

    def _method(self, pattern: str, kind: str) -> Callable[..., object]:
        """The client's method for ``kind``: ``pattern`` names it with ``{}`` for the kind."""
        snake = "role" if kind == "Role" else "role_binding"
        return cast(Callable[..., object], getattr(self._rbac, pattern.format(snake)))

    def get_rbac(self, kind: str, namespace: str, name: str) -> Obj | None:
        reader = self._method("read_namespaced_{}", kind)
        return self._call(
            "get",
            rbac_resource(kind),
            namespace,
            name,
            lambda: reader(name, namespace, _preload_content=False, _request_timeout=self._timeout),
            missing_ok=True,
        )

    def list_rbac(self, kind: str, namespace: str | None, label_selector: str) -> list[Obj]:
        """Objects matching ``label_selector`` in ``namespace``; None: in every namespace,
        which needs ``list`` cluster-wide (the shipped RBAC grants it per namespace only)."""
        resource = rbac_resource(kind)
        lister: Callable[..., object]
        if namespace is None:
            lister = self._method("list_{}_for_all_namespaces", kind)
        else:
            lister = functools.partial(self._method("list_namespaced_{}", kind), namespace)
        items: list[Obj] = []
        token: str | None = None
        while True:
            page = functools.partial(
                lister,
                label_selector=label_selector,
                limit=_PAGE,
                _continue=token,
                _preload_content=False,
                _request_timeout=self._timeout,
            )
            body = self._must(self._call("list", resource, namespace, None, page))
            for item in body.get("items") or []:
                # List items carry no kind; callers report and compare with it.
                item.setdefault("kind", kind)
                items.append(item)
            token = (body.get("metadata") or {}).get("continue") or None
            if not token:
                return items

    def create_rbac(self, kind: str, namespace: str, body: Obj) -> Obj:
        creator = self._method("create_namespaced_{}", kind)
        return self._must(
            self._call(
                "create",
                rbac_resource(kind),
                namespace,
                str(body["metadata"]["name"]),
                lambda: creator(
                    namespace,
                    cast(Any, body),
                    _preload_content=False,
                    _content_type=_JSON,
                    _request_timeout=self._timeout,
                ),
            )
        )

    def replace_rbac(self, kind: str, namespace: str, name: str, body: Obj) -> Obj:
        """A PUT carrying the resourceVersion that was read: a concurrent edit is a 409."""
        replacer = self._method("replace_namespaced_{}", kind)
        return self._must(
            self._call(
                "update",
                rbac_resource(kind),
                namespace,
                name,
                lambda: replacer(
                    name,
                    namespace,
                    cast(Any, body),
                    _preload_content=False,
                    _content_type=_JSON,
                    _request_timeout=self._timeout,
                ),
            )
        )

    def delete_rbac(
        self, kind: str, namespace: str, name: str, *, uid: str, resource_version: str
    ) -> bool:
        """Delete exactly the object that was read; False when it is already gone."""
        deleter = self._method("delete_namespaced_{}", kind)
        options = {
            "apiVersion": "v1",
            "kind": "DeleteOptions",
            "preconditions": {"uid": uid, "resourceVersion": resource_version},
        }
        gone = self._call(
            "delete",
            rbac_resource(kind),
            namespace,
            name,
            lambda: deleter(
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
