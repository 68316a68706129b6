"""The summary a person reads on the pull request, through the loopback GitHub.

Each test drives the real reconciler against the loopback servers and reads back what
GitHub holds: the sticky comment, the check run and its annotations (through PyGithub's
``get_annotations``). None of it may carry a value or a sealed blob.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import github
import pytest
from jsonschema import Draft4Validator

from controller.errors import Problem
from controller.github.summary import MARKER, render_summary
from controller.model import Decision, DecisionState
from controller.reconciler import Status
from tests.api_specs import HERE, github_validator, problems
from tests.integration.test_reconciler_world import (
    APP_ID,
    CANARY,
    ENV,
    FULL,
    NAMESPACE,
    OWNER,
    POLICY_YAML,
    REPO,
    SECRET,
    Controller,
    World,
    build_world,
)
from tests.integration.test_reconciler_world import controller as controller  # noqa: PLC0414
from tests.integration.test_reconciler_world import world as world  # noqa: PLC0414

PATH = f"{NAMESPACE}/{SECRET}"
MERGE_BY_HAND = POLICY_YAML.replace(
    b"  expiresAfter: 7d\n", b"  expiresAfter: 7d\n  autoMerge: false\n"
)
SEALED = re.compile(r"sg1:[A-Za-z0-9_-]+:")


def sticky(world: World, number: int) -> str:
    bodies = [c["body"] for c in world.hub.comments(OWNER, REPO, number)]
    found = [b for b in bodies if b.startswith(MARKER)]
    assert len(found) == 1, bodies
    return str(found[0])


def run_of(world: World, number: int) -> dict[str, object]:
    return world.checks(world.head(number), "sealgate")[-1]


def assert_no_values(*texts: str) -> None:
    for text in texts:
        assert CANARY.decode() not in text
        assert not SEALED.search(text), text


def push_change(world: World, branch: str, body: str, *, author: str = "alice") -> int:
    world.hub.push(
        OWNER,
        REPO,
        branch,
        {f"changes/{ENV}/{branch}.yaml": body.encode()},
        message=f"propose {branch}",
        author=author,
        base="main",
    )
    return world.hub.open_pull_request(OWNER, REPO, head=branch, title=branch, author=author)


def land(world: World, controller: Controller, value: bytes) -> int:
    number = world.open_pull(value)
    world.approve("bob", number)
    controller.reconciler.handle(FULL, number)
    assert controller.store.read_secret(ENV, PATH) is not None
    return number


@pytest.fixture
def by_hand(tmp_path: Path) -> Iterator[World]:
    w = build_world(tmp_path, policy=MERGE_BY_HAND)
    try:
        yield w
    finally:
        w.hub.stop()
        w.kube.stop()


def test_pending_says_who_is_still_needed_who_asked_why_and_when_it_expires(
    world: World, controller: Controller
) -> None:
    number = world.open_pull(CANARY)
    assert controller.reconciler.handle(FULL, number).status is Status.PENDING
    text = sticky(world, number)
    assert text.startswith(f"{MARKER}\n### sealgate: waiting for approval (needs 1 more approval)")
    assert "Requested by `alice`: rotate the database password." in text
    assert re.search(r"Expires at \S+ \(in [67] days\)\.", text)
    assert (
        "**Next:** 1 more approval (people, not rules):\n"
        "- `production` / `approvals`: needs 1 more approval: one of `bob`, `carol`, `dave` "
        "(team `@acme/secops`)"
    ) in text
    assert "| 0 of 1 approval |" in text
    assert "| new key | — |" in text
    assert "| new secret → v1 |" in text
    assert_no_values(text, str(run_of(world, number)))


def test_approved_under_manual_merge_names_who_may_comment_the_merge(by_hand: World) -> None:
    controller = by_hand.controller()
    try:
        number = by_hand.open_pull(CANARY)
        by_hand.approve("bob", number)
        assert controller.reconciler.handle(FULL, number).status is Status.APPROVED
        text = sticky(by_hand, number)
        assert "### sealgate: approved, waiting for /sealgate merge" in text
        assert (
            "**Next:** a person who may merge comments `/sealgate merge`: `alice` (the author), "
            "`bob`, `carol`, or any member of `@acme/secops`."
        ) in text
        assert "satisfied (1 approval required, 1 given)" in text
        assert "1/1" not in text
        assert_no_values(text)
    finally:
        controller.close()


def test_a_changed_value_shows_before_and_after_and_the_applied_version(
    world: World, controller: Controller
) -> None:
    land(world, controller, b"first-value-of-the-password")
    (stored,) = controller.store.history(ENV, PATH)[:1]
    number = world.open_pull(b"first-value-of-the-password")  # the same value again
    controller.reconciler.handle(FULL, number)
    text = sticky(world, number)
    row = next(line for line in text.splitlines() if "`password`" in line)
    before = stored.fingerprints["password"]
    assert f"| changed value | `{before}` |" in row
    assert "| v1 → v2 |" in row
    shown = re.findall(r"`([0-9a-f]{12})`", row)
    # The same value, yet the pull request's fingerprint cannot be matched with the store's.
    assert len(shown) == 2
    assert shown[0] != shown[1]

    world.approve("bob", number)
    controller.reconciler.handle(FULL, number)
    applied = sticky(world, number)
    assert applied.startswith(f"{MARKER}\n### sealgate: applied")
    assert f"**Applied:** `{ENV}/{PATH}` version 2 is in the store" in applied
    assert "sealgate writes it to `loop` and restarts" in applied
    assert "| v1 → v2 |" in applied, "before stays the version this change replaced"


def test_generated_keys_get_their_fingerprint_once_applied_and_absent_deletes_warn(
    world: World, controller: Controller
) -> None:
    land(world, controller, b"first-value-of-the-password")
    number = push_change(
        world,
        "gen",
        "apiVersion: sealgate.dev/v1\nkind: SecretChange\nmetadata:\n  name: gen\nspec:\n"
        f"  environment: {ENV}\n  secret: {PATH}\n  reason: add a token\n"
        "  generate:\n    token: {length: 40}\n  delete: [nothere]\n",
    )
    controller.reconciler.handle(FULL, number)
    pending = sticky(world, number)
    assert "generated on apply" in pending
    assert "key nothere is not in production/payments/db" in pending
    annotations = (
        world.as_user("alice")
        .get_repo(FULL)
        .get_check_run(int(str(run_of(world, number)["id"])))
        .get_annotations()
    )
    warned = [a for a in annotations if a.annotation_level == "warning"]
    assert [a.path for a in warned] == [f"changes/{ENV}/gen.yaml"]

    world.approve("bob", number)
    controller.reconciler.handle(FULL, number)
    applied = sticky(world, number)
    latest = controller.store.history(ENV, PATH)[0]
    row = next(line for line in applied.splitlines() if "`token`" in line)
    assert f"`{latest.fingerprints['token']}`" in row
    assert "generated on apply" not in row


def test_a_plaintext_value_comes_first_as_a_caution_and_as_an_annotation_on_its_line(
    world: World, controller: Controller
) -> None:
    plain = CANARY.decode()
    number = push_change(
        world,
        "oops",
        "apiVersion: sealgate.dev/v1\nkind: SecretChange\nmetadata:\n  name: oops\nspec:\n"
        f"  environment: {ENV}\n  secret: {PATH}\n  reason: rotate\n"
        f"  set:\n    password: {plain}\n",
    )
    assert controller.reconciler.handle(FULL, number).status is Status.INVALID
    text = sticky(world, number)
    lines = text.splitlines()
    assert lines[1].startswith("### sealgate: invalid")
    assert lines[3] == "> [!CAUTION]", lines[:6]
    assert "`changes/production/oops.yaml:10`: `spec.set.password`" in text
    assert text.index("[!CAUTION]") < text.index("**Fix these files:**")
    assert "**Next:** fix the files listed below and push" in text

    run = world.as_user("alice").get_repo(FULL).get_check_run(int(str(run_of(world, number)["id"])))
    assert run.app.id == APP_ID
    (annotation,) = list(run.get_annotations())
    assert annotation.path == "changes/production/oops.yaml"
    assert (annotation.start_line, annotation.end_line) == (10, 10)
    assert annotation.annotation_level == "failure"
    assert "rotate" in annotation.title
    assert run.output.annotations_count == 1
    assert_no_values(
        text,
        str(run_of(world, number)),
        annotation.message,
        annotation.title or "",
        str(run.raw_data),
    )

    # Judged again: GitHub appends annotations, so none may be sent twice.
    controller.reconciler.handle(FULL, number)
    again = world.as_user("alice").get_repo(FULL).get_check_run(run.id)
    assert again.output.annotations_count == 1
    # A controller that restarted knows nothing: it reads the annotations back first.
    fresh = world.controller()
    try:
        fresh.reconciler.handle(FULL, number)
    finally:
        fresh.close()
    assert world.as_user("alice").get_repo(FULL).get_check_run(run.id).output.annotations_count == 1


def _request_validator() -> Draft4Validator:
    """GitHub's documented body of ``PATCH /repos/{owner}/{repo}/check-runs/{id}``."""
    spec = json.loads((HERE / "github-rest-subset.json").read_text())
    operation = spec["paths"]["/repos/{owner}/{repo}/check-runs/{check_run_id}"]["patch"]
    return Draft4Validator(operation["requestBody"]["content"]["application/json"]["schema"])


