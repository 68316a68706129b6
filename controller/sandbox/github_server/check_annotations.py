"""Check-run annotations as GitHub keeps them: appended by every create or update that
carries ``output.annotations`` (at most 50 per request), listed by
``GET /repos/{owner}/{repo}/check-runs/{id}/annotations``."""

from __future__ import annotations

from typing import Any

from controller.sandbox.github_server.context import Ctx, Reply, paginate
from controller.sandbox.github_server.errors import ApiError, invalid, not_found

Json = dict[str, Any]
MAX_PER_REQUEST = 50
LEVELS = ("notice", "warning", "failure")
REQUIRED = ("path", "start_line", "end_line", "annotation_level", "message")


def accept(fields: Json) -> list[Json]:
    """The annotations a create/update request adds, validated as GitHub validates them."""
    output = fields.get("output")
    if not isinstance(output, dict) or output.get("annotations") is None:
        return []
    items = output["annotations"]
    if not isinstance(items, list):
        raise invalid("CheckRun", "annotations")
    if len(items) > MAX_PER_REQUEST:
        raise ApiError(
            422,
            "Invalid request.\n\nOnly 50 annotations may be sent at a time.",
            errors=[{"resource": "CheckRun", "field": "annotations", "code": "too_long"}],
        )
    kept: list[Json] = []
    for item in items:
        if not isinstance(item, dict) or any(item.get(k) in (None, "") for k in REQUIRED):
            raise invalid("CheckRun", "annotations", "missing_field")
        if item["annotation_level"] not in LEVELS:
            raise invalid("CheckRun", "annotation_level")
        start, end = item["start_line"], item["end_line"]
        if not isinstance(start, int) or not isinstance(end, int) or start < 1 or end < start:
            raise invalid("CheckRun", "start_line")
        same_line = start == end
        if not same_line and (item.get("start_column") or item.get("end_column")):
            raise invalid("CheckRun", "start_column")
        kept.append(
            {
                "path": str(item["path"]),
                "start_line": start,
                "end_line": end,
                "start_column": item.get("start_column") if same_line else None,
                "end_column": item.get("end_column") if same_line else None,
                "annotation_level": item["annotation_level"],
                "title": item.get("title"),
                "message": str(item["message"]),
                "raw_details": item.get("raw_details"),
            }
        )
    return kept


def render(web: str, full_name: str, head_sha: str, item: Json) -> Json:
    """`check-annotation`."""
    return {**item, "blob_href": f"{web}/{full_name}/blob/{head_sha}/{item['path']}"}


def list_annotations(ctx: Ctx, owner: str, repo: str, check_run_id: int) -> Reply:
    r = ctx.hub.repo(owner, repo)
    run = r.check_runs.get(check_run_id)
    if run is None:
        raise not_found()
    web = ctx.hub.render.web
    return paginate(ctx, run.annotations, lambda a: render(web, r.full_name, run.head_sha, a))


ROUTES = [
    ("GET", "/repos/{owner}/{repo}/check-runs/{check_run_id}/annotations", list_annotations),
]
