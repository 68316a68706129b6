"""More attacks on the pull-request flow, played over the loopback servers.

The attacker is a developer with push access (alice), an approver (bob), someone with write
access who can edit comments and labels, or a workload in the payments namespace. Every
attack goes through the loopback GitHub's REST API, its push helper, or the Kubernetes API,
and is judged from what GitHub, the store and the cluster hold afterwards.
"""

from __future__ import annotations

import queue
import tempfile
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests

from controller.github import WebhookEvent
from controller.reconciler import Status
from controller.run.metrics import Metrics
from controller.server.app import ControllerApp, Readiness
from controller.server.http import HttpServer
from controller.server.webhook_app import WebhookApp
from tests.integration.test_reconciler_world import (
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


def open_files(world: World, files: Mapping[str, bytes | None], *, author: str = "alice") -> int:
    """Open a pull request whose branch writes exactly ``files`` (None deletes)."""
    branch = f"attack-{next(world.branches)}"
    world.hub.push(
        OWNER, REPO, branch, files, message=f"attack {branch}", author=author, base="main"
    )
    return world.hub.open_pull_request(
        OWNER, REPO, head=branch, title=f"Attack {branch}", author=author
    )


def summary(world: World, number: int) -> str:
    return str(world.checks(world.head(number), "sealgate")[-1]["output"]["summary"])


def untouched(world: World, controller: Controller, number: int) -> None:
    """Nothing of ``number`` reached GitHub's main branch, the store or the cluster."""
    assert world.hub.pull(OWNER, REPO, number)["merged"] is False
    assert controller.store.list_secrets(ENV) == []
    assert world.secret() is None
    assert world.rollouts() == 0


def approve_and_handle(world: World, controller: Controller, number: int) -> Status:
    world.approve("bob", number)
    world.approve("carol", number)
    return controller.reconciler.handle(FULL, number).status


# -- where a change file lives ---------------------------------------------------------------


def test_a_change_filed_under_another_environments_folder_is_refused(
    world: World, controller: Controller
) -> None:
    # changes/staging/ might be judged by looser rules; spec.environment says production.
    number = open_files(world, {"changes/staging/x.yaml": world.change_yaml("x", b"v1")})
    assert approve_and_handle(world, controller, number) is Status.INVALID
    assert "must live under changes/production/" in summary(world, number)
    untouched(world, controller, number)


def test_a_change_under_a_differently_cased_folder_is_not_a_secret_change(
    world: World, controller: Controller
) -> None:
    # "Changes/" is outside changes/: a governance change, and no governance policy exists.
    number = open_files(world, {"Changes/production/x.yaml": world.change_yaml("x", b"v1")})
    assert approve_and_handle(world, controller, number) is Status.INVALID
    assert "governance" in summary(world, number)
    untouched(world, controller, number)


def test_moving_a_policy_into_changes_is_a_governance_change_and_refused(
    world: World, controller: Controller
) -> None:
    # The policy that judges production disappears in the same pull request as a change.
    policy = world.hub.read_file(OWNER, REPO, "main", "policies/production.yaml")
    assert policy is not None
    number = open_files(
        world,
        {
            "policies/production.yaml": None,
            "changes/production/production.yaml": policy + b"# moved\n",
            "changes/production/x.yaml": world.change_yaml("x", b"v1"),
        },
    )
    assert approve_and_handle(world, controller, number) is Status.INVALID
    assert "governance" in summary(world, number)
    untouched(world, controller, number)
    assert world.hub.read_file(OWNER, REPO, "main", "policies/production.yaml") == policy


def test_a_yml_and_a_yaml_file_changing_the_same_key_are_refused(
    world: World, controller: Controller
) -> None:
    # Two readers could apply them in either order: which value wins must not be a guess.
    number = open_files(
        world,
        {
            "changes/production/x.yaml": world.change_yaml("x", b"value-one"),
            "changes/production/x.yml": world.change_yaml("x2", b"value-two"),
        },
    )
    assert approve_and_handle(world, controller, number) is Status.INVALID
    assert "change each key in one document only" in summary(world, number)
    untouched(world, controller, number)


def test_a_second_yaml_document_changing_the_same_key_is_refused(
    world: World, controller: Controller
) -> None:
    text = world.change_yaml("x", b"reviewed") + b"---\n" + world.change_yaml("y", b"smuggled")
    number = open_files(world, {"changes/production/x.yaml": text})
    assert approve_and_handle(world, controller, number) is Status.INVALID
    assert "change each key in one document only" in summary(world, number)
    untouched(world, controller, number)


def test_a_duplicate_mapping_key_cannot_hide_a_second_value(
    world: World, controller: Controller
) -> None:
    # Reviewers' YAML viewer may show the first value, a loader may keep the last one.
    text = world.change_yaml("x", b"shown") + f"    password: {world.seal(b'hidden')}\n".encode()
    number = open_files(world, {"changes/production/x.yaml": text})
    assert approve_and_handle(world, controller, number) is Status.INVALID
    assert "changes/production/x.yaml" in summary(world, number)
    assert "duplicate" in summary(world, number).lower()
    untouched(world, controller, number)


def test_yaml_anchors_merge_keys_and_tags_are_refused(world: World, controller: Controller) -> None:
    sealed = world.seal(b"v1")
    head = (
        "apiVersion: sealgate.dev/v1\nkind: SecretChange\nmetadata:\n  name: x\n"
        f"spec:\n  environment: {ENV}\n  secret: {PATH}\n  reason: rotate the password\n"
    )
    files = {
        "changes/production/anchor.yaml": (
            head + f"  set: &values\n    password: {sealed}\n  extra: *values\n"
        ).encode(),
        "changes/production/merge.yaml": (
            head.replace("name: x", "name: m") + "  set:\n    <<: {password: " + sealed + "}\n"
        ).encode(),
        "changes/production/tag.yaml": (
            head.replace("name: x", "name: t") + "  set:\n    password: !!binary aGVsbG8=\n"
        ).encode(),
    }
    number = open_files(world, files)
    assert approve_and_handle(world, controller, number) is Status.INVALID
    text = summary(world, number)
    for path in files:
        assert path in text
    assert "aGVsbG8=" not in text
    untouched(world, controller, number)


def test_a_byte_order_mark_does_not_hide_the_document(world: World, controller: Controller) -> None:
    # A BOM is read past: the reviewed document is the one applied, never an empty change.
    number = open_files(
        world, {"changes/production/x.yaml": b"\xef\xbb\xbf" + world.change_yaml("x", b"v1")}
    )
    assert approve_and_handle(world, controller, number) is Status.SYNCED
    stored = controller.store.read_secret(ENV, PATH)
    assert stored is not None
    assert stored.data["password"] == b"v1"


# -- reviews and the pull request's life ----------------------------------------------------


def test_an_approval_placed_on_an_older_commit_after_a_push_does_not_count(
    world: World, controller: Controller
) -> None:
    number = world.open_pull(b"reviewed-value")
    pr = world.as_user("bob").get_repo(FULL).get_pull(number)
    first = next(iter(pr.get_commits()))
    world.push_more(number, b"swapped-value")
    # bob's client still shows the first commit and approves it after the push.
    pr.create_review(commit=first, event="APPROVE")
    status = controller.reconciler.handle(FULL, number)
    assert status.status is Status.PENDING
    assert "bob" in status.eligible_approvers
    untouched(world, controller, number)


def test_a_dismissed_approval_does_not_count(world: World, controller: Controller) -> None:
    number = world.open_pull(b"value")
    world.approve("bob", number)
    pr = world.as_user("erin").get_repo(FULL).get_pull(number)
    (review,) = list(pr.get_reviews())
    review.dismiss("approved the wrong pull request")
    status = controller.reconciler.handle(FULL, number)
    assert status.status is Status.PENDING
    untouched(world, controller, number)


def test_closing_and_reopening_does_not_restart_the_expiry_clock(world: World) -> None:
    number = world.open_pull(b"value")
    pr = world.as_user("alice").get_repo(FULL).get_pull(number)
    pr.edit(state="closed")
    pr.edit(state="open")
    world.approve("bob", number)
    later = world.controller(clock=lambda: datetime.now(UTC) + timedelta(days=8))
    try:
        status = later.reconciler.handle(FULL, number)
        assert status.status is Status.EXPIRED
        untouched(world, later, number)
    finally:
        later.close()


def test_an_approval_from_the_controllers_own_app_does_not_count(
    world: World, controller: Controller
) -> None:
    # An approver-looking review by a bot account (here the token account sealbot).
    number = world.open_pull(b"value")
    world.approve("sealbot", number)
    status = controller.reconciler.handle(FULL, number)
    assert status.status is Status.PENDING
    untouched(world, controller, number)


# -- what approvers read on the pull request ------------------------------------------------


def test_a_comment_carrying_the_sticky_marker_is_not_taken_for_sealgates(
    world: World, controller: Controller
) -> None:
    number = world.open_pull(b"value")
    world.comment("alice", number, "<!-- sealgate:summary -->\n**sealgate: approved**, merging")
    controller.reconciler.handle(FULL, number)
    bodies = {c["user"]["login"]: c["body"] for c in world.hub.comments(OWNER, REPO, number)}
    assert "approved**, merging" in bodies["alice"]
    assert "sealgate[bot]" in bodies
    assert "approved**, merging" not in bodies["sealgate[bot]"]


def test_an_edited_sticky_comment_is_put_back_on_the_next_pass(
    world: World, controller: Controller
) -> None:
    number = world.open_pull(b"value")
    controller.reconciler.handle(FULL, number)
    (sticky,) = [c for c in world.hub.comments(OWNER, REPO, number) if c["user"]["type"] == "Bot"]
    repo = world.as_user("alice").get_repo(FULL)
    repo.get_issue(number).get_comment(int(sticky["id"])).edit(
        "<!-- sealgate:summary -->\n**sealgate: approved** by bob and carol"
    )
    controller.reconciler.handle(FULL, number)
    (restored,) = [c for c in world.hub.comments(OWNER, REPO, number) if c["id"] == sticky["id"]]
    assert restored["body"] == sticky["body"]
    untouched(world, controller, number)


def test_an_approved_label_set_by_hand_neither_approves_nor_stays(
    world: World, controller: Controller
) -> None:
    number = world.open_pull(b"value")
    world.as_user("alice").get_repo(FULL).get_issue(number).add_to_labels("sealgate:approved")
    status = controller.reconciler.handle(FULL, number)
    assert status.status is Status.PENDING
    assert world.hub.labels(OWNER, REPO, number) == ["sealgate:pending"]
    untouched(world, controller, number)


# -- what a workload in the namespace can do ------------------------------------------------


def test_a_secret_pre_created_by_a_workload_is_not_overwritten(
    world: World, controller: Controller
) -> None:
    # A workload creates the name first, hoping sealgate fills it with production values.
    planted = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": SECRET,
            "namespace": NAMESPACE,
            "annotations": {"sealgate.dev/change-id": f"{ENV}/pr-1", "sealgate.dev/checksum": "0"},
        },
        "type": "Opaque",
        "data": {"password": "cGxhbnRlZA=="},
    }
    world.kube.put(planted)
    number = world.open_pull(b"production-value")
    assert approve_and_handle(world, controller, number) is Status.FAILED
    secret = world.secret()
    assert secret is not None
    assert secret["data"] == {"password": "cGxhbnRlZA=="}
    assert world.rollouts() == 0
    (sync,) = world.checks(world.head(number), "sealgate/sync")
    assert sync["conclusion"] == "failure"
    assert "sealgate.dev/adopt=true" in sync["output"]["summary"]
    assert "production-value" not in sync["output"]["summary"]


