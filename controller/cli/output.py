"""``-o/--output``: one way for every command to print data, as kubectl and gh do.

``table`` (the default) is for people: plain columns two spaces apart. Piped (not a
terminal) every value is printed whole, so ``grep`` and ``awk`` see full names; on a terminal
a row too wide is wrapped inside its columns, never cut. ``wide`` adds the columns a
command keeps out of the default table. ``json`` and ``yaml`` print the same document for
programs: camelCase keys, as the controller's HTTP API, with one JSON Schema per command in
``schemas/cli/``. Text from people (reasons, names) is printed as data: control characters
are escaped in tables, so an audit record cannot drive the reader's terminal.
"""

from __future__ import annotations

import enum
import functools
import json
import re
import shutil
import sys
import textwrap
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import click
import yaml

F = TypeVar("F", bound=Callable[..., Any])

_GAP = "  "
_MIN_COLUMN = 8
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


class Format(enum.StrEnum):
    TABLE = "table"
    WIDE = "wide"
    JSON = "json"
    YAML = "yaml"

    @property
    def is_table(self) -> bool:
        return self in (Format.TABLE, Format.WIDE)


DATA_FORMATS = (Format.TABLE, Format.JSON, Format.YAML)
_ALIASES = {"text": Format.TABLE}
"""Spellings of an earlier release, accepted for one more with a note on stderr."""


def deprecated(old: str, new: str) -> None:
    click.echo(
        f"sealgate: {old} is deprecated and goes away in the next release; use {new}",
        err=True,
    )


class _FormatChoice(click.Choice[str]):
    """The formats a command offers; old spellings still convert but are not listed."""

    def __init__(self, formats: Sequence[Format]) -> None:
        super().__init__([f.value for f in formats])

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, Format):
            return value
        if isinstance(value, str) and value in _ALIASES:
            alias = _ALIASES[value]
            deprecated(f"--output {value}", f"-o {alias.value}")
            return alias
        return Format(super().convert(value, param, ctx))


def output_option(
    *formats: Format, legacy_json: bool = False, help: str | None = None
) -> Callable[[F], F]:
    """Add ``-o/--output`` (``table`` by default); the command receives ``output: Format``.

    ``legacy_json`` also accepts the ``--json`` flag of an earlier release (hidden).
    """
    offered = formats or DATA_FORMATS
    text = help or "How to print: " + ", ".join(f.value for f in offered) + "."

    def decorate(function: F) -> F:
        @functools.wraps(function)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if kwargs.pop("legacy_json", False):
                deprecated("--json", "-o json")
                kwargs["output"] = Format.JSON
            return function(*args, **kwargs)

        command: Callable[..., Any] = click.option(
            "-o",
            "--output",
            "output",
            type=_FormatChoice(offered),
            default=Format.TABLE.value,
            show_default=True,
            help=text,
        )(wrapper)
        if legacy_json:
            command = click.option("--json", "legacy_json", is_flag=True, hidden=True)(command)
        return command  # type: ignore[return-value]

    return decorate


@dataclass(frozen=True, slots=True)
class Column:
    header: str
    key: str
    """The row's key whose value the column shows."""
    wide: bool = False
    """Shown with ``-o wide`` only."""


def timestamp(moment: datetime | None) -> str | None:
    """RFC 3339 in UTC with ``Z``, as every JSON document of the CLI writes times."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def cell(value: Any) -> str:
    if value is None or value in ("", [], {}):
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return ", ".join(cell(item) for item in value)
    if isinstance(value, Mapping):
        return " ".join(f"{k}={cell(v)}" for k, v in value.items())
    return str(value)


def _clean(text: str) -> str:
    # One line per row: a newline in a reason would break every column after it.
    flat = " ".join(text.split())
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", flat)


def terminal_width() -> int | None:
    """The terminal's width, or None when stdout is a pipe or file (print values whole)."""
    if not sys.stdout.isatty():
        return None
    return shutil.get_terminal_size().columns


def format_table(
    headers: Sequence[str], rows: Iterable[Sequence[str]], *, width: int | None = None
) -> str:
    """Plain columns, headers in capitals; ``width`` wraps cells to fit, None never does."""
    table = [[_clean(h).upper() for h in headers], *([_clean(c) for c in row] for row in rows)]
    widths = _fit([max(len(row[i]) for row in table) for i in range(len(headers))], table, width)
    lines: list[str] = []
    for row in table:
        parts = [_wrap(text, w) for text, w in zip(row, widths, strict=True)]
        for index in range(max(len(p) for p in parts)):
            line = _GAP.join(
                (part[index] if index < len(part) else "").ljust(w)
                for part, w in zip(parts, widths, strict=True)
            )
            lines.append(line.rstrip())
    return "\n".join(lines)


def _fit(natural: list[int], table: list[list[str]], width: int | None) -> list[int]:
    widths = list(natural)
    if width is None or not widths:
        return widths
    room = width - len(_GAP) * (len(widths) - 1)
    # A header may wrap between its words, never inside one.
    floors = [
        min(n, max([_MIN_COLUMN, *(len(word) for word in h.split())]))
        for n, h in zip(natural, table[0], strict=True)
    ]
    # Narrow the widest column that can still give, one character at a time: the columns
    # that are already short (versions, states) stay whole.
    while sum(widths) > room:
        candidates = [i for i, w in enumerate(widths) if w > floors[i]]
        if not candidates:
            break  # cannot fit: let the terminal wrap the lines
        widest = max(candidates, key=lambda i: widths[i])
        widths[widest] -= 1
    return widths


def _wrap(text: str, width: int) -> list[str]:
    if len(text) <= width:
        return [text]
    return textwrap.wrap(text, width, break_long_words=True, break_on_hyphens=True) or [""]


def dump(document: Any, fmt: Format) -> str:
    """``document`` as JSON or YAML text (no trailing newline)."""
    if fmt is Format.YAML:
        text: str = yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=4096)
        return text.rstrip("\n")
    return json.dumps(document, indent=2)


def render(
    rows: Sequence[Mapping[str, Any]],
    columns: Sequence[Column],
    fmt: Format,
    *,
    document: Any = None,
) -> None:
    """Print ``rows`` as a table, or ``document`` (default: the rows) as JSON or YAML."""
    if not fmt.is_table:
        click.echo(dump(rows if document is None else document, fmt))
        return
    shown = [c for c in columns if fmt is Format.WIDE or not c.wide]
    click.echo(
        format_table(
            [c.header for c in shown],
            ([cell(row.get(c.key)) for c in shown] for row in rows),
            width=terminal_width(),
        )
    )


def print_text(line: str, *, err: bool = False) -> None:
    """One line of people's text (a reason, a message) for a table view, escaped."""
    click.echo(_CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", line), err=err)
