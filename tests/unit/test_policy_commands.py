"""Comment commands: only a line that starts with ``/sealgate <command>`` counts."""

from __future__ import annotations

import pytest

from controller.policy import Command, parse_command

CASES: list[tuple[str, str, Command | None]] = [
    ("plan", "/sealgate plan", Command("plan", "")),
    ("merge", "/sealgate merge", Command("merge", "")),
    (
        "bypass with reason",
        "/sealgate bypass db is down hard",
        Command("bypass", "db is down hard"),
    ),
    ("leading blank", "  /sealgate merge  ", Command("merge", "")),
    ("second line", "thanks!\n/sealgate merge\n", Command("merge", "")),
    ("first command wins", "/sealgate plan\n/sealgate merge", Command("plan", "")),
    ("reason is one line", "/sealgate bypass outage now\nmore", Command("bypass", "outage now")),
    ("quoted", "> /sealgate bypass someone else's reason", None),
    ("mid sentence", "please run /sealgate merge", None),
    ("unknown command", "/sealgate approve", None),
    ("prefix only", "/sealgate", None),
    ("glued prefix", "/sealgatemerge", None),
    ("wrong case", "/Sealgate merge", None),
    ("empty", "", None),
]


@pytest.mark.parametrize(("body", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_parse_command(body: str, expected: Command | None) -> None:
    assert parse_command(body) == expected
