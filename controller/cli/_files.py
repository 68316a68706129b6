"""Read document files and directories for the command line, as ``name -> bytes``.

Names are what a person recognises: inside a requests repository they are repository-
relative (``changes/production/rotate.yaml``), as GitHub shows them; otherwise the path as
given on the command line. Reading never fails: what cannot be read becomes a Problem.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from controller.documents import MAX_FILE_BYTES
from controller.errors import Problem

YAML_SUFFIXES = (".yaml", ".yml")
RULES_AREAS = ("environments", "policies")
REQUEST_AREAS = ("changes", "access")
REPOSITORY_AREAS = (*RULES_AREAS, *REQUEST_AREAS)


@dataclass
class ReadFiles:
    files: dict[str, bytes] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    def add(self, other: ReadFiles) -> None:
        self.files.update(other.files)
        self.problems.extend(other.problems)


def is_repository_root(path: Path) -> bool:
    """A requests repository holds ``environments/`` and ``policies/`` (``changes/`` may be
    missing while no change is pending)."""
    return all((path / area).is_dir() for area in RULES_AREAS)


def read_file(path: Path, name: str, *, limit: int = MAX_FILE_BYTES) -> bytes | Problem:
    """The bytes of one regular file, or a Problem; files over ``limit`` are not read."""
    try:
        # O_NONBLOCK: opening a FIFO someone named *.yaml must not hang the command.
        descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        return Problem(name, "", f"cannot read: {exc.strerror or type(exc).__name__}")
    with os.fdopen(descriptor, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            return Problem(name, "", "not a regular file: name a file or a directory")
        if info.st_size > limit:
            return _too_big(name, info.st_size, limit)
        try:
            data = handle.read(limit + 1)
        except OSError as exc:
            return Problem(name, "", f"cannot read: {exc.strerror or type(exc).__name__}")
    if len(data) > limit:
        return _too_big(name, len(data), limit)
    return data


def _too_big(name: str, size: int, limit: int) -> Problem:
    return Problem(
        name, "", f"file is {size} bytes, over the {limit} byte limit: split it into several files"
    )


def read_tree(directory: Path, prefix: PurePosixPath, *, root: Path | None = None) -> ReadFiles:
    """Every ``*.yaml``/``*.yml`` under ``directory``, named ``prefix/<relative path>``.

    Hidden directories are skipped. Symbolic links are followed only when they stay inside
    ``root`` (default ``directory``): a link out of the tree is reported, not read.
    """
    boundary = (root or directory).resolve()
    result = ReadFiles()

    def unreadable(exc: OSError) -> None:
        where = _name(prefix, directory, Path(exc.filename)) if exc.filename else str(prefix)
        result.problems.append(
            Problem(where, "", f"cannot read directory: {exc.strerror or type(exc).__name__}")
        )

    for current, dirnames, filenames in os.walk(directory, followlinks=False, onerror=unreadable):
        here = Path(current)
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for dirname in dirnames:
            # os.walk does not enter linked directories; one inside the tree is walked
            # under its own name anyway, one leading out is worth saying.
            if _leaves_tree(here / dirname, boundary):
                result.problems.append(_outside(_name(prefix, directory, here / dirname)))
        for filename in sorted(filenames):
            path = here / filename
            if not filename.endswith(YAML_SUFFIXES):
                continue
            name = _name(prefix, directory, path)
            if _leaves_tree(path, boundary):
                result.problems.append(_outside(name))
                continue
            _store(result, name, read_file(path, name))
    return result


def read_paths(paths: Iterable[Path]) -> ReadFiles:
    """Files and directories as given on the command line (not repository roots)."""
    result = ReadFiles()
    for path in paths:
        name = printable(path.as_posix())
        if path.is_dir():
            result.add(read_tree(path, PurePosixPath(name)))
        elif path.exists():
            _store(result, name, read_file(path, name))
        else:
            result.problems.append(Problem(name, "", "no such file or directory"))
    return result


def read_repository(root: Path, areas: Iterable[str] = REPOSITORY_AREAS) -> ReadFiles:
    """The ``areas`` of a requests repository, named relative to ``root``."""
    result = ReadFiles()
    for area in areas:
        if (root / area).is_dir():
            result.add(read_tree(root / area, PurePosixPath(area), root=root))
    return result


def _store(result: ReadFiles, name: str, read: bytes | Problem) -> None:
    if isinstance(read, Problem):
        result.problems.append(read)
    else:
        result.files[name] = read


def _name(prefix: PurePosixPath, directory: Path, path: Path) -> str:
    return printable((prefix / path.relative_to(directory).as_posix()).as_posix())


def printable(name: str) -> str:
    """A file name that can always be printed: undecodable bytes become U+FFFD."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _outside(name: str) -> Problem:
    return Problem(
        name,
        "",
        "symbolic link leads outside the tree (or nowhere) and was not followed: "
        "copy the file into the tree",
    )


def _leaves_tree(path: Path, boundary: Path) -> bool:
    if not path.is_symlink():
        return False
    try:
        path.resolve(strict=False).relative_to(boundary)
    except (ValueError, OSError, RuntimeError):
        return True
    return False


def requests_root(path: Path) -> Path | None:
    """The requests repository ``path`` lies in: the nearest directory up from it holding
    ``environments/`` and ``policies/``, else the parent of the nearest ``changes/``,
    ``access/``, ``environments/`` or ``policies/`` on the way (the rules may be missing);
    None when ``path`` is in no such tree."""
    start = Path(os.path.abspath(path))
    candidates = [start, *start.parents] if start.is_dir() else list(start.parents)
    for candidate in candidates:
        if is_repository_root(candidate):
            return candidate
    for candidate in candidates:
        if candidate.name in REPOSITORY_AREAS and candidate.parent != candidate:
            return candidate.parent
    return None


def read_named(root: Path, names: Iterable[str]) -> ReadFiles:
    """Files named relative to ``root`` (as git names them), whatever their suffix."""
    boundary = root.resolve()
    result = ReadFiles()
    for name in names:
        path = root / name
        if _leaves_tree(path, boundary):
            result.problems.append(_outside(printable(name)))
        else:
            _store(result, printable(name), read_file(path, printable(name)))
    return result
