"""Never echo back a value typed on the command line.

A command line is kept in shell history, shown to every user of the machine in the process
list, and printed in CI logs; a secret typed there must be rotated, and an error message that
repeats it spreads it further (issue: ``--set STRIPE_KEY=sk_live_...`` came back on stderr).
Two layers:

- where a *key name* belongs (``--set``, ``--generate``, ``--delete``, ``--set-file``,
  ``--key``), ``key_name_problem`` refuses anything that is not one, without showing it, and
  says to rotate it;
- ``quiet_error`` rewrites every error on its way out of ``sealgate`` (click's own usage
  errors included): an argument shaped like a value (holding ``=``, white space or control
  characters, or longer than any name) is replaced by ``<not shown>``, and unexpected extra
  arguments are never listed (sealgate never takes a value as an argument).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

import click

from controller.errors import Problem

NOT_SHOWN = "<not shown>"
ARGV_KEY = "sealgate.argv"
"""Where the root command keeps the arguments it was given, in its context's ``meta``."""
MAX_NAME = 253
"""Longer than any name or key sealgate takes; a longer argument is treated as a value."""
_MIN_PIECE = 6
"""Shorter pieces of an argument are not scrubbed on their own: they would garble the
message (``A=1`` must not turn every ``1`` into ``<not shown>``), and are too short to be a
credential worth the name."""
_KEY = re.compile(r"[-._a-zA-Z0-9]+")

ROTATE = (
    "if it is a secret value, rotate that secret: a command line is kept in shell history, "
    "shown to other users in the process list and often printed in CI logs"
)


def is_key_name(text: str) -> bool:
    """A Kubernetes Secret data key, as ``schemas/change.schema.json`` defines one."""
    return (
        bool(_KEY.fullmatch(text))
        and len(text) <= MAX_NAME
        and text != "."
        and not text.startswith("..")
    )


def key_name_problem(where: str, text: str, *, fix: str) -> Problem | None:
    """Why ``text`` given at ``where`` (a flag) is not a key name, without showing it."""
    if is_key_name(text):
        return None
    if "=" in text:
        what = "takes a key name only; this one holds '=', so it is not shown"
    else:
        what = (
            "is not a key name (letters, digits, '-', '_' and '.', at most 253 characters, not"
            " '.' or starting with '..'), so it is not shown"
        )
    return Problem(
        where, "", f"{what}. {fix[:1].upper()}{fix[1:]}. {ROTATE[:1].upper()}{ROTATE[1:]}"
    )


def looks_like_value(text: str) -> bool:
    return (
        "=" in text
        or len(text) > MAX_NAME
        or any(character.isspace() or not character.isprintable() for character in text)
    )


def _unsafe(argv: Sequence[str]) -> Iterator[str]:
    for token in argv:
        candidates = [token]
        if token.startswith("--") and "=" in token:
            candidates.append(token.partition("=")[2])  # --option=value
        for candidate in candidates:
            if not looks_like_value(candidate):
                continue
            yield candidate
            # Code may show only part of it, such as what follows KEY= in KEY=VALUE.
            for piece in re.split(r"[=\s]+", candidate):
                if len(piece) >= _MIN_PIECE:
                    yield piece


def scrub(message: str, argv: Sequence[str]) -> str:
    """``message`` with every value-shaped argument of ``argv`` (or part of one) hidden."""
    for secret in sorted(set(_unsafe(argv)), key=len, reverse=True):
        for form in (secret, repr(secret)[1:-1]):
            message = message.replace(form, NOT_SHOWN)
    return message


def typed_argv() -> list[str]:
    """The arguments of the running ``sealgate`` command (empty outside one)."""
    context = click.get_current_context(silent=True)
    if context is None:
        return []
    argv: list[str] = context.find_root().meta.get(ARGV_KEY, [])
    return argv


def quiet_lines(lines: Sequence[str]) -> tuple[str, ...]:
    """Lines a command prints as its result (reasons naming the files it was given), with
    value-shaped arguments hidden as in its errors."""
    argv = typed_argv()
    return tuple(scrub(line, argv) for line in lines)


def quiet_error(error: click.ClickException, argv: Sequence[str]) -> None:
    """Rewrite ``error`` in place so it repeats no value typed in ``argv``.

    In place, not as a new exception: click's subclasses format their message with the
    context and parameter they carry (the stubs mark the fields final; they are plain)."""
    if isinstance(error, click.UsageError) and error.message.startswith(
        "Got unexpected extra argument"
    ):
        error.message = (  # type: ignore[misc]
            "unexpected extra arguments (not shown): sealgate never takes a secret value on "
            f"the command line, values come from stdin, a no-echo prompt or a file; {ROTATE}"
        )
        return
    error.message = scrub(error.message, argv)  # type: ignore[misc]
    if isinstance(error, click.FileError):
        error.ui_filename = scrub(error.ui_filename, argv)  # type: ignore[misc]