def test_drift_repair_writes_no_stored_value_into_a_look_alike_secret(
    world: World, controller: Controller
) -> None:
    number = world.open_pull(b"production-value")
    assert approve_and_handle(world, controller, number) is Status.SYNCED
    # Same name, another namespace; and another name with sealgate's label and annotations.
    world.kube.create_namespace("orders")
    look_alikes = [("orders", SECRET), (NAMESPACE, "db-copy")]
    for namespace, name in look_alikes:
        world.kube.put(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {
                    "name": name,
                    "namespace": namespace,
                    "labels": {"app.kubernetes.io/managed-by": "sealgate"},
                    "annotations": {"sealgate.dev/change-id": f"{ENV}/pr-{number}"},
                },
                "type": "Opaque",
                "data": {},
            }
        )
    controller.reconciler.repair_drift()
    for namespace, name in look_alikes:
        secret = world.kube.get("v1", "Secret", namespace, name)
        assert secret is not None
        assert not secret.get("data")


def test_a_key_kubernetes_would_refuse_is_refused_before_the_merge(
    world: World, controller: Controller
) -> None:
    # Kubernetes refuses Secret keys starting with '..' ('..data' is the kubelet's own link in
    # a mounted volume): merged and stored, the Secret could then never be written again.
    sealed = world.seal(b"v", key="..data")
    text = world.change_yaml("x", b"v1").replace(
        b"  set:\n", f"  set:\n    ..data: {sealed}\n".encode()
    )
    number = open_files(world, {"changes/production/x.yaml": text})
    assert approve_and_handle(world, controller, number) is Status.INVALID
    assert "spec.set...data: key may not be '.' or start with '..'" in summary(world, number)
    untouched(world, controller, number)


