"""Who is still needed, and what happens next: the lines a person acts on.

Counts count people, not rules: one approval can satisfy several steps at once, so the title
says how many more *people* must approve (the fewest who could finish every step), and a
satisfied step never shows more approvals than it required as a fraction.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from controller.model import Decision, DecisionState, Policy, StepResult

EXACT_LIMIT = 14
"""Up to this many candidates the fewest-more-people count is exact; beyond, greedy."""


def code(text: str) -> str:
    """A code span outside a table: shown literally, and a login in it pings nobody."""
    value = " ".join(str(text).split()).replace("`", "'")
    return f"`{value}`" if value else "—"


def plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def _missing(step: StepResult) -> int:
    return 0 if step.satisfied else max(step.required - len(step.approved_by), 0)


def more_people_needed(steps: Sequence[StepResult]) -> int:
    """The fewest more approvers who, together, would satisfy every unsatisfied step.

    A person eligible for two steps counts once for both. Exact for small candidate sets;
    greedy (an upper bound, usually exact) when many people could approve.
    """
    needs = {i: _missing(s) for i, s in enumerate(steps) if _missing(s) > 0}
    if not needs:
        return 0
    eligible = {i: set(steps[i].eligible_remaining) for i in needs}
    candidates = sorted(set().union(*eligible.values()))
    floor = max(needs.values())
    ceiling = sum(needs.values())

    def covers(chosen: Sequence[str]) -> bool:
        return all(len(eligible[i].intersection(chosen)) >= need for i, need in needs.items())

    if len(candidates) <= EXACT_LIMIT:
        for size in range(floor, min(ceiling, len(candidates)) + 1):
            if any(covers(c) for c in itertools.combinations(candidates, size)):
                return size
        return ceiling  # not enough eligible people left: every need counts on its own
    left = dict(needs)
    chosen: set[str] = set()
    while left and len(chosen) < len(candidates):
        best = max(
            (p for p in candidates if p not in chosen),
            key=lambda p: (sum(1 for i in left if p in eligible[i]), p),
        )
        if not any(best in eligible[i] for i in left):
            break
        chosen.add(best)
        left = {i: n - 1 if best in eligible[i] else n for i, n in left.items()}
        left = {i: n for i, n in left.items() if n > 0}
    return len(chosen) + sum(left.values())


def step_teams(policies: Sequence[Policy]) -> dict[tuple[str, str], tuple[str, ...]]:
    """``(policy, step)`` -> the teams that step names, for "one of ... (team ...)"."""
    return {(p.name, s.name): tuple(sorted(s.teams)) for p in policies for s in p.steps if s.teams}


def step_count(step: StepResult) -> str:
    """A labelled count; satisfied steps say so instead of showing e.g. ``2/1``."""
    have = len(step.approved_by)
    if step.satisfied:
        return f"satisfied ({plural(step.required, 'approval')} required, {have} given)"
    text = f"{min(have, step.required)} of {plural(step.required, 'approval')}"
    if step.waiting_on_earlier_step:
        text += " (after earlier step)"
    return text


def step_need(step: StepResult, teams: Sequence[str] = ()) -> str:
    """``needs 1 more approval: one of `x`, `y` (team `@org/security`)``."""
    missing = _missing(step)
    if missing == 0:
        return "—"
    people = ", ".join(code(login) for login in step.eligible_remaining) or "nobody left"
    which = "one" if missing == 1 else f"{missing}"
    text = f"needs {missing} more {'approval' if missing == 1 else 'approvals'}: {which} of "
    text += people
    if teams:
        label = "team" if len(teams) == 1 else "teams"
        text += f" ({label} " + ", ".join(code("@" + t) for t in teams) + ")"
    return text


def relative(when: datetime, now: datetime) -> str:
    """``in 2 days`` / ``3 hours ago``: coarse, and fixed by the evaluation's clock."""
    delta = when - now
    future = delta >= timedelta(0)
    seconds = abs(delta.total_seconds())
    for unit, size in (("day", 86_400), ("hour", 3_600), ("minute", 60)):
        if seconds >= size:
            amount = plural(int(seconds // size), unit)
            return f"in {amount}" if future else f"{amount} ago"
    return "in under a minute" if future else "just now"


def expiry_line(decision: Decision, now: datetime | None) -> str:
    if decision.expires_at is None:
        return ""
    # The ISO form stays as it was: scripts and people grep for it.
    iso = decision.expires_at.isoformat(timespec="minutes")
    if now is None:
        return f"Expires at {iso}."
    verb = "Expired" if decision.state is DecisionState.EXPIRED else "Expires"
    return f"{verb} at {iso} ({relative(decision.expires_at, now)})."


def mergers(
    policies: Sequence[Policy], author: str, contributors: frozenset[str] = frozenset()
) -> str:
    """Who may comment ``/sealgate merge``: the author, and anyone who could approve
    (``Directory.may_merge``): listed people, minus contributors where self-approval is off.
    ``contributors`` are casefolded logins."""
    me = author.casefold()
    users = sorted(
        {
            u
            for p in policies
            for s in p.steps
            for u in s.users
            if u.casefold() != me and (p.allow_self_approval or u.casefold() not in contributors)
        }
    )
    teams = sorted({t for p in policies for s in p.steps for t in s.teams})
    names = [f"{code(author)} (the author)"] if author else []
    names += [code(u) for u in users]
    if teams:
        members = "any member of " + ", ".join(code("@" + t) for t in teams)
        if contributors - {me} and not all(p.allow_self_approval for p in policies):
            members += " who did not push to this pull request"
        names.append(members)
    if len(names) > 1:
        return ", ".join(names[:-1]) + ", or " + names[-1]
    return names[0] if names else "a listed approver"


def next_step(
    decision: Decision,
    *,
    applied: bool,
    policies: Sequence[Policy],
    author: str,
    has_problems: bool,
    teams: Mapping[tuple[str, str], Sequence[str]],
    applied_versions: Mapping[str, int],
    clusters: Mapping[str, Sequence[str]] | None = None,
    contributors: frozenset[str] = frozenset(),
) -> list[str]:
    """The "Next:" paragraph (markdown lines)."""
    if applied:
        where = ", ".join(
            f"{code(path)} version {version}" for path, version in sorted(applied_versions.items())
        )
        done = f"**Applied:** {where} is in the store" if where else "**Applied** to the store"
        targets = sorted({c for names in (clusters or {}).values() for c in names})
        into = ", ".join(code(c) for c in targets) if targets else "its environment's clusters"
        return [
            done + f"; sealgate writes it to {into} and restarts the workloads that use it "
            "(check `sealgate/sync` reports the outcome)."
        ]
    state = decision.state
    if state is DecisionState.INVALID or has_problems:
        return ["**Next:** fix the files listed below and push; every push is judged again."]
    if state is DecisionState.EXPIRED:
        # The window runs from when the pull request was opened, so a push does not reopen it.
        return [
            "**Next:** the approval window closed: open a new pull request with the same "
            "change files and collect approvals anew."
        ]
    if state is DecisionState.REJECTED:
        return ["**Next:** resolve the reasons above; sealgate judges again on every review."]
    if state is DecisionState.PENDING:
        more = more_people_needed(decision.steps)
        lines = [f"**Next:** {plural(more, 'more approval')} (people, not rules):"]
        for s in decision.steps:
            if _missing(s):
                need = step_need(s, teams.get((s.policy, s.step), ()))
                lines.append(f"- {code(s.policy)} / {code(s.step)}: {need}")
        return lines
    if decision.bypassed or decision.auto_merge:
        return ["**Next:** sealgate merges this pull request and applies it; nobody needs to act."]
    if decision.merge_requested_by:
        return [f"**Next:** sealgate merges it, as {code(decision.merge_requested_by)} asked."]
    who = mergers(policies, author, contributors)
    return [f"**Next:** a person who may merge comments `/sealgate merge`: {who}."]
