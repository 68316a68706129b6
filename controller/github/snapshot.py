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
which never change, so it is cached without expiry. The lists (files, commits, reviews,
comments) are read with conditional requests, so the ones that did not change since the last
snapshot answer ``304`` and cost no rate-limit budget. A re-evaluation after a review thus
spends budget on the pull request and its reviews only.

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

from github.ContentFile import ContentFile
from github.GithubException import UnknownObjectException
from github.PullRequest import PullRequest
from github.Repository import Repository

from controller.documents import MAX_FILE_BYTES, parse_rules
from controller.documents.pull_files import FileChange, pull_files
from controller.errors import ConflictError, DocumentError, GitHubError, Problem
from controller.github.cache import ByteBudgetLru, LruCache
from controller.github.client import GitHubClient
from controller.github.conditional import ConditionalLists
from controller.github.dismissals import with_dismissers
from controller.github.failures import github_errors
from controller.github.judged import not_judged
from controller.github.pushes import PushLedger, activity_pushes, co_authors
from controller.github.records import RulesAt
from controller.github.teams import TeamDirectory
from controller.model import (
    Comment,
    Commit,
    PullRequestFacts,
    Push,
    Review,
    ReviewState,
    frozen_map,
)
from controller.policy import teams_referenced

ENVIRONMENTS_DIR = "environments"
POLICIES_DIR = "policies"
RULE_DIRS = (ENVIRONMENTS_DIR, POLICIES_DIR)
YAML_SUFFIXES = (".yaml", ".yml")

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
        self._blobs: ByteBudgetLru[tuple[str, str]] = ByteBudgetLru(blob_cache_bytes)
        self._rules: LruCache[tuple[str, str], Mapping[str, bytes]] = LruCache(64)
        self._lists = ConditionalLists(client)

    def fetch(self, repo_name: str, number: int) -> PullRequestSnapshot:
        """Read one pull request.

        Raises :class:`GitHubError` when GitHub fails or refuses, and :class:`ConflictError`
        when the head moved while it was being read (read again).
        """
        where = f"read pull request {repo_name}#{number}"
        try:
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
            return RulesAt(branch, head, self._rules_at(repo, repo_name, head, problems))

    def rules_at(self, repo_name: str, sha: str) -> Mapping[str, bytes]:
        """``environments/`` and ``policies/`` at commit ``sha`` (e.g. a merge commit).

        Raises :class:`GitHubError` when a rule file cannot be read: a partial rule set must
        never be mistaken for the whole.
        """
        where = f"read the rules of {repo_name} at {sha[:12]}"
        repo = self._client.repo(repo_name)
        problems: list[Problem] = []
        with github_errors(where):
            rules = self._rules_at(repo, repo_name, sha, problems)
        if problems:
            raise GitHubError(f"{where}: {problems[0].message}", retryable=True)
        return rules

    def _fetch(self, repo_name: str, number: int, where: str) -> PullRequestSnapshot:
        repo = self._client.repo(repo_name)
        problems: list[Problem] = []
        with github_errors(where):
            # Conditional too: an unchanged pull request (an expiry sweep) answers 304.
            raw, _ = self._lists.get_object(f"/repos/{quote(repo_name, safe='/')}/pulls/{number}")
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
                )
            # The tip, not ``pr.base.sha``: that is where the base stood when the pull request
            # was opened or last pushed to, and rules tightened since must apply.
            tip, _ = self._lists.get_object(
                f"/repos/{quote(repo_name, safe='/')}/git/ref/heads/{quote(base_ref, safe='/')}"
            )
            base_sha = str(tip["object"]["sha"])

            # The lists go through conditional GETs: an unchanged page answers 304, which
            # costs no rate-limit budget, and is served from memory.
            pull_path = f"/repos/{quote(repo_name, safe='/')}/pulls/{number}"
            issue_path = f"/repos/{quote(repo_name, safe='/')}/issues/{number}"
            # GitHub's count comes with the pull request: over the cap, nothing more is read.
            too_many = pr.changed_files > self.max_changed_files
            files = () if too_many else self._lists.get(f"{pull_path}/files").items
            too_many = too_many or len(files) > self.max_changed_files
            commits = tuple(_commit(c) for c in self._lists.get(f"{pull_path}/commits").items)
            reviews = tuple(
                Review(
                    user=str(_login(r.get("user"))),
                    state=ReviewState(r["state"]),
                    commit_id=str(r.get("commit_id") or ""),
                    submitted_at=_when(r["submitted_at"]),
                    id=int(r["id"]),
                )
                for r in self._lists.get(f"{pull_path}/reviews").items
                # A pending review is a draft only its author sees; a review by a deleted
                # account has no user and cannot count.
                if _login(r.get("user")) is not None
                and r.get("submitted_at")
                and r.get("state") in REVIEW_STATES
            )
            reviews = with_dismissers(self._lists, issue_path, reviews)
            comments = tuple(
                Comment(
                    user=str(_login(c.get("user"))),
                    body=str(c.get("body") or ""),
                    created_at=_when(c["created_at"]),
                    id=int(c["id"]),
                    updated_at=_when(c.get("updated_at") or c["created_at"]),
                )
                for c in self._lists.get(f"{issue_path}/comments").items
                if _login(c.get("user")) is not None
            )
            if commits and commits[-1].sha != head_sha:
                # A push landed between reading the pull request and its commits: the facts
                # would mix two heads. The caller reads again.
                raise ConflictError(f"{where}: the head moved while it was being read")
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
            change_files: dict[str, bytes] = {}
            for filename in listed.judged:
                content = self._blob(
                    repo,
                    repo_name,
                    filename,
                    ref=head_sha,
                    blob_sha=blob_shas[filename],
                    problems=problems,
                )
                if content is not None:
                    change_files[filename] = content

            rule_files = self._rules_at(repo, repo_name, base_sha, problems)
            proposed = None
            if listed.touches_rules:
                proposed = self._rules_at(repo, repo_name, head_sha, problems)
            teams = self._teams.memberships(self._teams_for(rule_files))
            facts = PullRequestFacts(
                number=pr.number,
                author=pr.user.login,
                head_sha=head_sha,
                created_at=pr.created_at,
                now=self._clock(),
                commits=commits,
                reviews=reviews,
                teams=teams,
                comments=comments,
                changed_files=tuple(changed),
                base_sha=base_sha,
                pushes=self._pushes(repo_name, number, pr.head),
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
            )

    def _pushes(self, repo_name: str, number: int, head: Any) -> tuple[Push, ...]:
        """Who pushed the head branch: GitHub's activity log of the repository holding it
        (a fork's own for a fork's pull request), plus what webhooks told the ledger."""
        known: list[Push] = []
        head_repo = head.repo.full_name if head.repo is not None else None
        if head_repo is not None:
            known.extend(activity_pushes(self._lists, head_repo, head.ref))
        if self._ledger is not None:
            known.extend(self._ledger.pushes(repo_name, number))
        return tuple(sorted(set(known), key=lambda p: (p.pushed_at, p.sha, p.pusher)))

    def _rules_at(
        self, repo: Repository, repo_name: str, base_sha: str, problems: list[Problem]
    ) -> Mapping[str, bytes]:
        cached = self._rules.get((repo_name, base_sha))
        if cached is not None:
            return cached
        found: dict[str, bytes] = {}
        complete = True
        folders = list(RULE_DIRS)
        while folders:
            folder = folders.pop()
            try:
                listing = repo.get_contents(folder, ref=base_sha)
            except UnknownObjectException:
                continue  # no such folder at the base: no rules of that kind
            if not isinstance(listing, list):
                listing = [listing]  # a file where a folder belongs: parse_rules says so
            for item in listing:
                if item.type == "dir" and item.path.startswith(POLICIES_DIR + "/"):
                    folders.append(item.path)  # policies may be grouped in sub-folders
                    continue
                if item.type != "file" or not item.name.endswith(YAML_SUFFIXES):
                    continue
                content = self._blob(
                    repo, repo_name, item.path, ref=base_sha, blob_sha=item.sha, problems=problems
                )
                if content is None:
                    complete = False
                else:
                    found[item.path] = content
        rules = frozen_map(found)
        if complete:
            self._rules.put((repo_name, base_sha), rules)
        return rules

    def _blob(
        self,
        repo: Repository,
        repo_name: str,
        path: str,
        *,
        ref: str,
        blob_sha: str,
        problems: list[Problem],
    ) -> bytes | None:
        """A file's bytes at ``ref``, cached by blob id (the same bytes wherever they sit).

        Keyed by repository too: one repository's content never answers for another's.
        """
        cached = self._blobs.get((repo_name, blob_sha))
        if cached is not None:
            return cached
        try:
            item = repo.get_contents(path, ref=ref)
        except UnknownObjectException:
            problems.append(Problem(path, "", f"listed by GitHub but not readable at {ref[:12]}"))
            return None
        if not isinstance(item, ContentFile) or item.encoding != "base64":
            # The contents API only inlines files up to 1 MB; no sealgate document is that big.
            problems.append(Problem(path, "", "file is too large to be a sealgate document"))
            return None
        content = item.decoded_content
        if len(content) <= MAX_FILE_BYTES:
            # Larger files are refused by the parser; keeping them would break the budget's
            # promise that a pull request at the cap fits.
            self._blobs.put((repo_name, blob_sha), content)
        return content
