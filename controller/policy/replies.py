"""What sealgate answers to each ``/sealgate`` comment: done, refused and why, or help.

Pure: the pull request's facts, the decision and what the pass did go in, one reply per
command comment comes out. Every comment whose plain line starts with ``/sealgate`` gets
one, the way Atlantis answers every command, so nobody waits on a command that was ignored.

A reply never repeats what the commenter typed beyond the command word, and that only when
it is a known command or short and plain: a bypass reason or a mistyped line could hold a
value pasted by mistake, and a reply is public. Logins and policy names are escaped so they
cannot mention anyone or smuggle in markup.
"""

from __future__ import annotations

import difflib
import enum
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from controller.model import Comment, Decision, DecisionState, Policy, PullRequestFacts
from controller.policy.approve_for import parse_approve_for
from controller.policy.bypass import bypass_refusals
from controller.policy.commands import command_word, void_reason
from controller.policy.people import Directory, latest_votes, login_key
from controller.policy.text import duration, names, short_sha, timestamp

COMMANDS: tuple[tuple[str, str], ...] = (
    (
        "merge",
        "merge an approved pull request whose policies wait for an explicit merge"
        " (`autoMerge: false`); the author or anyone who may approve it can ask, after the"
        " last approval that counts",
    ),
    (
        "bypass <reason>",
        "break-glass: under `soft` policies only, the author, if a listed bypasser of every"
        " applicable policy, approves their own request with a reason of 10 or more"
        " characters; approvers are notified and the audit log keeps the reason",
    ),
    (
        "approve-for <duration>",
        "for an access request: grant it for at most this long (30m, 2h, 1d); counts with"
        " your approval, and only ever shortens the requested duration",
    ),
    (
        "revoke <reason>",
        "for a granted access request: end its access now; the requester or anyone who may"
        " approve it can revoke, and the audit log keeps who and why",
    ),
    ("plan", "judge the pull request again now and refresh the summary"),
    ("help", "list these commands"),
)
"""Every command sealgate takes, with what it does: the help reply lists them."""
_KNOWN = tuple(spec.split()[0] for spec, _ in COMMANDS)
_SUGGESTED = tuple(word for word in _KNOWN if word != "approve-for")
"""Never offered for a mistyped word: someone typing ``/sealgate approve`` wants to approve,
and approve-for approves nothing (it only shortens an approval given by review)."""
_PLAIN_WORD = re.compile(r"[a-z][a-z-]{0,15}")
"""A mistyped command word shown back: letters and hyphens only, short (a value has digits
or is long)."""


class ReplyKind(enum.StrEnum):
    DONE = "done"
    NOT_ALLOWED = "not-allowed"
    WRONG_STATE = "wrong-state"
    NOT_COUNTED = "not-counted"
    """Given before the current head was pushed, or before the last approval."""
    EDITED = "edited"
    UNKNOWN = "unknown"
    HELP = "help"


@dataclass(frozen=True, slots=True)
class PassOutcome:
    """What the pass that answers did with the pull request."""

    state: str = "open"
    """``open``, ``merged`` or ``closed``, as the pass found it."""
    merged_now: bool = False
    """sealgate merged it in this pass."""
    merged_at: datetime | None = None
    revoke_replies: Mapping[int, tuple[str, str]] = field(default_factory=dict)
    """Comment id -> (reply kind, text) for the ``/sealgate revoke`` comments the pass
    judged against the pull request's grants (``controller.reconciler.revoking``)."""


@dataclass(frozen=True, slots=True)
class CommandReply:
    comment_id: int
    command: str
    """The command word as it may be shown (empty when it is not shown)."""
    kind: ReplyKind
    text: str
    """Markdown, without the quote of the command."""


def is_command(comment: Comment) -> bool:
    return command_word(comment.body) is not None


def command_replies(
    facts: PullRequestFacts,
    decision: Decision,
    policies: Sequence[Policy],
    outcome: PassOutcome,
    *,
    bot: str,
    skip: frozenset[int] = frozenset(),
) -> tuple[CommandReply, ...]:
    """One reply per command comment not by ``bot`` and not in ``skip`` (already
    answered), oldest first."""
    replies: list[CommandReply] = []
    me = login_key(bot)
    for comment in sorted(facts.comments, key=lambda c: (c.created_at, c.id)):
        if comment.id in skip or login_key(comment.user) == me:
            continue
        found = command_word(comment.body)
        if found is None:
            continue
        word, argument = found
        replies.append(_reply(comment, word, argument, _Pass(facts, decision, policies, outcome)))
    return tuple(replies)


@dataclass(frozen=True, slots=True)
class _Pass:
    facts: PullRequestFacts
    decision: Decision
    policies: Sequence[Policy]
    outcome: PassOutcome


