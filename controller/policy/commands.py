"""Commands people give sealgate in pull-request comments, and which of them count.

A command counts only when the comment says it in plain text, was never edited and was
made on the head it applies to:

- quoted (``>``) or code (fenced with ``` or ~~~, indented by four spaces or a tab, or
  in backticks) is someone citing a command, not giving one;
- anyone with write access can edit another person's comment, so an edited comment no
  longer proves what its author said;
- a push after the command changes what it was given on, so only comments made after the
  head was pushed count. The push time comes from GitHub's record of pushes, never from
  commit dates (which the pusher writes). When it is unknown, no command counts.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, cast

from controller.model import Comment, PullRequestFacts
from controller.policy.contributors import head_pushed_at
from controller.policy.text import short_sha, timestamp

CommandName = Literal["plan", "merge", "bypass", "approve-for"]
_PREFIX = "/sealgate"
_NAMES: frozenset[str] = frozenset({"plan", "merge", "bypass", "approve-for"})
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")


@dataclass(frozen=True, slots=True)
class Command:
    name: CommandName
    argument: str = ""
    """The rest of the line after the command name, stripped (the reason of a bypass)."""


@dataclass(frozen=True, slots=True)
class GivenCommand:
    comment: Comment
    command: Command


def _plain_lines(body: str) -> Iterator[str]:
    """The lines of ``body`` outside fenced code blocks, indented code and quotes."""
    fence: str | None = None
    for line in body.splitlines():
        opening = _FENCE.match(line)
        if fence is not None:
            closing = opening.group(1) if opening else ""
            if closing[:1] == fence[0] and len(closing) >= len(fence) and not line.strip(" `~"):
                fence = None
            continue
        if opening:
            fence = opening.group(1)
            continue
        if line.startswith("\t") or line.startswith("    "):
            continue  # indented code
        if line.lstrip().startswith(">"):
            continue  # a quote
        yield line


def parse_command(body: str) -> Command | None:
    """The first ``/sealgate plan|merge|bypass|approve-for ...`` that starts a plain line of
    ``body``.

    Only a line that *starts* with the command counts, so mentioning it mid-sentence or in
    backticks does nothing, and neither do quotes or code blocks.
    """
    for line in _plain_lines(body):
        words = line.strip().split(maxsplit=2)
        if len(words) < 2 or words[0] != _PREFIX or words[1] not in _NAMES:
            continue
        argument = words[2].strip() if len(words) == 3 else ""
        return Command(name=cast(CommandName, words[1]), argument=argument)
    return None


def command_word(body: str) -> tuple[str, str] | None:
    """What a comment asks of sealgate: the command ``parse_command`` finds, else the word
    after the first plain line's ``/sealgate`` (empty when nothing follows it), with the
    rest of that line. None when no plain line starts with ``/sealgate``."""
    known = parse_command(body)
    if known is not None:
        return known.name, known.argument
    for line in _plain_lines(body):
        words = line.strip().split(maxsplit=2)
        if words and words[0] == _PREFIX:
            return (words[1] if len(words) > 1 else ""), (words[2] if len(words) > 2 else "")
    return None


def void_reason(comment: Comment, facts: PullRequestFacts) -> str | None:
    """Why a command in ``comment`` does not count for the current head, or None."""
    return _void(comment, facts, head_pushed_at(facts))


def _order(comment: Comment) -> tuple[object, ...]:
    return (comment.created_at, comment.id, comment.user, comment.body)


def commands_on_head(
    facts: PullRequestFacts, name: CommandName
) -> tuple[tuple[GivenCommand, ...], tuple[str, ...]]:
    """Comments giving command ``name`` that count for the current head, in order, and one
    sentence per comment that gives it but does not count, saying why."""
    pushed_at = head_pushed_at(facts)
    counted: list[GivenCommand] = []
    ignored: list[str] = []
    for comment in sorted(facts.comments, key=_order):
        command = parse_command(comment.body)
        if command is None or command.name != name:
            continue
        why = _void(comment, facts, pushed_at)
        if why is None:
            counted.append(GivenCommand(comment=comment, command=command))
        else:
            ignored.append(
                f"The /sealgate {name} comment by {comment.user.casefold()} at"
                f" {timestamp(comment.created_at)} was ignored: {why}."
            )
    return tuple(counted), tuple(ignored)


def _void(comment: Comment, facts: PullRequestFacts, pushed_at: datetime | None) -> str | None:
    head = short_sha(facts.head_sha)
    if comment.edited:
        return (
            "the comment was edited, and anyone with write access can edit another person's"
            " comment; post the command in a new comment"
        )
    if pushed_at is None:
        return (
            f"GitHub does not report when the head {head} was pushed, so sealgate cannot"
            " tell whether the command was given on it; comment again"
        )
    # Same-second comments are refused too: GitHub's times have one-second precision, and a
    # push in the same second as the command may have come after it.
    if comment.created_at <= pushed_at:
        return (
            f"it was made before the head {head} was pushed at"
            f" {timestamp(pushed_at)}"
            "; a push voids earlier commands, comment again on the new head"
        )
    return None


def plain_lines(body: str) -> Iterator[str]:
    """The lines of ``body`` a command may be given on: outside code blocks and quotes.
    For commands parsed elsewhere (``controller.policy.revocations``)."""
    return _plain_lines(body)
