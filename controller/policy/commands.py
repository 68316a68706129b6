"""Commands people give sealgate in pull-request comments."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, cast

CommandName = Literal["plan", "merge", "bypass"]
_PREFIX = "/sealgate"
_NAMES: frozenset[str] = frozenset({"plan", "merge", "bypass"})


@dataclass(frozen=True, slots=True)
class Command:
    name: CommandName
    argument: str = ""
    """The rest of the line after the command name, stripped (the reason of a bypass)."""


def parse_command(body: str) -> Command | None:
    """The first ``/sealgate plan|merge|bypass ...`` that starts a line of ``body``.

    Only a line that *starts* with the command counts, so quoting someone else's command
    (``> /sealgate bypass ...``) or mentioning it mid-sentence does nothing.
    """
    for line in body.splitlines():
        words = line.strip().split(maxsplit=2)
        if len(words) < 2 or words[0] != _PREFIX or words[1] not in _NAMES:
            continue
        argument = words[2].strip() if len(words) == 3 else ""
        return Command(name=cast(CommandName, words[1]), argument=argument)
    return None
