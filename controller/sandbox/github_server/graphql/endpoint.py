"""One GraphQL request: parse, validate against GitHub's schema, execute, answer as GitHub.

GitHub answers HTTP 200 for everything past authentication and throttling: a document that
does not parse or validate gets ``{"errors": [...]}`` alone; one that runs gets ``data`` and,
for what could not be resolved, ``errors`` entries typed as GitHub types them
(``{"type": "NOT_FOUND", "path": [...], "locations": [...], "message": ...}``).
"""

from __future__ import annotations

import logging
import re
from typing import Any

from graphql import (
    GraphQLError,
    GraphQLSyntaxError,
    OperationType,
    execute_sync,
    get_operation_ast,
    parse,
    validate,
)

from controller.sandbox.github_server.actions import Hub
from controller.sandbox.github_server.errors import ApiError
from controller.sandbox.github_server.graphql.base import (
    Refusal,
    Scope,
    resolve_field,
    resolve_type,
)
from controller.sandbox.github_server.graphql.mutations import MutationRoot
from controller.sandbox.github_server.graphql.nodes import QueryRoot
from controller.sandbox.github_server.graphql.schema import schema
from controller.sandbox.github_server.state import Identity

LOG = logging.getLogger(__name__)
Json = dict[str, Any]

# Refusals that GitHub raises while it plans a query, before anything is answered.
_WHOLE_QUERY = {"MISSING_PAGINATION_BOUNDARIES", "EXCESSIVE_PAGINATION", "INVALID_PAGINATION"}
_UNKNOWN_FIELD = re.compile(r"^Cannot query field '(\w+)' on type '(\w+)'\.")
_API_TYPES = {403: "FORBIDDEN", 404: "NOT_FOUND", 422: "UNPROCESSABLE"}
_INTERNAL = (
    "Something went wrong while executing your query. "
    "Please include `{rid}` when reporting this issue."
)


def operation_kind(body: Any) -> str | None:
    """``query`` or ``mutation`` for a request body that holds one operation (faults can be
    aimed at one kind: a read and a report share the path); None for anything else."""
    if not isinstance(body, dict) or not isinstance(body.get("query"), str):
        return None
    try:
        operation = get_operation_ast(parse(body["query"]), body.get("operationName"))
    except GraphQLSyntaxError:
        return None
    return None if operation is None else str(operation.operation.value)


def answer(hub: Hub, identity: Identity, body: Any, rid: str) -> Json:
    """The JSON answer to one request body; the caller holds the world lock."""
    if not isinstance(body, dict) or not isinstance(body.get("query"), str):
        return {
            "errors": [{"message": "A query attribute must be specified and must be a string."}]
        }
    variables = body.get("variables")
    if variables is not None and not isinstance(variables, dict):
        return {"errors": [{"message": "Variables are invalid JSON."}]}
    operation_name = body.get("operationName")
    try:
        document = parse(body["query"])
    except GraphQLSyntaxError as exc:
        return {"errors": [_format(exc, rid)]}
    problems = validate(schema(), document)
    if problems:
        return {"errors": [_invalid(e, rid) for e in problems]}
    scope = Scope(hub, identity)
    if operation_name is not None and not isinstance(operation_name, str):
        return {"errors": [{"message": "operationName must be a string."}]}
    operation = get_operation_ast(document, operation_name)
    is_mutation = operation is not None and operation.operation == OperationType.MUTATION
    root: Any = MutationRoot(scope) if is_mutation else QueryRoot(scope)
    result = execute_sync(
        schema(),
        document,
        root_value=root,
        context_value=scope,
        variable_values=variables,
        operation_name=operation_name,
        field_resolver=resolve_field,
        type_resolver=resolve_type,
    )
    errors = [_format(e, rid) for e in result.errors or ()]
    planned = [e for e in errors if e.get("type") in _WHOLE_QUERY]
    if planned and not is_mutation:
        return {"errors": planned}
    out: Json = {}
    if result.data is not None:
        out["data"] = result.data
    if errors:
        out["errors"] = errors
    return out


def _invalid(error: GraphQLError, rid: str) -> Json:
    """A validation error; the commonest, an unknown field, in GitHub's own words."""
    out = _format(error, rid)
    unknown = _UNKNOWN_FIELD.match(error.message)
    if unknown is not None:
        field, type_name = unknown.groups()
        out["extensions"] = {"code": "undefinedField", "typeName": type_name, "fieldName": field}
        out["message"] = f"Field '{field}' doesn't exist on type '{type_name}'"
        out = {"extensions": out.pop("extensions"), **out}
    return out


def _format(error: GraphQLError, rid: str) -> Json:
    original = error.original_error
    out: Json = {}
    message = error.message
    if isinstance(original, Refusal):
        out["type"] = original.kind
        message = original.message
    elif isinstance(original, ApiError):
        # A rule the REST twin enforces (Hub raised it), in GraphQL's terms.
        out["type"] = _API_TYPES.get(original.status, "UNPROCESSABLE")
        message = original.message
    elif original is not None and not isinstance(original, GraphQLError):
        # A bug in the imitation: GitHub's own words, the detail in the server's log only.
        LOG.error("loopback GraphQL resolver failed", exc_info=original)
        message = _INTERNAL.format(rid=rid)
    if error.path:
        out["path"] = list(error.path)
    if error.locations:
        out["locations"] = [{"line": loc.line, "column": loc.column} for loc in error.locations]
    out["message"] = message
    return out
