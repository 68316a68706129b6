"""The loopback GitHub through the real PyGithub: repositories, pull requests, reviews, merges.

Every JSON answer is checked against GitHub's description by the `github` fixture.
"""

from __future__ import annotations

import base64
from urllib.parse import parse_qs

import pytest
from github import Auth, GithubException

from tests.integration.github_server_support import FULL, OWNER, REPO, World, client
from tests.integration.github_server_support import github as github  # noqa: PLC0414


def test_repository_and_users(github: World) -> None:
    gh = github.client("alice")
    repo = gh.get_repo(FULL)
    assert (repo.full_name, repo.default_branch, repo.owner.login) == (FULL, "main", OWNER)
    assert repo.permissions.push
    assert not repo.permissions.admin
    assert gh.get_user().login == "alice"
    assert gh.get_user("bob").id != gh.get_user("alice").id
    with pytest.raises(GithubException) as missing:
        gh.get_repo("acme/nothing")
    assert missing.value.status == 404


def test_enterprise_style_base_url(github: World) -> None:
    gh = client(github.server.url + "/api/v3", Auth.Token(github.tokens["alice"]))
    number = github.open_change()
    pr = gh.get_repo(FULL).get_pull(number)
    assert [f.filename for f in pr.get_files()] == ["changes/production/c1.yaml"]
    assert github.server.request_log[-1].path == "/repos/acme/requests/pulls/1/files"


def test_pull_request_get_list_files_and_commits_with_paging(github: World) -> None:
    files = {f"changes/production/c{i}.yaml": f"id: c{i}\n".encode() for i in range(5)}
    github.server.push(OWNER, REPO, "many", files, message="first", author="alice")
    second = github.server.push(
        OWNER, REPO, "many", {"README.md": None}, message="second", author="alice"
    )
    number = github.server.open_pull_request(OWNER, REPO, head="many", title="Many", author="alice")
    gh = github.client("bob")
    gh.per_page = 2
    repo = gh.get_repo(FULL)
    pr = repo.get_pull(number)
    assert (pr.head.sha, pr.head.ref, pr.base.ref, pr.user.login) == (
        second,
        "many",
        "main",
        "alice",
    )
    assert (pr.commits, pr.changed_files, pr.mergeable, pr.merged) == (2, 6, True, False)
    listed = list(pr.get_files())
    assert sorted(f.filename for f in listed) == sorted([*files, "README.md"])
    statuses = {f.filename: f.status for f in listed}
    assert statuses["README.md"] == "removed"
    assert statuses["changes/production/c0.yaml"] == "added"
    assert next(f for f in listed if f.filename == "changes/production/c3.yaml").patch == (
        "@@ -0,0 +1 @@\n+id: c3"
    )
    commits = list(pr.get_commits())
    assert [c.sha for c in commits][-1] == second
    assert commits[0].author.login == "alice"
    assert [p.number for p in repo.get_pulls(state="open")] == [number]
    # Six files at two a page: PyGithub followed the Link header through three pages.
    pages = [parse_qs(r.query) for r in github.server.request_log if r.path.endswith("/files")]
    assert [p.get("page", ["1"]) for p in pages] == [["1"], ["2"], ["3"]]


def test_link_header_layout(github: World) -> None:
    import requests

    files = {f"f{i}.txt": b"x\n" for i in range(5)}
    github.server.push(OWNER, REPO, "links", files, message="five", author="alice")
    number = github.server.open_pull_request(
        OWNER, REPO, head="links", title="Links", author="alice"
    )
    url = f"{github.server.url}/repos/{FULL}/pulls/{number}/files"
    headers = {"Authorization": f"token {github.tokens['bob']}"}
    middle = requests.get(url, params={"per_page": 2, "page": 2}, headers=headers, timeout=10)
    assert middle.headers["Link"] == (
        f'<{url}?per_page=2&page=1>; rel="prev", '
        f'<{url}?per_page=2&page=3>; rel="next", '
        f'<{url}?per_page=2&page=3>; rel="last", '
        f'<{url}?per_page=2&page=1>; rel="first"'
    )
    last = requests.get(url, params={"per_page": 2, "page": 3}, headers=headers, timeout=10)
    assert last.headers["Link"] == (
        f'<{url}?per_page=2&page=2>; rel="prev", <{url}?per_page=2&page=1>; rel="first"'
    )
    assert len(last.json()) == 1


