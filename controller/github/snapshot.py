"""Everything one decision needs about one pull request, read from GitHub in one go.

The snapshot is immutable: the policy engine turns it into a decision without I/O. What it
reads, and from where:

- the pull request itself, its changed files (every page), its commits with their linked
  accounts, co-authors and signature verification, its reviews with the commit each was
  made on (and, when one was dismissed, who dismissed it: ``controller.github.dismissals``),
  its comments with whether they were edited;
- who pushed the head branch (``controller.github.pushes``);
- the contents of the changed request files (under ``changes/`` and ``access/``) at the
  **head**;
- ``environments/`` and ``policies/`` at the **current tip of the base branch**, never the
  head nor the (possibly stale) ``base.sha``, so a pull request cannot loosen the rules it is
  judged by;
- nothing else when the pull request targets a branch sealgate does not judge (only the
  default branch, or the configured ones) or comes from a fork it does not accept: the rules
  of an arbitrary branch are never read, so nothing can be learned from them;
- the members of every team the base policies name (cached briefly).

Content is addressed by git object ids (a commit for the rule folders, a blob for a file),
which never change, so it is cached without expiry (``controller.github.contents``). The
lists (reviews, comments, activity) are read with conditional requests, so the ones that did
not change since the last snapshot answer ``304`` and cost no rate-limit budget; the files
and commits are fixed by the head and kept per head. Everything is read concurrently
(``controller.github.pull_reads``): a re-evaluation after a review costs one round trip of
reads, and spends budget on the pull request, its reviews and its comments only.

Current tiers are the store's business, not GitHub's: ``facts.current_tiers`` is left empty
for the caller to fill with ``dataclasses.replace``.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from github.PullRequest import PullRequest

from controller.documents import MAX_FILE_BYTES, parse_rules
from controller.documents.pull_files import FileChange, pull_files
from controller.errors import DocumentError, GitHubError, Problem
from controller.github.cache import LruCache
from controller.github.client import GitHubClient
from controller.github.conditional import ConditionalLists
from controller.github.contents import ContentReader
from controller.github.dismissals import with_dismissers
from controller.github.failures import github_errors
from controller.github.judged import not_judged
from controller.github.pull_reads import PullReads, Where, at_head, checked_at_head
from controller.github.pushes import PushLedger, co_authors
from controller.github.records import RulesAt
from controller.github.report_graph import sealgate_label_ids
from controller.github.teams import TeamDirectory
from controller.model import (
    Comment,
    Commit,
    PullRequestFacts,
    Review,
    ReviewState,
    frozen_map,
)
from controller.policy import teams_referenced

# GitHub's list endpoints stop at these counts; past them the snapshot would be partial.
MAX_PULL_COMMITS = 250
MAX_PULL_FILES = 3000

MAX_CHANGED_FILES = 200
"""Files one pull request may change. Each changed request file (under ``changes/`` or
``access/``) costs a request the first time it is read, so this bounds what one pull request
can spend of the installation's rate limit; over it, the pull request is invalid and no file
is read."""

DEFAULT_BLOB_CACHE_BYTES = 64 * 1024 * 1024
"""Room for every file of a pull request at the cap and the per-file limit, plus rules."""

TeamsFor = Callable[[Mapping[str, bytes]], Iterable[str]]
"""Given the base's rule files, the ``org/slug`` teams whose members the decision needs."""


class PullState(enum.StrEnum):
    OPEN = "open"
    CLOSED = "closed"
    MERGED = "merged"


@dataclass(frozen=True, slots=True)
class PullRequestSnapshot:
    repo: str
    """``owner/name``."""
    title: str
    state: PullState
    facts: PullRequestFacts
    change_files: Mapping[str, bytes] = field(default_factory=frozen_map)
    """Path → bytes at the head, for changed request files (under ``changes/`` and
    ``access/``) that still exist: one mapping, the directory tells the kind."""
    rule_files: Mapping[str, bytes] = field(default_factory=frozen_map)
    """Path → bytes at the base, for every YAML file in ``environments/`` and ``policies/``."""
    proposed_rule_files: Mapping[str, bytes] | None = None
    """The same folders at the head, read only when the pull request changes them (a
    governance change): the rules it would leave behind must still hold together."""
    labels: tuple[str, ...] = ()
    head_ref: str = ""
    base_ref: str = ""
    rules_sha: str = ""
    """The tip of ``base_ref`` the rules were read at."""
    default_branch: str = ""
    url: str = ""
    """The pull request's web address, for records that link back to it."""
    refusal: str | None = None
    """Why this pull request is not judged at all (a branch or fork sealgate does not
    accept); the snapshot then carries no rules and no changes."""

    @property
    def rules_from_default_branch(self) -> bool:
        """True when the rules are the default branch's: only those may teach anything that
        other pull requests or drift repair use."""
        return self.refusal is None and bool(self.base_ref) and self.base_ref == self.default_branch

    problems: tuple[Problem, ...] = ()
    """What kept the snapshot from being complete: pass to the policy engine as problems."""
    node_id: str = ""
    """The pull request's GitHub global id (GraphQL label edits address it); may be empty."""
    label_ids: Mapping[str, str] = field(default_factory=frozen_map)
    """``sealgate:*`` label name -> its node id in the repository, for the labels GitHub
    showed (on the pull request or in the repository); a label missing here is edited over
    REST, which also creates it."""