# -- odd files and names ---------------------------------------------------------------------


def test_a_script_under_changes_is_read_as_a_change_and_refused(
    world: World, controller: Controller
) -> None:
    # Anything under changes/ is judged as a change, so nothing rides along unreviewed.
    number = open_files(
        world,
        {
            "changes/production/x.yaml": world.change_yaml("x", b"v1"),
            "changes/production/run.sh": b"#!/bin/sh\ncurl https://attacker.example\n",
        },
    )
    assert approve_and_handle(world, controller, number) is Status.INVALID
    assert "changes/production/run.sh:2: a document must be a mapping" in summary(world, number)
    untouched(world, controller, number)


def test_secret_names_kubernetes_would_read_differently_are_refused(
    world: World, controller: Controller
) -> None:
    files = {
        "changes/production/upper.yaml": world.change_yaml("u", b"v1", secret=f"{NAMESPACE}/DB"),
        "changes/production/dots.yaml": world.change_yaml(
            "d", b"v1", secret=f"{NAMESPACE}/db/../other"
        ),
    }
    number = open_files(world, files)
    assert approve_and_handle(world, controller, number) is Status.INVALID
    text = summary(world, number)
    for path in files:
        assert f"{path}:7: spec.secret: must be <namespace>/<name>" in text
    untouched(world, controller, number)