def test_open_and_update_pull_request_through_the_api(github: World) -> None:
    github.server.push(OWNER, REPO, "api-branch", {"a.txt": b"a\n"}, message="a", author="alice")
    repo = github.client("alice").get_repo(FULL)
    pr = repo.create_pull(base="main", head="api-branch", title="Via API", body="b")
    assert (pr.number, pr.user.login, pr.state) == (1, "alice", "open")
    with pytest.raises(GithubException) as duplicate:
        repo.create_pull(base="main", head="api-branch", title="again")
    assert duplicate.value.status == 422
    pr.edit(title="Renamed")
    assert repo.get_pull(pr.number).title == "Renamed"
    pr.edit(state="closed")
    assert repo.get_pull(pr.number).state == "closed"
    pr.edit(state="open")
    assert repo.get_pull(pr.number).state == "open"


def test_reviews_create_list_and_dismiss(github: World) -> None:
    number = github.open_change()
    head = github.server.pull(OWNER, REPO, number)["head"]["sha"]
    bob_repo = github.client("bob").get_repo(FULL)
    pr = bob_repo.get_pull(number)
    approval = pr.create_review(commit=bob_repo.get_commit(head), body="lgtm", event="APPROVE")
    assert (approval.state, approval.commit_id, approval.user.login) == ("APPROVED", head, "bob")
    carol_pr = github.client("carol").get_repo(FULL).get_pull(number)
    blocker = carol_pr.create_review(body="no", event="REQUEST_CHANGES")
    assert blocker.state == "CHANGES_REQUESTED"
    assert [(r.user.login, r.state) for r in pr.get_reviews()] == [
        ("bob", "APPROVED"),
        ("carol", "CHANGES_REQUESTED"),
    ]
    blocker.dismiss("stale")
    states = [r.state for r in pr.get_reviews()]
    assert states == ["APPROVED", "DISMISSED"]
    # GitHub refuses a self-approval and an approval for a commit outside the pull request.
    alice_pr = github.client("alice").get_repo(FULL).get_pull(number)
    with pytest.raises(GithubException) as own:
        alice_pr.create_review(body="mine", event="APPROVE")
    assert own.value.status == 422
    with pytest.raises(GithubException) as commented:
        pr.create_review(body="note", event="COMMENT").dismiss("x")
    assert commented.value.status == 422


def test_the_timeline_says_who_dismissed_a_review_and_what_it_was(github: World) -> None:
    number = github.open_change()
    carol_pr = github.client("carol").get_repo(FULL).get_pull(number)
    blocker = carol_pr.create_review(body="no", event="REQUEST_CHANGES")
    approval = carol_pr.create_review(body="fine after all", event="APPROVE")
    alice = github.client("alice")
    alice_pr = alice.get_repo(FULL).get_pull(number)
    # The reviews API only says DISMISSED, whoever dismissed it.
    for review in alice_pr.get_reviews():
        review.dismiss("outdated")
    assert [r.state for r in alice_pr.get_reviews()] == ["DISMISSED", "DISMISSED"]

    events = [e.raw_data for e in alice_pr.as_issue().get_timeline()]
    assert [
        (e["event"], e["actor"]["login"], e["dismissed_review"]["review_id"]) for e in events
    ] == [("review_dismissed", "alice", blocker.id), ("review_dismissed", "alice", approval.id)]
    assert [e["dismissed_review"]["state"] for e in events] == ["changes_requested", "approved"]
    assert events[0]["dismissed_review"]["dismissal_message"] == "outdated"

    # Paged like every GitHub list, oldest first.
    path = f"/repos/{FULL}/issues/{number}/timeline"
    headers, page = alice.requester.requestJsonAndCheck("GET", path, parameters={"per_page": 1})
    assert [e["id"] for e in page] == [events[0]["id"]]
    assert 'rel="next"' in headers["link"]
    _, second = alice.requester.requestJsonAndCheck(
        "GET", path, parameters={"per_page": 1, "page": 2}
    )
    assert [e["id"] for e in second] == [events[1]["id"]]
    with pytest.raises(GithubException) as missing:
        alice.requester.requestJsonAndCheck("GET", f"/repos/{FULL}/issues/999/timeline")
    assert missing.value.status == 404