def _reply(comment: Comment, word: str, argument: str, ctx: _Pass) -> CommandReply:
    facts, decision, outcome = ctx.facts, ctx.decision, ctx.outcome
    if word not in _KNOWN:
        return _unknown(comment, word)

    def make(kind: ReplyKind, text: str) -> CommandReply:
        return CommandReply(comment.id, word, kind, text)

    if word == "help":
        return make(ReplyKind.HELP, help_text())
    if comment.edited:
        return make(
            ReplyKind.EDITED,
            "**Not taken as a command:** this comment was edited, and anyone with write"
            " access can edit another person's comment, so an edited comment no longer proves"
            f" what its author asked. Post `/sealgate {word}` in a new comment.",
        )
    if outcome.state == "closed":
        return make(ReplyKind.WRONG_STATE, "**Nothing done:** the pull request is closed.")
    if word == "plan":
        return make(
            ReplyKind.DONE,
            f"**Judged again** on head `{short_sha(facts.head_sha)}`:"
            f" {_standing(decision)}. The summary comment is up to date.",
        )
    if word == "revoke":
        # Not tied to a head: a grant rests on the merged request, not on a commit.
        return make(*_revoke(comment, decision, outcome))
    late = outcome.merged_at is not None and comment.created_at > outcome.merged_at
    if outcome.state == "merged" and late:
        return make(ReplyKind.WRONG_STATE, "**Nothing done:** the pull request is already merged.")
    void = void_reason(comment, facts)
    if void is not None:
        return make(ReplyKind.NOT_COUNTED, f"**Not counted:** {_sentence(void)}")
    if word == "merge":
        kind, text = _merge(comment, ctx)
    elif word == "approve-for":
        kind, text = _approve_for(comment, argument, decision)
    else:
        kind, text = _bypass(comment, argument, ctx)
    return make(kind, text)


def _merge(comment: Comment, ctx: _Pass) -> tuple[ReplyKind, str]:
    facts, decision, policies, outcome = ctx.facts, ctx.decision, ctx.policies, ctx.outcome
    user = login_key(comment.user)
    if decision.auto_merge:
        return ReplyKind.WRONG_STATE, (
            "**Not needed:** the policies of this pull request merge it as soon as it is"
            " approved; `/sealgate merge` is for policies with `autoMerge: false`."
        )
    if not Directory.of(facts).may_merge(policies, facts.author, user):
        return ReplyKind.NOT_ALLOWED, (
            f"**Not allowed:** only the author ({_who(facts.author)}) or someone who may approve"
            f" this pull request ({_who(names(_approvers(decision)))}) may ask to merge it."
        )
    if decision.state is not DecisionState.APPROVED:
        return ReplyKind.WRONG_STATE, f"**Not merged:** {_standing(decision)}."
    approved_at = _last_approval(facts, decision)
    if approved_at is not None and comment.created_at <= approved_at:
        return ReplyKind.NOT_COUNTED, (
            f"**Not counted:** it was made before the last approval ({timestamp(approved_at)});"
            " ask again now that the pull request is approved."
        )
    if outcome.merged_now or outcome.state == "merged":
        return ReplyKind.DONE, (
            f"**Merged** head `{short_sha(facts.head_sha)}`. Applying it to the store and the"
            " clusters follows; the `sealgate/sync` check reports each cluster and workload."
        )
    return ReplyKind.WRONG_STATE, (
        "**Not merged yet:** sealgate could not merge it in this pass (the summary says why);"
        " it tries again on the next event."
    )


def _bypass(comment: Comment, argument: str, ctx: _Pass) -> tuple[ReplyKind, str]:
    facts, decision, policies, outcome = ctx.facts, ctx.decision, ctx.policies, ctx.outcome
    user = login_key(comment.user)
    refusals = bypass_refusals(user, argument, facts, policies)
    if refusals:
        return ReplyKind.NOT_ALLOWED, "**Not allowed:** " + _sentence(
            "; ".join(r.rstrip(".") for r in refusals)
        )
    if decision.bypassed and login_key(decision.bypassed_by or "") == user:
        merged = " and merged" if outcome.merged_now or outcome.state == "merged" else ""
        return ReplyKind.DONE, (
            f"**Bypassed{merged}:** approved by break-glass under soft policies; approvers are"
            " notified and the audit log records who bypassed and the reason."
        )
    if decision.state is DecisionState.APPROVED:
        return ReplyKind.WRONG_STATE, (
            "**Not needed:** reviews already approve the pull request; nothing was bypassed."
        )
    return ReplyKind.WRONG_STATE, (
        f"**Not bypassed:** break-glass cannot rescue a pull request that is {decision.state}."
    )


