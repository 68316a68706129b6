"""The hidden first lines of sealgate's one-off comments: plain text, no client needed, so
the reconciler can recognise its own comments in a snapshot without asking GitHub again."""

from __future__ import annotations

import re
from collections.abc import Iterable

from controller.model import Comment

_REPLY = re.compile(r"<!-- sealgate:note:reply:(\d+) -->")


def note_marker(key: str) -> str:
    """The hidden first line of the note for event ``key`` (one line, no ``--``)."""
    safe = " ".join(key.split()).replace("--", "-")
    return f"<!-- sealgate:note:{safe} -->"


def reply_key(comment_id: int) -> str:
    """The note key of sealgate's answer to the command in comment ``comment_id``."""
    return f"reply:{comment_id}"


def answered(comments: Iterable[Comment], me: str) -> frozenset[int]:
    """Ids of the command comments that ``me`` (sealgate's login) already answered."""
    mine = me.casefold()
    found: set[int] = set()
    for comment in comments:
        if comment.user.casefold() != mine:
            continue
        match = _REPLY.match(comment.body)
        if match:
            found.add(int(match.group(1)))
    return frozenset(found)
