"""What ``sealgate propose`` reads from its flags, stdin and files, and how it reports it.

``propose`` writes a file only once everything checks, so a problem is reported against the
flag that caused it (``--reason: must not be blank``), never against a file that does not
exist. Nothing typed where a key name belongs is shown unless it is a key name
(``controller.cli.quiet``), and no line read from stdin is shown: it may hold a value.
"""

from __future__ import annotations

import difflib
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import click

from controller.cli._files import read_file
from controller.cli.quiet import is_key_name, key_name_problem
from controller.errors import InputError, Problem
from controller.model import MAX_SECRET_BYTES

STDIN = "stdin"
_GENERATE = re.compile(r"(?P<key>[^:]*)(?::(?P<length>[0-9]+))?")
_FLAG_OF_OPERATION = {"set": "--set", "generate": "--generate", "delete": "--delete"}
_FIELD_FLAGS = {
    "spec.reason": "--reason",
    "spec.secret": "--secret",
    "spec.tier": "--tier",
    "spec.baseVersion": "--base-version",
    "spec.environment": "--env-file",
}
_SET_FIX = "pass the key name with --set and its value on stdin as KEY=VALUE"


@dataclass
class Requested:
    """The keys each flag names, checked; ``problems`` lists what is wrong with them."""

    set_keys: tuple[str, ...] = ()
    set_files: dict[str, str] = field(default_factory=dict)
    """Key -> path (``-``: stdin) of ``--set-file``."""
    generate: dict[str, dict[str, int]] = field(default_factory=dict)
    delete: tuple[str, ...] = ()
    problems: list[Problem] = field(default_factory=list)

    def source_flag(self, key: str) -> str:
        return "--set-file" if key in self.set_files else "--set"


def check_requested(
    set_keys: Sequence[str],
    set_files: Sequence[str],
    generate: Sequence[str],
    delete: Sequence[str],
) -> Requested:
    """Every key-name argument, checked before anything is read or sealed."""
    requested = Requested()
    problems = requested.problems
    good: list[str] = []
    for key in set_keys:
        problem = key_name_problem("--set", key, fix=_SET_FIX)
        if problem is None:
            good.append(key)
        else:
            problems.append(problem)
    requested.set_keys = tuple(good)
    for spec in set_files:
        key, separator, path = spec.partition("=")
        if not separator or not path:
            # Without '=' the argument may be a value typed in the wrong place: not shown.
            problems.append(
                Problem(
                    "--set-file",
                    "",
                    "expected KEY=PATH (or KEY=- to read the value from stdin); the argument is"
                    " not shown",
                )
            )
            continue
        problem = key_name_problem(
            "--set-file", key, fix="write --set-file KEY=PATH with KEY a key name"
        )
        if problem is not None:
            problems.append(problem)
        elif key in requested.set_files or key in requested.set_keys:
            problems.append(
                Problem(
                    f"--set-file {key}", "", "the key is given twice: keep one --set/--set-file"
                )
            )
        else:
            requested.set_files[key] = path
    stdin_files = [key for key, path in requested.set_files.items() if path == "-"]
    if len(stdin_files) > 1 or (stdin_files and requested.set_keys):
        problems.append(
            Problem(
                "--set-file",
                "",
                "stdin can carry one thing: the value of a single --set-file KEY=-, or the "
                "KEY=VALUE lines of --set; read the other values from files",
            )
        )
    for spec in generate:
        match = _GENERATE.fullmatch(spec)
        key = match["key"] if match else spec.partition(":")[0]
        problem = key_name_problem(
            "--generate", key, fix="write --generate KEY or --generate KEY:LENGTH"
        )
        if problem is not None:
            problems.append(problem)
        elif match is None:
            problems.append(
                Problem(f"--generate {key}", "", "expected KEY or KEY:LENGTH, LENGTH a number")
            )
        else:
            length = match["length"]
            requested.generate[key] = {"length": int(length)} if length else {}
    good = []
    for key in delete:
        problem = key_name_problem("--delete", key, fix="pass the name of the key to remove")
        if problem is None:
            good.append(key)
        else:
            problems.append(problem)
    requested.delete = tuple(good)
    return requested


def read_values(requested: Requested) -> dict[str, bytes]:
    """The plaintext of every key to set; raises InputError naming flags and stdin lines."""
    values: dict[str, bytes] = {}
    problems: list[Problem] = []
    if requested.set_keys:
        if sys.stdin.isatty():
            for key in requested.set_keys:
                text = click.prompt(f"Value for {key}", hide_input=True, confirmation_prompt=True)
                values[key] = str(text).encode()
        else:
            try:
                values.update(parse_set_lines(requested.set_keys, sys.stdin.buffer.read()))
            except InputError as exc:
                problems.extend(exc.problems)
    for key, path in requested.set_files.items():
        where = f"--set-file {key}"
        data = (
            sys.stdin.buffer.read()
            if path == "-"
            else read_file(Path(path), where, limit=MAX_SECRET_BYTES)
        )
        if isinstance(data, Problem):
            problems.append(data)
        elif not data:
            problems.append(Problem(where, "", "the file is empty; nothing to seal"))
        else:
            values[key] = data
    if problems:
        raise InputError(problems)
    return values