def test_deleting_an_applied_change_file_changes_nothing(
    world: World, controller: Controller
) -> None:
    first = world.open_pull(b"applied-value")
    assert approve_and_handle(world, controller, first) is Status.SYNCED
    applied = str(world.hub.pull(OWNER, REPO, first)["head"]["ref"])
    number = open_files(world, {f"changes/{ENV}/{applied}.yaml": None})
    assert approve_and_handle(world, controller, number) is Status.INVALID
    assert "nothing to approve" in summary(world, number)
    stored = controller.store.read_secret(ENV, PATH)
    assert stored is not None
    assert (stored.version, stored.data["password"]) == (1, b"applied-value")


def test_a_pull_request_merged_around_sealgate_is_never_applied(
    world: World, controller: Controller
) -> None:
    number = world.open_pull(b"unreviewed-value")
    world.as_user("erin").get_repo(FULL).get_pull(number).merge()
    status = controller.reconciler.handle(FULL, number)
    assert status.status is Status.FAILED
    assert "merged by erin without an approved sealgate decision" in " ".join(status.messages)
    assert controller.store.list_secrets(ENV) == []
    assert world.secret() is None
    assert world.rollouts() == 0


# -- the controller's HTTP API --------------------------------------------------------------


def test_the_status_api_shows_no_value_and_answers_nothing_it_does_not_know(
    world: World, controller: Controller
) -> None:
    sealed = world.seal(CANARY)
    number = world.open_pull(b"", sealed=sealed)
    assert approve_and_handle(world, controller, number) is Status.SYNCED

    def status(repo: str, pull: int) -> dict[str, Any] | None:
        found = controller.reconciler.status(repo, pull)
        return None if found is None else found.to_json()

    metrics = Metrics()
    events: queue.Queue[WebhookEvent] = queue.Queue(maxsize=4)
    app = ControllerApp(
        webhooks=WebhookApp(b"webhook-secret", events),
        readiness=Readiness(),
        metrics=metrics.render,
        metrics_content_type=metrics.content_type,
        status=status,
    )
    server = HttpServer("127.0.0.1", 0, app)
    server.start()
    try:
        known = requests.get(f"{server.url}/v1/requests/{FULL}/{number}", timeout=10)
        assert known.status_code == 200
        assert known.json()["status"] == "synced"
        assert CANARY.decode() not in known.text
        assert sealed.split(":")[2] not in known.text
        for path in (
            f"/v1/requests/{FULL}/{number + 1}",
            f"/v1/requests/{OWNER}/other/{number}",
            f"/v1/requests/{OWNER}/..%2F..%2Fetc/{number}",
            f"/v1/requests/{FULL}/0",
        ):
            answer = requests.get(f"{server.url}{path}", timeout=10)
            assert answer.status_code in (400, 404), path
            assert CANARY.decode() not in answer.text
        assert (
            requests.post(f"{server.url}/v1/requests/{FULL}/{number}", timeout=10).status_code
            == 405
        )
        assert not events.qsize()
    finally:
        server.stop()