def test_merge_with_sha_guard_and_squash(github: World) -> None:
    number = github.open_change()
    pr_json = github.server.pull(OWNER, REPO, number)
    old_head = pr_json["head"]["sha"]
    new_head = github.server.push(
        OWNER,
        REPO,
        "change-1",
        {"changes/production/c1.yaml": b"v2\n"},
        message="v2",
        author="alice",
    )
    pr = github.client("carol").get_repo(FULL).get_pull(number)
    with pytest.raises(GithubException) as moved:
        pr.merge(sha=old_head, merge_method="squash")
    assert moved.value.status == 409
    result = pr.merge(sha=new_head, merge_method="squash", commit_title="Apply c1")
    assert result.merged
    merged = github.server.pull(OWNER, REPO, number)
    assert (merged["merged"], merged["state"], merged["merged_by"]["login"]) == (
        True,
        "closed",
        "carol",
    )
    assert merged["merge_commit_sha"] == result.sha == github.server.branch_sha(OWNER, REPO, "main")
    squashed = github.client("carol").get_repo(FULL).get_commit(result.sha)
    assert [p.sha for p in squashed.parents] == [merged["base"]["sha"]]
    assert squashed.committer.login == "web-flow"
    assert squashed.commit.message.startswith("Apply c1\n\n* Propose c1")
    assert github.server.read_file(OWNER, REPO, "main", "changes/production/c1.yaml") == b"v2\n"
    with pytest.raises(GithubException) as again:
        pr.merge(merge_method="merge")
    assert again.value.status == 405


def test_merge_commit_has_two_parents_and_conflicts_are_not_mergeable(github: World) -> None:
    first = github.open_change("one", {"shared.txt": b"one\n"})
    second = github.open_change("two", {"shared.txt": b"two\n"})
    repo = github.client("carol").get_repo(FULL)
    merged = repo.get_pull(first).merge(merge_method="merge")
    commits = [c.sha for c in repo.get_pull(first).get_commits()]
    assert merged.sha not in commits
    assert github.server.read_file(OWNER, REPO, "main", "shared.txt") == b"one\n"
    conflicted = repo.get_pull(second)
    assert (conflicted.mergeable, conflicted.mergeable_state) == (False, "dirty")
    with pytest.raises(GithubException) as refused:
        conflicted.merge(merge_method="merge")
    assert refused.value.status == 405


def test_merge_needs_write_permission(github: World) -> None:
    number = github.open_change()
    pr = github.client("dave").get_repo(FULL).get_pull(number)
    with pytest.raises(GithubException) as denied:
        pr.merge()
    assert denied.value.status == 403


def test_contents_at_a_ref_and_refs(github: World) -> None:
    number = github.open_change()
    head = github.server.pull(OWNER, REPO, number)["head"]["sha"]
    repo = github.client("bob").get_repo(FULL)
    change = repo.get_contents("changes/production/c1.yaml", ref=head)
    assert not isinstance(change, list)
    assert change.decoded_content == b"kind: SecretChange\nid: c1\n"
    assert base64.b64decode(change.content) == change.decoded_content
    listing = repo.get_contents("policies", ref="main")
    assert isinstance(listing, list)
    assert [c.path for c in listing] == ["policies/default.yaml"]
    root = repo.get_contents("", ref="main")
    assert isinstance(root, list)
    assert {c.type for c in root} == {"file", "dir"}
    with pytest.raises(GithubException) as absent:
        repo.get_contents("changes/production/c1.yaml", ref="main")
    assert absent.value.status == 404
    ref = repo.get_git_ref("heads/change-1")
    assert (ref.ref, ref.object.sha) == ("refs/heads/change-1", head)
    names = [r.ref for r in repo.get_git_matching_refs("heads/")]
    assert names == ["refs/heads/change-1", "refs/heads/main"]
    assert [r.ref for r in repo.get_git_refs()] == names


def test_comments_create_list_edit(github: World) -> None:
    number = github.open_change()
    issue = github.client("bob").get_repo(FULL).get_issue(number)
    comment = issue.create_comment("first")
    issue.create_comment("second")
    comment.edit("first, edited")
    bodies = [
        c.body for c in github.client("alice").get_repo(FULL).get_issue(number).get_comments()
    ]
    assert bodies == ["first, edited", "second"]
    assert [c["body"] for c in github.server.comments(OWNER, REPO, number)] == bodies
    with pytest.raises(GithubException) as foreign:
        github.client("dave").get_repo(FULL).get_issue(number).get_comment(comment.id).edit("x")
    assert foreign.value.status == 403