def test_more_than_fifty_annotations_go_out_in_batches_of_fifty(
    world: World, controller: Controller
) -> None:
    keys = "".join(f"    k{i:02}: {CANARY.decode()}-{i}\n" for i in range(60))
    number = push_change(
        world,
        "many",
        "apiVersion: sealgate.dev/v1\nkind: SecretChange\nmetadata:\n  name: many\nspec:\n"
        f"  environment: {ENV}\n  secret: {PATH}\n  reason: rotate\n  set:\n{keys}",
    )
    world.hub.reset_request_log()
    controller.reconciler.handle(FULL, number)
    writes = [w for w in world.github_writes() if "check-runs" in w]
    assert writes[0] == f"POST /repos/{FULL}/check-runs"
    assert len(writes) == 2, writes  # 50 with the create, the other 10 in one update
    run = world.as_user("alice").get_repo(FULL).get_check_run(int(str(run_of(world, number)["id"])))
    annotations = list(run.get_annotations())
    assert run.output.annotations_count == 60
    assert sorted(a.start_line for a in annotations) == list(range(10, 70))
    assert_no_values(*(a.message for a in annotations), str(run.raw_data))

    # What the reporter sends fits GitHub's documented request body.
    sample = render_summary(
        Decision(state=DecisionState.INVALID, reasons=()),
        [],
        fingerprints={},
        problems=[Problem(f"changes/{ENV}/many.yaml", "spec", "bad", i) for i in range(1, 51)],
    )
    body = {
        "output": {
            "title": sample.title,
            "summary": sample.text,
            "annotations": [a.as_json() for a in sample.annotations],
        }
    }
    assert list(_request_validator().iter_errors(body)) == []


