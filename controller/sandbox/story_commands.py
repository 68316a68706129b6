"""Story steps about talking to sealgate on the pull request: whom it asked to review, and
what it answers to a ``/sealgate`` command. Kept apart from ``story`` to keep that short."""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING, Any

from controller.sandbox.world import BOT, DEVELOPER, OWNER, REPO, World

if TYPE_CHECKING:
    from controller.sandbox.story import Story

_REPLY = re.compile(r"<!-- sealgate:note:reply:(\d+) -->\n")
_MENTIONS = re.compile(r"^Review requested from (.+)\.$", re.MULTILINE)


def requested_reviewers(world: World, number: int) -> tuple[list[str], list[str]]:
    """GitHub's requested reviewers of the pull request: logins and team slugs."""
    pr = world.github.pull(OWNER, REPO, number)
    return (
        sorted(str(u["login"]) for u in pr.get("requested_reviewers") or ()),
        sorted(str(t["slug"]) for t in pr.get("requested_teams") or ()),
    )


def answer_to(world: World, number: int, body: str) -> str | None:
    """sealgate's answer to the latest comment saying exactly ``body``, without its marker."""
    comments: list[dict[str, Any]] = world.github.comments(OWNER, REPO, number)
    asked = [int(c["id"]) for c in comments if c["body"] == body]
    if not asked:
        return None
    for c in comments:
        match = _REPLY.match(str(c["body"]))
        if match and int(match.group(1)) == asked[-1] and c["user"]["login"] == BOT:
            return str(c["body"])[match.end() :]
    return None


def reviewers_asked(story: Story) -> tuple[str, tuple[str, ...]]:
    """Whom the controller asked to review, as GitHub shows it: what to narrate."""
    number = story.result.number

    def asked() -> tuple[list[str], list[str], str] | None:
        # The requests go out just before the sticky comment that mentions them is written.
        users, teams = requested_reviewers(story.world, number)
        sticky = [
            str(c["body"])
            for c in story.world.github.comments(OWNER, REPO, number)
            if str(c["body"]).startswith("<!-- sealgate:summary -->")
        ]
        mention = _MENTIONS.search(sticky[0]) if sticky else None
        return (users, teams, mention.group(0)) if teams and mention else None

    users, teams, mention = story.wait("the controller to request reviews", asked)
    return (
        f"{BOT} asked for reviews: teams {', '.join(teams)}"
        + (f", people {', '.join(users)}" if users else ""),
        (f"sticky comment: '{mention}'",),
    )


def early_merge(story: Story) -> tuple[str, tuple[str, ...]]:
    """The author asks to merge before the request is approved: sealgate says what is
    missing. What to narrate."""
    number = story.result.number
    time.sleep(1.0 - time.time() % 1.0 + 0.01)  # a command counts only after the push's second
    story.people[DEVELOPER].comment(number, "/sealgate merge")
    reply = story.wait(
        "the controller to answer '/sealgate merge'",
        lambda: answer_to(story.world, number, "/sealgate merge"),
    )
    lines = [line for line in str(reply).splitlines() if line and not line.startswith(">")]
    return f"{DEVELOPER} commented '/sealgate merge' too early; {BOT} answered:", tuple(lines)


_CODE_SPAN = re.compile(r"`([^`]*)`")


def plain(markdown: str) -> str:
    """Markdown as plain text: no code spans, no bold."""
    return _CODE_SPAN.sub(r"\1", markdown).replace("**", "").strip()


def key_rows(summary: str) -> list[str]:
    """The summary's before/after table, one line per key: change, before → after, version
    and tier (fingerprints only: the summary never holds a value)."""
    rows: list[str] = []
    for line in summary.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
        if len(cells) == 9 and cells[2].startswith("`") and cells[0] != "Environment":
            key, change, before, after, version, tier = (plain(c) for c in cells[2:8])
            rows.append(f"{key}: {change}, fingerprint {before} → {after}, {version}, tier {tier}")
    return rows


def next_step(summary: str) -> str:
    """The summary's "Next:" line, as plain text."""
    for line in summary.splitlines():
        if line.startswith("**Next:**"):
            return plain(line)
    return "no next step in the summary"
