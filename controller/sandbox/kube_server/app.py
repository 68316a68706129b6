"""The WSGI application: Kubernetes REST paths mapped onto the object store.

Routing, request and response handling are werkzeug's. Every failure leaves as a ``Status``
object, as a real API server's do, and every request is recorded for the tests.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import yaml
from werkzeug.exceptions import HTTPException, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from controller.sandbox.kube_server import (
    access,
    discovery,
    errors,
    escalation,
    identity,
    openapi,
    protobuf,
    reviews,
    tables,
    tokens,
    watch,
)
from controller.sandbox.kube_server.errors import ApiError
from controller.sandbox.kube_server.faults import FaultPlan
from controller.sandbox.kube_server.ownership import manager_from_user_agent
from controller.sandbox.kube_server.patch import PATCH_TYPES, PatchError, apply_patch
from controller.sandbox.kube_server.rbac import RbacAuthorizer
from controller.sandbox.kube_server.request_log import RequestRecord
from controller.sandbox.kube_server.resources import (
    REVIEW_TYPES,
    ResourceType,
    by_path,
    subresource_verbs,
)
from controller.sandbox.kube_server.selectors import field_matcher, label_matcher
from controller.sandbox.kube_server.state import ObjectStore
from controller.sandbox.kube_server.tokens import TokenAuthority

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

LOG = logging.getLogger(__name__)
JSON = "application/json"
APPLY_PATCH = "application/apply-patch+yaml"


def _resource_rules() -> list[Rule]:
    rules = []
    for prefix, defaults in (("/api/<version>", {"group": ""}), ("/apis/<group>/<version>", {})):
        for suffix, endpoint in (
            ("/<resource>", "collection"),
            ("/<resource>/<name>", "object"),
            ("/<resource>/<name>/<subresource>", "object"),
            ("/namespaces/<namespace>/<resource>", "collection"),
            ("/namespaces/<namespace>/<resource>/<name>", "object"),
            ("/namespaces/<namespace>/<resource>/<name>/<subresource>", "object"),
        ):
            rules.append(Rule(prefix + suffix, endpoint=endpoint, defaults=defaults or None))
    return rules


URL_MAP = Map(
    [
        Rule("/version", endpoint="version"),
        Rule("/healthz", endpoint="health"),
        Rule("/livez", endpoint="health"),
        Rule("/readyz", endpoint="health"),
        Rule("/openapi/v3", endpoint="openapi_index"),
        Rule("/openapi/v3/api/<version>", endpoint="openapi", defaults={"group": ""}),
        Rule("/openapi/v3/apis/<group>/<version>", endpoint="openapi"),
        Rule("/api", endpoint="core_versions"),
        Rule("/apis", endpoint="groups"),
        Rule("/api/<version>", endpoint="resource_list", defaults={"group": ""}),
        Rule("/apis/<group>", endpoint="group"),
        Rule("/apis/<group>/<version>", endpoint="resource_list"),
        *_resource_rules(),
    ],
    strict_slashes=False,
    redirect_defaults=False,
)


@dataclass
class _Target:
    """What a request addresses, filled in as routing learns it (for the request log)."""

    verb: str = "get"
    api_group: str = ""
    resource: str = ""
    subresource: str | None = None
    namespace: str | None = None
    name: str | None = None
    dropped: bool = False
    """The request was served but its answer is cut off (an injected fault)."""
    user: identity.UserInfo | None = None
    """Who the request acts as, once its impersonation headers are read."""


def _json_response(body: Any, status: int = 200, content_type: str = JSON) -> Response:
    return Response(json.dumps(body), status=status, content_type=content_type)


def _error_response(error: ApiError) -> Response:
    response = _json_response(error.status_body(), error.code)
    for header, value in error.headers.items():
        response.headers[header] = value
    return response


def _read_json(request: Request) -> Any:
    media_type = request.mimetype
    if media_type and media_type not in (JSON, *PATCH_TYPES):
        raise ApiError(
            415,
            f"the body of the request was in an unknown format - accepted media types include: "
            f"{JSON}, {', '.join(PATCH_TYPES)}",
        )
    try:
        return json.loads(request.get_data() or b"null")
    except ValueError as exc:
        raise errors.bad_request(f"the request body is not valid JSON: {exc}") from exc


def _object_body(request: Request) -> dict[str, Any]:
    body = _read_json(request)
    if not isinstance(body, dict):
        raise errors.bad_request("the request body must be a JSON object")
    return body


def _dry_run(request: Request) -> bool:
    values = request.args.getlist("dryRun")
    if any(value != "All" for value in values):
        raise errors.bad_request(f"Invalid dryRun value: {values!r}; the only valid value is All")
    return bool(values)


def _manager(request: Request) -> str | None:
    """Who a create, update or patch is recorded as: ``fieldManager``, else the User-Agent."""
    named = request.args.get("fieldManager") or manager_from_user_agent(request.user_agent.string)
    return named or None


def _truthy(value: str | None) -> bool:
    return value in ("1", "true", "True")


def _for_list(obj: dict[str, Any]) -> dict[str, Any]:
    """List items on the wire carry no apiVersion/kind; the list names them once."""
    return {k: v for k, v in obj.items() if k not in ("apiVersion", "kind")}


def _encode_continue(revision: int, after: tuple[str, str]) -> str:
    token = json.dumps({"rv": revision, "start": list(after)})
    return base64.urlsafe_b64encode(token.encode()).decode()


def _decode_continue(token: str) -> tuple[str, str]:
    try:
        decoded = json.loads(base64.urlsafe_b64decode(token.encode()))
        namespace, name = decoded["start"]
    except (binascii.Error, ValueError, KeyError, TypeError) as exc:
        raise errors.bad_request("the provided continue parameter is not valid") from exc
    return str(namespace), str(name)


class KubeApp:
    """WSGI callable serving one ``ObjectStore``."""

    def __init__(
        self,
        store: ObjectStore,
        faults: FaultPlan,
        record: Callable[[RequestRecord], None],
        server_address: Callable[[], str],
        *,
        token_authority: TokenAuthority | None = None,
    ) -> None:
        self.store = store
        self.tokens = token_authority or TokenAuthority(store)
        self.faults = faults
        self._record = record
        self._server_address = server_address
        self.authorizer = RbacAuthorizer(store)

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        request = Request(environ)
        target = _Target()
        try:
            response = self._dispatch(request, target)
        except ApiError as exc:
            response = _error_response(exc)
        except HTTPException as exc:
            code = exc.code or 500
            response = _error_response(
                ApiError(code, "the server could not find the requested resource")
                if code == 404
                else ApiError(code, exc.description or exc.name)
            )
        except Exception as exc:
            LOG.exception("loopback Kubernetes API server failed on %s", request.path)
            response = _error_response(ApiError(500, f"internal error: {type(exc).__name__}"))
        self._record(
            RequestRecord(
                method=request.method,
                path=request.path,
                verb=target.verb,
                api_group=target.api_group,
                resource=target.resource,
                subresource=target.subresource,
                namespace=target.namespace,
                name=target.name,
                status=0 if target.dropped else response.status_code,
                user_agent=request.user_agent.string,
                user=target.user.name if target.user else "",
            )
        )
        if target.dropped:
            # Promise a body, send one byte of it and close: the client reads a broken
            # answer, as when a connection dies after the server committed the write.
            start_response(
                "200 OK",
                [("Content-Type", JSON), ("Content-Length", "64"), ("Connection", "close")],
            )
            return [b"{"]
        return response(environ, start_response)

    # --- routing -------------------------------------------------------------------------

    def _dispatch(self, request: Request, target: _Target) -> Response:
        user = identity.acting_user(
            dict(request.headers), request.path, authenticated=bool(request.authorization)
        )
        target.user = user
        adapter = URL_MAP.bind_to_environ(request.environ)
        try:
            endpoint, args = adapter.match()
        except NotFound:
            access.check_path(self.authorizer, user, request.method, request.path)
            raise
        if endpoint not in ("collection", "object"):
            access.check_path(self.authorizer, user, request.method, request.path)
        accept = request.headers.get("Accept", "")
        if endpoint == "version":
            return _json_response(discovery.version())
        if endpoint == "health":
            return Response("ok", content_type="text/plain")
        if endpoint == "openapi_index":
            return _json_response(openapi.index())
        if endpoint == "openapi":
            document = openapi.group_version_document(args["group"], args["version"])
            if document is None:
                raise ApiError(404, "the server could not find the requested resource")
            return _json_response(document)
        if endpoint in ("core_versions", "groups"):
            if discovery.wants_aggregated(accept):
                body = discovery.aggregated(core=endpoint == "core_versions")
                return _json_response(body, content_type=discovery.AGGREGATED_V2)
            if endpoint == "core_versions":
                return _json_response(discovery.core_versions(self._server_address()))
            return _json_response(discovery.group_list())
        if endpoint == "group":
            found = discovery.group(args["group"])
            if found is None:
                raise ApiError(404, "the server could not find the requested resource")
            return _json_response(found)
        if endpoint == "resource_list":
            listing = discovery.resource_list(args["group"], args["version"])
            if listing is None:
                raise ApiError(404, "the server could not find the requested resource")
            return _json_response(listing)
        return self._resource(request, target, endpoint, args)

    def _resource(
        self, request: Request, target: _Target, endpoint: str, args: Mapping[str, Any]
    ) -> Response:
        target.api_group = args["group"]
        target.resource = args["resource"]
        target.namespace = args.get("namespace")
        target.name = args.get("name")
        target.subresource = args.get("subresource")
        method = request.method
        if endpoint == "collection":
            verbs = {"GET": "list", "POST": "create", "DELETE": "deletecollection"}
        else:
            verbs = {"GET": "get", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}
            if target.subresource is not None:
                verbs["POST"] = "create"
        verb = verbs.get(method, method.lower())
        if verb == "list" and _truthy(request.args.get("watch")):
            verb = "watch"
        target.verb = verb
        # As on a real server, RBAC decides before the resource is even looked up.
        user = target.user or identity.caller(bool(request.authorization))
        access.check(
            self.authorizer,
            access.resource_attributes(
                user, verb=verb, group=target.api_group, resource=target.resource,
                subresource=target.subresource, namespace=target.namespace, name=target.name,
                field_selector=request.args.get("fieldSelector"),
            ),
        )  # fmt: skip
        rtype = by_path(args["group"], args["version"], args["resource"])
        if rtype is None or (target.namespace is not None and not rtype.namespaced):
            raise ApiError(404, "the server could not find the requested resource")
        namespace = target.namespace
        if rtype.namespaced and namespace is None and endpoint == "object":
            raise ApiError(404, "the server could not find the requested resource")
        if method not in verbs:
            raise ApiError(405, "the server does not allow this method on the requested resource")
        if rtype.namespaced and namespace is None and verb not in ("list", "watch"):
            raise ApiError(405, "the server does not allow this method on the requested resource")
        allowed = (
            rtype.verbs
            if target.subresource is None
            else subresource_verbs(rtype, target.subresource)
        )
        if allowed is None:
            raise ApiError(404, "the server could not find the requested resource")
        if verb not in allowed:
            raise ApiError(405, "the server does not allow this method on the requested resource")
        dry_run = _dry_run(request)
        decision = self.faults.decide(
            rtype=rtype,
            verb=verb,
            subresource=target.subresource,
            namespace=namespace,
            name=target.name,
            user=user.name,
        )
        if decision.delay_seconds > 0:
            time.sleep(decision.delay_seconds)
        if decision.committed:
            self._serve(request, target, rtype, namespace, dry_run=dry_run)
            if decision.error is not None:
                raise decision.error
            target.dropped = True
            return Response(status=200)
        if decision.error is not None:
            raise decision.error
        return self._serve(request, target, rtype, namespace, dry_run=dry_run)

    def _serve(
        self,
        request: Request,
        target: _Target,
        rtype: ResourceType,
        namespace: str | None,
        *,
        dry_run: bool,
        previewing: bool = False,
    ) -> Response:
        verb = target.verb
        name = target.name or ""
        if tokens.serves(rtype, target.subresource):
            answer = self.tokens.serve(
                rtype, namespace, name, _object_body(request), dry_run=dry_run
            )
            return _json_response(answer, 201)
        if escalation.guarded(rtype, target.user, verb) and not previewing and target.user:
            # What the write would store decides whether it escalates: preview it first.
            preview = self._serve(request, target, rtype, namespace, dry_run=True, previewing=True)
            if preview.status_code < 300:
                previous = self.store.find(rtype, namespace, name) if verb != "create" else None
                stored = json.loads(preview.get_data())
                escalation.check(self.authorizer, target.user, rtype, stored, previous)
        if rtype in REVIEW_TYPES:
            user = target.user or identity.caller(bool(request.authorization))
            if request.mimetype == protobuf.MEDIA_TYPE:
                body = protobuf.decode_review(request.get_data())
            else:
                body = _object_body(request)
            return _json_response(
                reviews.answer(self.authorizer, rtype, body, user, namespace), 201
            )
        if verb == "list":
            return self._list(request, rtype, namespace)
        if verb == "watch":
            return self._watch(request, rtype, namespace)
        if verb == "create":
            created = self.store.create(
                rtype, namespace, _object_body(request), dry_run=dry_run, manager=_manager(request)
            )
            return _json_response(created, 201)
        if verb == "deletecollection":
            return self._delete_collection(request, rtype, namespace, dry_run=dry_run)
        if verb == "get":
            found = self.store.get(rtype, namespace, name)
            if tables.wants_table(request.headers.get("Accept", "")):
                return self._table(request, rtype, [found], {"resourceVersion": ""})
            return _json_response(found)
        if verb == "update":
            body = _object_body(request)
            return _json_response(
                self.store.update(
                    rtype,
                    namespace,
                    name,
                    body,
                    subresource=target.subresource,
                    dry_run=dry_run,
                    manager=_manager(request),
                )
            )
        if verb == "patch":
            return self._patch(
                request, rtype, namespace, name, subresource=target.subresource, dry_run=dry_run
            )
        return self._delete(request, rtype, namespace, name, dry_run=dry_run)

    # --- verbs ---------------------------------------------------------------------------

    def _matcher(self, request: Request) -> Callable[[dict[str, Any]], bool]:
        by_label = label_matcher(request.args.get("labelSelector"))
        by_field = field_matcher(request.args.get("fieldSelector"))
        return lambda obj: by_label(obj) and by_field(obj)

    def _list(self, request: Request, rtype: ResourceType, namespace: str | None) -> Response:
        items, revision = self.store.list(rtype, namespace, self._matcher(request))
        metadata: dict[str, Any] = {"resourceVersion": str(revision)}
        token = request.args.get("continue")
        if token:
            after = _decode_continue(token)
            items = [
                obj
                for obj in items
                if (obj["metadata"].get("namespace", ""), obj["metadata"]["name"]) > after
            ]
        limit = request.args.get("limit", type=int) or 0
        if 0 < limit < len(items):
            last = items[limit - 1]["metadata"]
            metadata["continue"] = _encode_continue(
                revision, (last.get("namespace", ""), last["name"])
            )
            metadata["remainingItemCount"] = len(items) - limit
            items = items[:limit]
        if tables.wants_table(request.headers.get("Accept", "")):
            return self._table(request, rtype, items, metadata)
        return _json_response(
            {
                "kind": rtype.list_kind,
                "apiVersion": rtype.api_version,
                "metadata": metadata,
                "items": [_for_list(obj) for obj in items],
            }
        )

    def _table(
        self,
        request: Request,
        rtype: ResourceType,
        items: list[dict[str, Any]],
        metadata: dict[str, Any],
    ) -> Response:
        include = request.args.get("includeObject", "PartialObjectMetadata")
        if include not in ("None", "Object", "PartialObjectMetadata"):
            raise errors.bad_request(f"unsupported includeObject value {include!r}")
        return _json_response(
            tables.table(rtype, items, metadata, include), content_type=tables.TABLE_CONTENT_TYPE
        )

    def _watch(self, request: Request, rtype: ResourceType, namespace: str | None) -> Response:
        start = watch.start_revision(request.args.get("resourceVersion", ""))
        timeout = request.args.get("timeoutSeconds", type=float) or watch.DEFAULT_WATCH_SECONDS
        events = watch.stream(
            self.store, rtype, namespace, self._matcher(request), start=start, timeout=timeout
        )
        return Response(events, status=200, content_type=JSON, direct_passthrough=True)

    def _patch(
        self,
        request: Request,
        rtype: ResourceType,
        namespace: str | None,
        name: str,
        *,
        subresource: str | None,
        dry_run: bool,
    ) -> Response:
        content_type = request.mimetype
        if content_type == APPLY_PATCH:
            return self._apply(request, rtype, namespace, name, subresource=subresource,
                               dry_run=dry_run)  # fmt: skip
        if content_type not in PATCH_TYPES:
            raise ApiError(
                415,
                "the body of the request was in an unknown format - accepted media types "
                f"include: {', '.join(PATCH_TYPES)}",
            )
        patch = _read_json(request)

        def mutate(current: dict[str, Any]) -> dict[str, Any]:
            try:
                return apply_patch(content_type, current, patch)
            except PatchError as exc:
                if content_type == "application/json-patch+json" and not isinstance(patch, list):
                    raise errors.bad_request(
                        "json: cannot unmarshal object into Go value of type jsonpatch.Patch"
                    ) from exc
                raise ApiError(422, str(exc)) from exc

        patched = self.store.patch(
            rtype,
            namespace,
            name,
            mutate,
            subresource=subresource,
            dry_run=dry_run,
            manager=_manager(request),
        )
        return _json_response(patched)

    def _apply(
        self,
        request: Request,
        rtype: ResourceType,
        namespace: str | None,
        name: str,
        *,
        subresource: str | None,
        dry_run: bool,
    ) -> Response:
        if subresource is not None:
            raise errors.bad_request("this server does not support apply to subresources")
        manager = request.args.get("fieldManager", "")
        if not manager:
            raise errors.bad_request("PATCH /apply requires fieldManager")
        try:
            config = yaml.safe_load(request.get_data() or b"")
        except yaml.YAMLError as exc:
            raise errors.bad_request(f"error decoding YAML: {exc}") from exc
        if not isinstance(config, dict):
            raise errors.bad_request("an apply body must be one object")
        stored, created = self.store.apply(
            rtype,
            namespace,
            name,
            config,
            manager=manager,
            force=_truthy(request.args.get("force")),
            dry_run=dry_run,
        )
        return _json_response(stored, 201 if created else 200)

    def _delete_options(self, request: Request) -> dict[str, Any]:
        if not request.get_data():
            return {}
        body = _read_json(request)
        return body if isinstance(body, dict) else {}

    def _delete(
        self,
        request: Request,
        rtype: ResourceType,
        namespace: str | None,
        name: str,
        *,
        dry_run: bool,
    ) -> Response:
        preconditions = self._delete_options(request).get("preconditions") or {}
        deleted = self.store.delete(
            rtype,
            namespace,
            name,
            uid=preconditions.get("uid"),
            resource_version=preconditions.get("resourceVersion"),
            dry_run=dry_run,
        )
        return _json_response(errors.success_status(rtype, name, deleted["metadata"]["uid"]))

    def _delete_collection(
        self, request: Request, rtype: ResourceType, namespace: str | None, *, dry_run: bool
    ) -> Response:
        items, _ = self.store.list(rtype, namespace, self._matcher(request))
        for obj in items:
            try:
                self.store.delete(
                    rtype,
                    obj["metadata"].get("namespace"),
                    obj["metadata"]["name"],
                    dry_run=dry_run,
                )
            except ApiError as exc:
                if exc.code != 404:
                    raise
        return _json_response(
            {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success"}
        )