REVIEW_STATES = frozenset(state.value for state in ReviewState) - {ReviewState.PENDING.value}


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _login(account: Any) -> str | None:
    if isinstance(account, dict) and account.get("login"):
        return str(account["login"])
    return None


def _when(text: Any) -> datetime:
    return datetime.fromisoformat(str(text))


def _commit(item: Any) -> Commit:
    """A commit of the pull-request commits list. ``author``/``committer`` are GitHub's
    accounts (null when the email is linked to none), not the forgeable git metadata."""
    detail = item.get("commit") or {}
    logins, unlinked = co_authors(str(detail.get("message") or ""))
    verification = detail.get("verification") or {}
    return Commit(
        sha=str(item["sha"]),
        author=_login(item.get("author")),
        committer=_login(item.get("committer")),
        co_authors=logins,
        unlinked_co_authors=unlinked,
        verified=verification.get("verified") is True,
    )


def teams_named_by_rules(rule_files: Mapping[str, bytes]) -> Iterable[str]:
    """The teams the base's policies name; none when the rules do not parse (the decision
    is then invalid whatever the memberships)."""
    try:
        rules = parse_rules(rule_files)
    except DocumentError:
        return ()
    return teams_referenced(rules.policies)


class SnapshotReader:
    """Reads pull-request snapshots, sharing caches across pull requests and calls."""

    def __init__(
        self,
        client: GitHubClient,
        *,
        teams_for: TeamsFor = teams_named_by_rules,
        teams: TeamDirectory | None = None,
        clock: Callable[[], datetime] = _utc_now,
        branches: Iterable[str] = (),
        allow_forks: bool = False,
        ledger: PushLedger | None = None,
        max_changed_files: int = MAX_CHANGED_FILES,
        blob_cache_bytes: int = DEFAULT_BLOB_CACHE_BYTES,
    ) -> None:
        if blob_cache_bytes < max_changed_files * MAX_FILE_BYTES:
            # Otherwise a pull request at the cap would evict its own files and pay for
            # every one of them again on each pass.
            raise ValueError(
                f"blob_cache_bytes must hold {max_changed_files} files of {MAX_FILE_BYTES} bytes"
            )
        self._client = client
        self._branches = tuple(branches)
        """Base branches judged; empty: the repository's default branch only."""
        self._allow_forks = allow_forks
        self._ledger = ledger
        self.max_changed_files = max_changed_files
        self._teams_for = teams_for
        self._teams = teams or TeamDirectory(client)
        self._clock = clock
        self._lists = ConditionalLists(client)
        self._reads = PullReads(self._lists)
        # (repo, number) -> the teams its rules named last time.
        self._named_teams: LruCache[tuple[str, int], tuple[str, ...]] = LruCache(4096)
        self._contents = ContentReader(client, self._reads, blob_cache_bytes=blob_cache_bytes)

    def fetch(self, repo_name: str, number: int) -> PullRequestSnapshot:
        """Read one pull request.

        Raises :class:`GitHubError` when GitHub fails or refuses, and :class:`ConflictError`
        when the head moved while it was being read (read again).
        """
        where = f"read pull request {repo_name}#{number}"
        try:
            with self._reads.batch():
                return self._fetch(repo_name, number, where)
        except (KeyError, TypeError, ValueError) as exc:
            raise GitHubError(
                f"{where}: GitHub's answer lacks a field sealgate relies on", retryable=False
            ) from exc

    def current_rules(self, repo_name: str) -> RulesAt:
        """``environments/`` and ``policies/`` at the head of the default branch.

        Pull requests are judged by their base; this is for what no pull request carries,
        such as which clusters each environment has when drift is repaired after a start.
        """
        where = f"read the rules of {repo_name}"
        repo = self._client.repo(repo_name)
        problems: list[Problem] = []
        with github_errors(where):
            branch = repo.default_branch
            head = repo.get_git_ref(f"heads/{branch}").object.sha
            return RulesAt(branch, head, self._contents.rules_at(repo_name, head, problems))

    def rules_at(self, repo_name: str, sha: str) -> Mapping[str, bytes]:
        """``environments/`` and ``policies/`` at commit ``sha`` (e.g. a merge commit).

        Raises :class:`GitHubError` when a rule file cannot be read: a partial rule set must
        never be mistaken for the whole.
        """
        where = f"read the rules of {repo_name} at {sha[:12]}"
        problems: list[Problem] = []
        with github_errors(where):
            rules = self._contents.rules_at(repo_name, sha, problems)
        if problems:
            raise GitHubError(f"{where}: {problems[0].message}", retryable=True)
        return rules

    def expect_teams(self, repo_name: str, number: int, teams: Iterable[str]) -> None:
        """The teams the next snapshot of this pull request reads from GitHub alongside its
        reviews (by default: every team its base's rules named last time)."""
        self._named_teams.put((repo_name, number), tuple(sorted(set(teams))))

    def close(self) -> None:
        """Stops the worker threads (the client is the caller's to close)."""
        self._reads.close()

    def _fetch(self, repo_name: str, number: int, where: str) -> PullRequestSnapshot:
        reads = self._reads
        problems: list[Problem] = []
        with github_errors(where):
            # Everything at once: the pull request, the lists that do not depend on its head,
            # and (from where its head and base stood last time) those that do.
            pull = reads.submit(
                self._lists.get_object, f"/repos/{quote(repo_name, safe='/')}/pulls/{number}"
            )
            listed_reviews = reads.submit(reads.pull_list, repo_name, number, "reviews")
            listed_comments = reads.submit(reads.issue_list, repo_name, number, "comments")
            guess = reads.last_seen(repo_name, number)
            early = at_head(reads, repo_name, number, guess) if guess is not None else None
            # The teams the last snapshot needed, from GitHub (conditionally: unchanged costs no
            # budget), alongside the reviews: fresh enough for a merge this pass may decide.
            named = self._named_teams.get((repo_name, number))
            early_teams = self._teams.start(named) if named is not None else {}
            reads.track(early_teams.values())
            # Conditional too: an unchanged pull request (an expiry sweep) answers 304.
            raw, _ = pull.result()
            pr = self._client.github.create_from_raw_data(PullRequest, raw)
            head_sha = pr.head.sha
            base_ref = pr.base.ref
            # From the pull request's own answer: the repository object may be lazy, and its
            # default branch would cost a request.
            default_branch = pr.base.repo.default_branch
            if pr.merged:
                state = PullState.MERGED
            else:
                state = PullState.OPEN if pr.state == "open" else PullState.CLOSED
            # A deleted fork leaves no head repository: where the commits came from is unknown.
            head_repo = pr.head.repo.full_name if pr.head.repo is not None else None
            refusal = not_judged(
                repo_name,
                head_repo=head_repo,
                base_ref=base_ref,
                branches=self._branches or (default_branch,),
                allow_forks=self._allow_forks,
            )
            if refusal is not None:
                return PullRequestSnapshot(
                    repo=repo_name,
                    title=pr.title,
                    state=state,
                    facts=PullRequestFacts(
                        number=pr.number,
                        author=pr.user.login,
                        head_sha=head_sha,
                        created_at=pr.created_at,
                        now=self._clock(),
                    ),
                    labels=tuple(label.name for label in pr.labels),
                    head_ref=pr.head.ref,
                    base_ref=base_ref,
                    default_branch=default_branch,
                    url=pr.html_url,
                    refusal=refusal,
                    problems=(Problem("pull request", "base", refusal),),
                    node_id=str(raw.get("node_id") or ""),
                    label_ids=frozen_map(sealgate_label_ids(raw.get("labels"))),
                )
            # GitHub's count comes with the pull request: over the cap, nothing more is read.
            too_many = pr.changed_files > self.max_changed_files
            actual = Where(head_sha, base_ref, head_repo, pr.head.ref, not too_many)
            reads.seen(repo_name, number, actual)
            heads = early if early is not None and guess == actual else None
            if heads is None:
                heads = at_head(reads, repo_name, number, actual)
            # The tip, not ``pr.base.sha``: that is where the base stood when the pull request
            # was opened or last pushed to, and rules tightened since must apply.
            base_sha = heads.tip.result()
            raw_files, raw_commits = checked_at_head(reads, repo_name, number, actual, heads)
            files = raw_files or ()
            too_many = too_many or len(files) > self.max_changed_files
            commits = tuple(_commit(c) for c in raw_commits)
            reviews = tuple(
                Review(
                    user=str(_login(r.get("user"))),
                    state=ReviewState(r["state"]),
                    commit_id=str(r.get("commit_id") or ""),
                    submitted_at=_when(r["submitted_at"]),
                    id=int(r["id"]),
                )
                for r in listed_reviews.result()
                # A pending review is a draft only its author sees; a review by a deleted
                # account has no user and cannot count.
                if _login(r.get("user")) is not None
                and r.get("submitted_at")
                and r.get("state") in REVIEW_STATES
            )
            issue_path = f"/repos/{quote(repo_name, safe='/')}/issues/{number}"
            reviews = with_dismissers(self._lists, issue_path, reviews)
            comments = tuple(
                Comment(
                    user=str(_login(c.get("user"))),
                    body=str(c.get("body") or ""),
                    created_at=_when(c["created_at"]),
                    id=int(c["id"]),
                    updated_at=_when(c.get("updated_at") or c["created_at"]),
                    node_id=str(c.get("node_id") or ""),
                )
                for c in listed_comments.result()
                if _login(c.get("user")) is not None
            )
            if pr.commits > len(commits):
                problems.append(
                    Problem(
                        "pull request",
                        "commits",
                        f"it has {pr.commits} commits and GitHub lists at most "
                        f"{MAX_PULL_COMMITS}: split it so every committer can be checked",
                    )
                )
            if too_many:
                problems.append(
                    Problem(
                        "pull request",
                        "files",
                        f"it changes {max(pr.changed_files, len(files))} files and sealgate "
                        f"reads at most {self.max_changed_files} per pull request: split it",
                    )
                )
                files = ()
            elif pr.changed_files > len(files):
                problems.append(
                    Problem(
                        "pull request",
                        "files",
                        f"it changes {pr.changed_files} files and GitHub lists "
                        f"at most {MAX_PULL_FILES}: split it",
                    )
                )

            # Which files are judged is one rule, shared with `sealgate validate`.
            listed = pull_files(
                FileChange(
                    str(f["filename"]),
                    str(f.get("status") or ""),
                    str(f["previous_filename"]) if f.get("previous_filename") else None,
                )
                for f in files
            )
            blob_shas = {str(f["filename"]): str(f["sha"]) for f in files}
            changed = list(listed.changed)
            change_files = self._contents.files(
                repo_name, head_sha, [(name, blob_shas[name]) for name in listed.judged], problems
            )
            rule_files = self._contents.rules_at(repo_name, base_sha, problems)
            proposed = None
            if listed.touches_rules:
                proposed = self._contents.rules_at(repo_name, head_sha, problems)
            needed = tuple(sorted(set(self._teams_for(rule_files))))
            if named is None:
                self._named_teams.put((repo_name, number), needed)
            teams = {t: early_teams[t].result() for t in needed if t in early_teams}
            teams.update(self._teams.memberships(t for t in needed if t not in teams))
            known = list(heads.pushes.result())
            if self._ledger is not None:
                known.extend(self._ledger.pushes(repo_name, number))
            facts = PullRequestFacts(
                number=pr.number,
                author=pr.user.login,
                head_sha=head_sha,
                created_at=pr.created_at,
                now=self._clock(),
                commits=commits,
                reviews=reviews,
                teams=frozen_map(teams),
                comments=comments,
                changed_files=tuple(changed),
                base_sha=base_sha,
                pushes=tuple(sorted(set(known), key=lambda p: (p.pushed_at, p.sha, p.pusher))),
            )
            return PullRequestSnapshot(
                repo=repo_name,
                title=pr.title,
                state=state,
                facts=facts,
                change_files=frozen_map(change_files),
                rule_files=rule_files,
                proposed_rule_files=proposed,
                labels=tuple(label.name for label in pr.labels),
                head_ref=pr.head.ref,
                base_ref=base_ref,
                rules_sha=base_sha,
                default_branch=default_branch,
                url=pr.html_url,
                problems=tuple(problems),
                node_id=str(raw.get("node_id") or ""),
                label_ids=frozen_map(sealgate_label_ids(raw.get("labels"))),
            )
