"""What ``sealgate validate`` judges in a requests repository: the files a pull request from
this checkout would add or modify against its base, as the controller judges them.

The pull request is the working tree (committed, staged, unstaged and untracked files alike,
``.gitignore`` respected) compared with the merge-base of ``HEAD`` and the base branch; the
rows go through the controller's own ``pull_files``. Applied change files stay under
``changes/`` as history and are judged only by the pull request that adds (or edits) them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import click
import git

from controller.documents.pull_files import FileChange, PullFiles, pull_files

DEFAULT_BASES = ("origin/HEAD", "main", "origin/main")
"""Tried in order when no ``--base`` is given: the remote's default branch, then ``main``."""

_STATUS = {
    "A": "added",
    "C": "copied",
    "D": "removed",
    "M": "modified",
    "R": "renamed",
    "T": "changed",
}


@dataclass(frozen=True)
class Scope:
    """Which change files are judged; ``files`` is None when every one is."""

    files: PullFiles | None
    note: str
    """One sentence saying what was compared, for the person reading the output."""
    base: str | None = None
    merge_base: str | None = None

    def as_json(self) -> dict[str, object]:
        return {
            "base": self.base,
            "mergeBase": self.merge_base,
            "judged": None if self.files is None else list(self.files.judged),
            "note": self.note,
        }


def everything(reason: str) -> Scope:
    return Scope(
        files=None,
        note=f"{reason}: judging every file under changes/ and access/, applied ones included",
    )


def repository_scope(root: Path, *, base: str | None, judge_all: bool) -> Scope:
    """The pull request ``root``'s checkout would open against ``base`` (default: the first
    of ``DEFAULT_BASES`` that exists); everything with ``judge_all`` or outside git."""
    if judge_all:
        return everything("--all")
    try:
        repo = git.Repo(root, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        if base is not None:
            raise click.UsageError(f"--base {base}: {root} is not in a git checkout") from None
        return everything("not in a git checkout")
    with repo:
        return _pull_request_scope(repo, root, base)


def _pull_request_scope(repo: git.Repo, root: Path, base: str | None) -> Scope:
    if repo.working_tree_dir is None:
        return everything("in a bare git repository")
    try:
        head = repo.head.commit
    except ValueError:
        if base is not None:
            raise click.UsageError(f"--base {base}: HEAD has no commit yet") from None
        return everything("HEAD has no commit yet")
    name, commit = _base_commit(repo, base)
    if commit is None:
        tried = ", ".join(DEFAULT_BASES)
        return everything(f"no base branch found (tried {tried}; name one with --base)")
    merge_bases = repo.merge_base(commit, head)
    if not merge_bases:
        return everything(f"HEAD shares no history with {name}")
    fork = merge_bases[0].hexsha
    prefix = _prefix(Path(repo.working_tree_dir), root)
    rows = list(_rows(repo, fork, prefix))
    listed = pull_files(rows)
    noun = "change file" if len(listed.judged) == 1 else "change files"
    return Scope(
        files=listed,
        note=(
            f"comparing the working tree with {name} (merge-base {fork[:12]}): judging "
            f"{len(listed.judged)} added or modified {noun}; rules from the working tree"
        ),
        base=name,
        merge_base=fork,
    )


def _base_commit(repo: git.Repo, base: str | None) -> tuple[str, git.Commit | None]:
    for name in (base,) if base is not None else DEFAULT_BASES:
        try:
            return name, repo.commit(name)
        except (git.BadName, ValueError):
            if base is not None:
                raise click.UsageError(f"--base {base}: no such commit or branch") from None
    return "", None


def _prefix(top: Path, root: Path) -> PurePosixPath | None:
    """Where the requests repository sits in the git work tree (None: outside it)."""
    try:
        return PurePosixPath(root.resolve().relative_to(top.resolve()).as_posix())
    except ValueError:
        return None


def _rows(repo: git.Repo, fork: str, prefix: PurePosixPath | None) -> Iterator[FileChange]:
    """``git diff`` rows, then untracked files as added; paths relative to the requests
    repository, rows outside it dropped."""
    fields = repo.git.diff("--name-status", "-z", "-M", "--no-ext-diff", fork, "--").split("\0")
    position = 0
    while position < len(fields) and fields[position]:
        letter = fields[position][0]
        if letter in "RC":
            previous, filename = fields[position + 1], fields[position + 2]
            position += 3
        else:
            previous, filename = None, fields[position + 1]
            position += 2
        row = _relative(filename, prefix)
        if row is not None:
            before = _relative(previous, prefix) if previous else None
            yield FileChange(row, _STATUS.get(letter, "modified"), before)
    for untracked in repo.git.ls_files("--others", "--exclude-standard", "-z").split("\0"):
        row = _relative(untracked, prefix) if untracked else None
        if row is not None:
            yield FileChange(row, "added")


def _relative(path: str, prefix: PurePosixPath | None) -> str | None:
    if prefix is None:
        return None
    if prefix == PurePosixPath("."):
        return path
    try:
        return PurePosixPath(path).relative_to(prefix).as_posix()
    except ValueError:
        return None
