"""One table of exit statuses for every ``sealgate`` command.

A pipeline branches on the status, so each outcome has its own number, as ``gh`` and
``kubectl wait`` do: "the approval is missing", "the wait timed out" and "you typed the
command wrong" must not look alike. Each command lists the statuses it can end with in its
``--help`` epilog, built here so the wording is the same everywhere.
"""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    OK = 0
    ERROR = 1
    USAGE = 2
    PENDING = 3
    TIMED_OUT = 4
    INVALID = 5
    FORBIDDEN = 6
    UNAUTHENTICATED = 7
    INTERRUPTED = 130
    OUTPUT_CLOSED = 141


MEANING: dict[ExitCode, str] = {
    ExitCode.OK: "success",
    ExitCode.ERROR: "error: the command could not do its work (message on stderr)",
    ExitCode.USAGE: "usage error: unknown command or option, bad or missing argument",
    ExitCode.PENDING: "not yet: the request waits for approvals",
    ExitCode.TIMED_OUT: "timed out before the wanted status was reached",
    ExitCode.INVALID: "invalid or rejected: the check ran and the answer is no",
    ExitCode.FORBIDDEN: "refused: you have no live grant for that (the reason is on stderr)",
    ExitCode.UNAUTHENTICATED: "not authenticated: no GitHub token, or GitHub refused it",
    ExitCode.INTERRUPTED: "interrupted (Ctrl-C)",
    ExitCode.OUTPUT_CLOSED: "output closed early (e.g. piped into head); nothing is printed",
}

_ALWAYS = (ExitCode.USAGE, ExitCode.INTERRUPTED)


def epilog(*codes: ExitCode | tuple[ExitCode, str]) -> str:
    """The ``Exit status:`` block of a command's help: its own codes, then usage and Ctrl-C.

    A code given as ``(code, text)`` says what it means for this command.
    """
    lines: dict[ExitCode, str] = {}
    for entry in codes:
        code, text = entry if isinstance(entry, tuple) else (entry, MEANING[entry])
        lines[code] = text
    for code in _ALWAYS:
        lines.setdefault(code, MEANING[code])
    # \b keeps click from re-flowing the block into one paragraph.
    body = "\n".join(f"  {int(code):<3}  {text}" for code, text in sorted(lines.items()))
    return f"\b\nExit status:\n{body}"


SIMPLE = epilog(ExitCode.OK, ExitCode.ERROR)
"""The epilog of a command that either works or fails."""

EVERY = epilog(*MEANING)
"""The whole table, for ``sealgate --help``."""