# -- git objects a push can carry ------------------------------------------------------------


def push_entries(world: World, entries: Mapping[str, tuple[str, str]], *, author: str) -> int:
    """Push a commit adding ``path -> (mode, blob-or-commit sha)`` entries, as a local git
    client could (symlinks, submodules), and open a pull request for it."""
    # The server's push helper writes regular files only; a git client can push any mode.
    hub = world.hub._hub
    repo = hub.repo(OWNER, REPO)
    branch = f"attack-{next(world.branches)}"
    base = repo.git.branch_sha("main")
    assert base is not None
    sha = repo.git.commit_files(
        base, {}, message="tree", author=hub.person(author), committer=hub.person(author)
    )
    g = repo.git._repo.git
    with tempfile.TemporaryDirectory() as tmp:
        env = {"GIT_INDEX_FILE": str(Path(tmp) / "index"), "GIT_WORK_TREE": tmp}
        g.read_tree(sha, env=env)
        for path, (mode, obj) in entries.items():
            g.update_index("--add", "--cacheinfo", f"{mode},{obj},{path}", env=env)
        tree = str(g.write_tree(env=env))
    who = hub.person(author)
    commit = repo.git.commit_tree(tree, [base], "link", who, who)
    repo.git.set_branch(branch, commit, None)
    return world.hub.open_pull_request(OWNER, REPO, head=branch, title="links", author=author)


def test_a_symlink_or_submodule_under_changes_is_not_followed(
    world: World, controller: Controller
) -> None:
    g = world.hub._hub.repo(OWNER, REPO).git._repo.git
    with tempfile.NamedTemporaryFile() as f:
        f.write(b"../../policies/production.yaml")
        f.flush()
        link = str(g.hash_object("-w", "--no-filters", f.name))
    main = world.hub.branch_sha(OWNER, REPO, "main")
    number = push_entries(
        world,
        {
            "changes/production/link.yaml": ("120000", link),
            "changes/production/module": ("160000", main),
        },
        author="alice",
    )
    assert approve_and_handle(world, controller, number) is Status.INVALID
    text = summary(world, number)
    assert "changes/production/link.yaml:1: a document must be a mapping" in text
    assert "changes/production/module: listed by GitHub but not readable" in text
    untouched(world, controller, number)


# -- completion records and races -----------------------------------------------------------


def test_a_sync_status_forged_by_a_developer_does_not_stop_delivery(world: World) -> None:
    # With token auth the completion record is a commit status, which anyone with write
    # access can post under the same context.
    controller = world.controller(token=world.tokens["sealbot"])
    try:
        number = world.open_pull(b"approved-value")
        world.approve("bob", number)
        head = world.head(number)
        repo = world.as_user("alice").get_repo(FULL)
        repo.get_commit(head).create_status(
            "success", description="sealgate/sync: synced", context="sealgate/sync"
        )
        # An admin merges by hand an approved request; sealgate must still deliver it.
        world.as_user("erin").get_repo(FULL).get_pull(number).merge()
        assert number in controller.reconciler.work_items(FULL)
        assert controller.reconciler.handle(FULL, number).status is Status.SYNCED
        stored = controller.store.read_secret(ENV, PATH)
        assert stored is not None
        assert stored.data["password"] == b"approved-value"
        assert world.rollouts() == 1
    finally:
        controller.close()


CRITICAL_POLICY = b"""\
apiVersion: sealgate.dev/v1
kind: ApprovalPolicy
metadata:
  name: production-critical
spec:
  environments: [production]
  secrets: ["**"]
  tiers: [critical]
  approvals:
    required: 1
    teams: [acme/secops]
"""