def parse_set_lines(keys: Sequence[str], data: bytes) -> dict[str, bytes]:
    """``KEY=VALUE`` lines; a run of lines without ``=`` (a pasted PEM) is one problem."""
    values: dict[str, bytes] = {}
    problems: list[Problem] = []
    loose: list[int] = []
    last_key: str | None = None

    def flush() -> None:
        if loose:
            problems.append(_loose_lines(loose, last_key))
            loose.clear()

    for number, line in enumerate(data.splitlines(), start=1):
        if not line.strip():
            continue
        name, separator, value = line.partition(b"=")
        if not separator or not value.strip(b"="):
            # No '=', or only base64 padding after it: a line of a multi-line value.
            loose.append(number)
            continue
        flush()
        key = name.decode("utf-8", "replace").strip()
        problem = _line_problem(key, keys, values, number)
        if problem is not None:
            problems.append(problem)
            last_key = None
            continue
        values[key] = value
        last_key = key
    flush()
    missing = [key for key in keys if key not in values]
    if missing:
        problems.append(
            Problem(
                STDIN,
                "",
                f"no line for {', '.join(missing)}: write {missing[0]}=VALUE on stdin, one key "
                f"per line (a value of several lines needs --set-file {missing[0]}=PATH)",
            )
        )
    if problems:
        raise InputError(problems)
    return values


def _line_problem(
    key: str, keys: Sequence[str], values: dict[str, bytes], number: int
) -> Problem | None:
    where = f"line {number}"
    if key in values:
        return Problem(STDIN, where, f"{key} is given twice: keep one line for it")
    if key in keys:
        return None
    close = difflib.get_close_matches(key, keys, n=1, cutoff=0.75) if is_key_name(key) else []
    if close:
        # Close to a key given with --set: a misspelt name, safe to show.
        return Problem(
            STDIN,
            where,
            f"key {key} was not given with --set; did you mean {close[0]}? Fix the name on "
            f"stdin, or add --set {key} to set it too",
        )
    return Problem(
        STDIN,
        where,
        "the name before '=' is none of the keys given with --set "
        f"({', '.join(keys)}); the line is not shown, as it may hold a value: fix the name, "
        "or add the key with --set",
    )


def _loose_lines(numbers: list[int], after: str | None) -> Problem:
    span = f"line {numbers[0]}" if len(numbers) == 1 else f"lines {numbers[0]}-{numbers[-1]}"
    if after is None:
        return Problem(
            STDIN,
            span,
            "expected KEY=VALUE, one key given with --set per line; not shown, as it may hold"
            " a value",
        )
    return Problem(
        STDIN,
        span,
        f"{len(numbers)} line(s) without '=' follow the line for {after}: a value on stdin "
        f"ends with its line, so {after} would get only its first line. Seal a value of "
        f"several lines (a PEM key, a certificate) from a file: --set-file {after}=PATH, "
        f"or --set-file {after}=- to read it from stdin",
    )


def flag_problems(
    problems: Sequence[Problem], requested: Requested, *, name_given: bool
) -> list[Problem]:
    """Problems of the change ``propose`` was about to write, named by the flags behind them."""
    return [_as_flag(problem, requested, name_given=name_given) for problem in problems]


def _as_flag(problem: Problem, requested: Requested, *, name_given: bool) -> Problem:
    message = problem.message
    for operation, flag in _FLAG_OF_OPERATION.items():
        message = message.replace(f"spec.{operation}", flag)
    path = problem.field
    if path in _FIELD_FLAGS:
        return Problem(_FIELD_FLAGS[path], "", message)
    if path == "metadata.name":
        if name_given:
            return Problem("--name", "", message)
        return Problem("--secret", "", f"the change name made from it {message}; pass --name")
    head, _, rest = path.partition(".")
    operation, _, tail = rest.partition(".")
    key = tail.partition(".")[0]
    if head == "spec" and operation == "set" and key:
        return Problem(f"{requested.source_flag(key)} {key}", "", message)
    if head == "spec" and operation == "generate" and key:
        return Problem(f"--generate {key}", "", message)
    delete = re.fullmatch(r"spec\.delete\[(\d+)\]", path)
    if delete is not None and int(delete[1]) < len(requested.delete):
        return Problem(f"--delete {requested.delete[int(delete[1])]}", "", message)
    if path.startswith("spec.delete"):
        return Problem("--delete", "", message)
    return Problem("propose", path, message)
