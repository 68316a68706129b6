"""The approval policy engine: documents + pull-request facts -> decision (pure core).

``evaluate`` is the whole product in one call: which policies apply to the changes, who
may approve them, whose votes count, and whether the pull request is approved, pending,
rejected, expired or invalid. It does no I/O; adapters gather a ``PullRequestFacts``
snapshot first (``teams_referenced`` says which team memberships it must carry).

Decisions made here that a reader of the rules may wonder about:

- Logins and team names are compared case-insensitively (GitHub's are) and reported in
  lower case.
- Steps order review but do not time it: an approval given early for a later step is kept
  (the step is reported as waiting) and counts once the earlier steps are satisfied,
  unless a push invalidates it. Within one policy a person fills at most one step.
- A pull request whose changed files include anything outside ``changes/`` and
  ``access/`` is a governance change; without a governance policy it is invalid (fail
  closed). Access requests (``access/``) mixed with changes or governance files are invalid.
- An access request is judged by the policies whose ``actions`` list ``access``, at the
  current tier of each secret it reads; its requester must be the author, its duration
  within every covering policy's ``maxDuration``. ``/sealgate approve-for`` by an approver
  whose approval counts only shortens the grant (``Decision.granted_duration``).
- Break-glass overrides missing approvals and change requests, never an invalid or an
  expired pull request; a bypass that was not needed is reported, not recorded.
- A pull request with neither secret changes nor governance files is invalid: there is
  nothing to approve, and approving nothing would merge unknown content.
"""

from __future__ import annotations

from controller.policy.agents import agent_allowed
from controller.policy.approve_for import grant_duration
from controller.policy.commands import Command, GivenCommand, commands_on_head, parse_command
from controller.policy.contributors import Contributors, contributors
from controller.policy.engine import applicable_policies, evaluate
from controller.policy.globs import secret_glob_matches
from controller.policy.people import can_merge_command, teams_referenced

__all__ = [
    "Command",
    "Contributors",
    "GivenCommand",
    "agent_allowed",
    "applicable_policies",
    "can_merge_command",
    "commands_on_head",
    "contributors",
    "evaluate",
    "grant_duration",
    "parse_command",
    "secret_glob_matches",
    "teams_referenced",
]