def test_the_loopback_github_refuses_fifty_one_annotations_at_once(world: World) -> None:
    """As GitHub does: a client that forgets the limit finds out in tests, not in production."""
    sha = world.head(world.open_pull())
    app = world.controller()
    try:
        repo = app.gateway.client.repo(FULL)  # the App's own installation client
        item: dict[str, str | int] = {
            "path": "a.yaml",
            "start_line": 1,
            "end_line": 1,
            "annotation_level": "failure",
            "message": "m",
        }
        with pytest.raises(github.GithubException) as refused:
            repo.create_check_run(
                name="x",
                head_sha=sha,
                output={"title": "t", "summary": "s", "annotations": [item] * 51},
            )
        assert refused.value.status == 422
        run = repo.create_check_run(
            name="x", head_sha=sha, output={"title": "t", "summary": "s", "annotations": [item]}
        )
        run.edit(output={"title": "t", "summary": "s", "annotations": [item, item]})
        assert len(list(run.get_annotations())) == 3, "updates append"
        shown = github_validator("PATCH", "/repos/{owner}/{repo}/check-runs/{check_run_id}", 200)
        again = repo.get_check_run(run.id).raw_data
        assert problems(shown, again) == []
        assert again["output"]["annotations_count"] == 3
    finally:
        app.close()