def _approve_for(comment: Comment, argument: str, decision: Decision) -> tuple[ReplyKind, str]:
    if not decision.access or decision.granted_duration is None:
        return ReplyKind.WRONG_STATE, (
            "**Nothing done:** `/sealgate approve-for` shortens access requests, and this pull"
            " request asks for no access."
        )
    asked = parse_approve_for(argument)
    if asked is None:
        return ReplyKind.NOT_COUNTED, (
            "**Not counted:** give one duration, such as `/sealgate approve-for 2h` (m, h, d"
            " or w), in a new comment."
        )
    granted = duration(decision.granted_duration)
    if login_key(comment.user) not in {p for s in decision.steps for p in s.approved_by}:
        return ReplyKind.NOT_COUNTED, (
            f"**Not counted yet:** it counts together with your approval, if your approval"
            f" counts under an applicable policy; the grant now lasts {granted}."
        )
    return ReplyKind.DONE, (
        f"**Noted:** you grant at most {duration(asked)}; the grant lasts {granted}, the"
        " shortest of the requested duration and every approver's approve-for."
    )


def _revoke(comment: Comment, decision: Decision, outcome: PassOutcome) -> tuple[ReplyKind, str]:
    judged = outcome.revoke_replies.get(comment.id)
    if judged is not None:
        return ReplyKind(judged[0]), judged[1]
    if not decision.access:
        return (
            ReplyKind.WRONG_STATE,
            "**Nothing done:** `/sealgate revoke` ends the access an approved access request"
            " granted; this pull request asks for no access.",
        )
    if outcome.state == "merged":
        return (
            ReplyKind.WRONG_STATE,
            "**Nothing to revoke yet:** no grant of this pull request is recorded; sealgate"
            " records it right after the merge. Comment again once the summary shows it.",
        )
    return (
        ReplyKind.WRONG_STATE,
        "**Nothing to revoke yet:** access is granted only once the request is approved and"
        " merged. To withdraw the request, close the pull request (or, as an approver,"
        " request changes).",
    )


def _unknown(comment: Comment, word: str) -> CommandReply:
    if not word:
        return CommandReply(
            comment.id, "", ReplyKind.UNKNOWN, "**No command given.** " + help_text()
        )
    folded = word.casefold()
    near = difflib.get_close_matches(folded, _SUGGESTED, n=1, cutoff=0.6)
    shown = folded if _PLAIN_WORD.fullmatch(folded) else ""
    what = f"`{shown}` is not a sealgate command" if shown else "That is not a sealgate command"
    hint = f"; did you mean `/sealgate {near[0]}`?" if near else "."
    return CommandReply(
        comment.id,
        shown,
        ReplyKind.UNKNOWN,
        f"**Unknown command:** {what}{hint} `/sealgate help` lists the commands.",
    )


def help_text() -> str:
    lines = ["**sealgate commands** (a comment line of its own, outside quotes and code):", ""]
    lines += [f"- `/sealgate {spec}`: {what}." for spec, what in COMMANDS]
    lines += [
        "",
        "A command counts once, in a comment that is never edited, made after the current head"
        " was pushed: a push voids earlier commands. Checks re-run from GitHub's"
        " *Re-run* button judge the pull request again too.",
    ]
    return "\n".join(lines)


def _standing(decision: Decision) -> str:
    if decision.state is DecisionState.PENDING:
        short = sum(max(0, s.required - len(s.approved_by)) for s in decision.steps)
        waiting = _approvers(decision, remaining=True)
        more = f"needs {short} more approval{'s' if short != 1 else ''}" if short else "pending"
        if waiting:
            more += f" (can still approve: {_who(names(waiting))})"
        return more
    if decision.state is DecisionState.APPROVED:
        return "approved"
    if decision.state is DecisionState.REJECTED:
        return "rejected: changes were requested (the summary says by whom)"
    return f"{decision.state} (the summary says why)"


def _approvers(decision: Decision, *, remaining: bool = False) -> frozenset[str]:
    return frozenset(
        login
        for s in decision.steps
        if not (remaining and s.satisfied)
        for login in (
            s.eligible_remaining if remaining else (*s.approved_by, *s.eligible_remaining)
        )
    )


def _last_approval(facts: PullRequestFacts, decision: Decision) -> datetime | None:
    votes = latest_votes(facts.reviews)
    times = [
        votes[person].submitted_at
        for step in decision.steps
        for person in step.approved_by
        if person in votes
    ]
    return max(times, default=None)


def _who(text: str) -> str:
    """Logins and names sealgate shows: no mention, no markup."""
    for raw, safe in (("<", "&lt;"), (">", "&gt;"), ("@", "@\u200b"), ("`", "'")):
        text = text.replace(raw, safe)
    return text


def _sentence(text: str) -> str:
    text = _who(text.strip())
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")