def test_an_approval_given_before_a_tier_was_raised_is_judged_again_at_the_new_tier(
    world: World, controller: Controller
) -> None:
    world.hub.push(
        OWNER,
        REPO,
        "main",
        {"policies/critical.yaml": CRITICAL_POLICY},
        message="critical tier",
        author="erin",
    )
    raise_tier = open_files(
        world,
        {
            "changes/production/raise.yaml": world.change_yaml("raise", b"first").replace(
                b"  set:\n", b"  tier: critical\n  set:\n"
            )
        },
    )
    racing = world.open_pull(b"racing-value")
    # bob approves the racing change while the secret is still 'sensitive'...
    world.approve("bob", racing)
    world.approve("bob", raise_tier)
    world.approve("dave", raise_tier)
    # ...and the tier-raising change lands first.
    assert controller.reconciler.handle(FULL, raise_tier).status is Status.SYNCED
    status = controller.reconciler.handle(FULL, racing)
    assert status.status is Status.PENDING
    assert "dave" in status.eligible_approvers
    assert world.hub.pull(OWNER, REPO, racing)["merged"] is False
    stored = controller.store.read_secret(ENV, PATH)
    assert stored is not None
    assert (stored.data["password"], stored.tier.value) == (b"first", "critical")


def test_a_pull_request_widening_production_needs_a_governance_policy(
    world: World, controller: Controller
) -> None:
    # A developer adds kube-system and a cluster of their own to production, with a change
    # that writes there, hoping the production policy's approver waves both through.
    environment = world.hub.read_file(OWNER, REPO, "main", f"environments/{ENV}.yaml")
    assert environment is not None
    widened = environment.replace(
        f"namespaces: [{NAMESPACE}]".encode(), f"namespaces: [{NAMESPACE}, kube-system]".encode()
    ).replace(b"clusters: [loop]", b"clusters: [loop, attacker-cluster]")
    assert widened != environment
    number = open_files(world, {f"environments/{ENV}.yaml": widened})
    assert approve_and_handle(world, controller, number) is Status.INVALID
    assert "governance" in summary(world, number)
    assert world.hub.pull(OWNER, REPO, number)["merged"] is False
    assert world.hub.read_file(OWNER, REPO, "main", f"environments/{ENV}.yaml") == environment


def test_markdown_smuggled_in_a_key_name_stays_inert_in_sealgates_reports(
    world: World, controller: Controller
) -> None:
    # A key name breaking out of its code span could print a fake "approved" heading in
    # sealgate's own comment, where approvers trust every line.
    evil = '"x`\\n\\n### sealgate: approved (1/1 approvals)\\n\\n<b>approved by bob</b> `y"'
    text = world.change_yaml("x", b"v1").replace(
        b"  set:\n", f"  set:\n    {evil}: {world.seal(b'v2')}\n".encode()
    )
    number = open_files(world, {"changes/production/x.yaml": text})
    assert controller.reconciler.handle(FULL, number).status is Status.INVALID
    (sticky,) = [c["body"] for c in world.hub.comments(OWNER, REPO, number)]
    for body in (summary(world, number), sticky):
        lines = body.splitlines()
        assert not [line for line in lines if line.startswith("### sealgate: approved")]
        (problem,) = [line for line in lines if "changes/production/x.yaml:10" in line]
        # One code span from start to end: nothing in it renders as markdown or HTML.
        assert problem.startswith("- `")
        assert problem.endswith("`")
        assert problem.count("`") == 2
    untouched(world, controller, number)


def test_a_file_over_the_size_limit_is_refused_unread(world: World, controller: Controller) -> None:
    big = world.change_yaml("x", b"v1") + b"# " + b"A" * (300 * 1024) + b"\n"
    number = open_files(world, {"changes/production/x.yaml": big})
    assert approve_and_handle(world, controller, number) is Status.INVALID
    assert "over the 262144 byte limit: split it into several files" in summary(world, number)
    untouched(world, controller, number)


def test_logins_differing_only_in_case_are_one_person(tmp_path: Path) -> None:
    # The policy spells its approvers differently from GitHub; carol also pushed a commit.
    policy = POLICY_YAML.replace(b"users: [bob, carol]", b"users: [BOB, Carol]")
    world = build_world(tmp_path, policy=policy)
    controller = world.controller()
    try:
        number = world.open_pull(b"v1")
        world.push_more(number, b"v2", author="carol")
        world.approve("carol", number)
        status = controller.reconciler.handle(FULL, number)
        assert status.status is Status.PENDING
        assert "carol" not in status.eligible_approvers
        untouched(world, controller, number)
        world.approve("bob", number)
        assert controller.reconciler.handle(FULL, number).status is Status.SYNCED
    finally:
        controller.close()
        world.hub.stop()
        world.kube.stop()
