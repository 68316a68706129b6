"""``deploy/github-app.yaml``: the GitHub App manifest asks for the minimum, and says why.

Exactly the permissions the controller needs (pull requests, contents and checks write for
reading, merging and reporting; issues write for the comment and labels; members read for
team approvers) and exactly the webhook events its receiver acts on; a comment justifies
each permission and each event. The manifest must be expressible as the JSON GitHub's
manifest flow takes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from controller.github.webhooks import RELEVANT_ACTIONS

ROOT = Path(__file__).resolve().parents[2]
MANIFEST = ROOT / "deploy/github-app.yaml"
PERMISSIONS = {
    "pull_requests": "write",
    "contents": "write",
    "checks": "write",
    "issues": "write",
    "members": "read",
}
EVENTS = ["pull_request", "pull_request_review", "issue_comment", "check_run"]
# Which permission GitHub requires before it lets an App subscribe to an event.
EVENT_NEEDS = {
    "pull_request": "pull_requests",
    "pull_request_review": "pull_requests",
    "issue_comment": "issues",
    "check_run": "checks",
}
# The keys GitHub's manifest flow accepts.
MANIFEST_KEYS = {
    "name",
    "url",
    "description",
    "hook_attributes",
    "redirect_url",
    "callback_urls",
    "setup_url",
    "public",
    "default_permissions",
    "default_events",
    "request_oauth_on_install",
    "setup_on_update",
}


def manifest() -> dict[str, Any]:
    loaded = yaml.safe_load(MANIFEST.read_text())
    assert isinstance(loaded, dict)
    return loaded


def comment_above(key: str, *, list_item: bool = False) -> str:
    """The comment lines right above ``  key:`` (or ``  - key``) in the manifest."""
    lines = MANIFEST.read_text().splitlines()
    target = f"  - {key}" if list_item else f"  {key}:"
    (index,) = [
        i
        for i, line in enumerate(lines)
        if line.rstrip() == target or line.startswith(target + " ")
    ]
    comment: list[str] = []
    index -= 1
    while index >= 0 and lines[index].strip().startswith("#"):
        comment.insert(0, lines[index].strip().lstrip("#").strip())
        index -= 1
    return " ".join(comment)


def test_the_manifest_is_what_the_manifest_flow_takes() -> None:
    app = manifest()
    assert set(app) <= MANIFEST_KEYS
    assert json.loads(json.dumps(app)) == app
    assert app["public"] is False
    assert app["hook_attributes"]["active"] is True
    assert app["hook_attributes"]["url"].startswith("https://")
    assert app["hook_attributes"]["url"].endswith("/webhooks")
    assert app["request_oauth_on_install"] is False


def test_exactly_the_minimum_permissions() -> None:
    assert manifest()["default_permissions"] == PERMISSIONS


def test_exactly_the_events_the_controller_acts_on() -> None:
    events = manifest()["default_events"]
    assert events == EVENTS
    assert set(events) == set(RELEVANT_ACTIONS)


def test_every_event_is_allowed_by_a_requested_permission() -> None:
    permissions = manifest()["default_permissions"]
    for event in manifest()["default_events"]:
        assert EVENT_NEEDS[event] in permissions, event


def test_every_permission_and_event_is_justified() -> None:
    for permission in PERMISSIONS:
        comment = comment_above(permission)
        assert comment.startswith(f"{permission}:"), permission
        assert len(comment.split()) >= 6, f"{permission}: say why it is needed"
    for event in EVENTS:
        assert comment_above(event, list_item=True), event
    text = MANIFEST.read_text()
    # What is left out on purpose is said too.
    for absent in ("administration", "statuses", "metadata"):
        assert absent not in manifest()["default_permissions"]
    assert "commit statuses" in text.lower()
    assert "metadata: read" in text


def test_the_guide_walks_through_registering_the_app() -> None:
    guide = (ROOT / "docs/production.md").read_text()
    assert "deploy/github-app.yaml" in guide
    assert "app-manifests/" in guide
    assert "conversions" in guide