def test_labels_add_list_set_remove(github: World) -> None:
    number = github.open_change()
    pr = github.client("bob").get_repo(FULL).get_pull(number)
    pr.add_to_labels("sealgate:pending")
    pr.add_to_labels("sealgate:pending", "urgent")
    assert [label.name for label in pr.get_labels()] == ["sealgate:pending", "urgent"]
    pr.remove_from_labels("urgent")
    pr.set_labels("sealgate:approved")
    assert github.server.labels(OWNER, REPO, number) == ["sealgate:approved"]
    # The repository now knows every label used, as GitHub creates them on first use.
    assert sorted(label.name for label in github.client("bob").get_repo(FULL).get_labels()) == [
        "sealgate:approved",
        "sealgate:pending",
        "urgent",
    ]
    with pytest.raises(GithubException) as gone:
        pr.remove_from_labels("urgent")
    assert gone.value.status == 404


def test_commit_statuses(github: World) -> None:
    number = github.open_change()
    head = github.server.pull(OWNER, REPO, number)["head"]["sha"]
    repo = github.client("bob").get_repo(FULL)
    status = repo.get_commit(head).create_status(
        "pending", description="waiting", context="sealgate"
    )
    assert (status.state, status.context, status.creator.login) == ("pending", "sealgate", "bob")
    assert [s.state for s in repo.get_commit(head).get_statuses()] == ["pending"]


def test_team_membership_members_and_collaborator_permission(github: World) -> None:
    gh = github.client("alice")
    repo = gh.get_repo(FULL)
    assert repo.get_collaborator_permission("carol") == "admin"
    assert repo.get_collaborator_permission("dave") == "read"
    assert repo.get_collaborator_permission("bob") == "write"
    team = gh.get_organization(OWNER).get_team_by_slug("approvers")
    membership = team.get_team_membership("bob")
    assert (membership.state, membership.role) == ("active", "member")
    with pytest.raises(GithubException) as outsider:
        team.get_team_membership("alice")
    assert outsider.value.status == 404
    github.server.set_team_members(OWNER, "approvers", ["alice"])
    assert [m.login for m in team.get_members()] == ["alice"]
    assert team.has_in_members(gh.get_user("alice"))
    assert not team.has_in_members(gh.get_user("bob"))


def test_concurrent_clients_are_served(github: World) -> None:
    from concurrent.futures import ThreadPoolExecutor

    number = github.open_change()

    def read(login: str) -> int:
        return github.client(login).get_repo(FULL).get_pull(number).number

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(read, ["alice", "bob", "carol", "dave"] * 2))
    assert results == [number] * 8


def test_push_from_a_base_branch_and_edit_the_base(github: World) -> None:
    number = github.open_change()
    stacked = github.server.push(
        OWNER,
        REPO,
        "stacked",
        {"changes/production/c2.yaml": b"id: c2\n"},
        message="Propose c2",
        author="bob",
        base="change-1",
    )
    repo = github.client("bob").get_repo(FULL)
    pr = repo.create_pull(base="change-1", head="stacked", title="Stacked")
    assert [f.filename for f in pr.get_files()] == ["changes/production/c2.yaml"]
    pr.edit(base="main")
    moved = repo.get_pull(pr.number)
    assert (moved.base.ref, moved.head.sha, moved.changed_files) == ("main", stacked, 2)
    assert moved.number == number + 1


def test_pull_files_report_renames_and_binary_files(github: World) -> None:
    policy = github.server.read_file(OWNER, REPO, "main", "policies/default.yaml")
    assert policy is not None
    number = github.open_change(
        "rename",
        {"policies/default.yaml": None, "policies/standard.yaml": policy, "logo.png": b"\x89\x00"},
    )
    files = {
        f.filename: f for f in github.client("bob").get_repo(FULL).get_pull(number).get_files()
    }
    assert files["policies/standard.yaml"].status == "renamed"
    assert files["policies/standard.yaml"].previous_filename == "policies/default.yaml"
    assert files["logo.png"].status == "added"
    assert files["logo.png"].patch is None


def test_organization_and_team_carry_the_full_description_s_fields(github: World) -> None:
    org = github.client("alice").get_organization(OWNER)
    assert (org.public_gists, org.raw_data["archived_at"]) == (0, None)
    team = org.get_team_by_slug("approvers")
    assert team.members_count == len(list(team.get_members()))
    assert team.repos_count == 0
    assert team.organization.login == OWNER
    assert team.raw_data["created_at"] is not None
    assert team.raw_data["updated_at"] is not None
