"""Who sealgate asked to review, kept in its sticky comment: durable, and read for free.

The sticky comment ends with a hidden line naming the head sealgate last asked reviews on,
whom it asked on that head, and everyone it has mentioned on the pull request, and (once
anyone was asked) a visible line @-mentioning them. So, across restarts and replicas:

- a person or team is asked at most once per head (a head sealgate asked on is recorded
  with whom it asked);
- everyone is mentioned once per pull request: the mention line only ever grows, and an
  edit that keeps a mention does not notify again.

Plain text only: no client, so the reporter and the requester share it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_LINE = re.compile(
    r"^<!-- sealgate:reviewers head=([0-9a-f]*) asked=([-a-z0-9/,]*)"
    r" mentioned=([-a-z0-9/,]*) -->$",
    re.MULTILINE,
)
_NAME = re.compile(r"[a-z0-9][-a-z0-9]*(/[a-z0-9][-a-z0-9]*)?")


@dataclass(frozen=True, slots=True)
class Asked:
    head: str = ""
    asked: frozenset[str] = frozenset()
    """Logins and ``org/slug`` teams asked on ``head``."""
    mentioned: tuple[str, ...] = ()
    """Everyone mentioned on the pull request, in the order first mentioned."""

    def on(self, head: str) -> frozenset[str]:
        """Who was asked on ``head`` (nobody, if the record is of another head)."""
        return self.asked if head == self.head else frozenset()

    def add(self, head: str, asked: frozenset[str], mention: frozenset[str]) -> Asked:
        """Also asked on ``head``: ``asked``; of them, ``mention`` should be mentioned."""
        names = frozenset(n for n in asked if _NAME.fullmatch(n))
        # People before teams, each alphabetically.
        new = sorted(
            (n for n in mention & names if n not in self.mentioned), key=lambda n: ("/" in n, n)
        )
        return Asked(head=head, asked=self.on(head) | names, mentioned=(*self.mentioned, *new))


def parse_asked(body: str | None) -> Asked:
    match = _LINE.search(body or "")
    if match is None:
        return Asked()

    def names(text: str) -> list[str]:
        return [n for n in text.split(",") if _NAME.fullmatch(n)]

    return Asked(
        head=match.group(1),
        asked=frozenset(names(match.group(2))),
        mentioned=tuple(dict.fromkeys(names(match.group(3)))),
    )


def render_asked(state: Asked) -> str:
    """The sticky comment's closing lines; empty when nobody was ever asked."""
    if not state.mentioned and not state.asked:
        return ""
    # A blank line first: text right under the summary's last table would join the table.
    lines = [""]
    if state.mentioned:
        people = ", ".join(f"@{name}" for name in state.mentioned)
        lines += [f"Review requested from {people}.", ""]
    lines.append(
        f"<!-- sealgate:reviewers head={state.head} asked={','.join(sorted(state.asked))}"
        f" mentioned={','.join(state.mentioned)} -->"
    )
    return "\n".join(lines) + "\n"
