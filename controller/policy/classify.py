"""What kind of request a pull request is, and which policies judge it.

A pull request is a secret change (``changes/``), an access request (``access/``) or a
governance change (anything else); a mix of any two is invalid (``scope``). Each kind
brings in its own policies: governance policies, ``scope_changes`` or ``scope_access``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from controller.model import (
    AccessRequest,
    Environment,
    Policy,
    PullRequestFacts,
    SecretChange,
    Tier,
)
from controller.policy.access_scope import AccessScope, scope_access
from controller.policy.scope import (
    ChangeScope,
    access_files,
    change_files,
    governance_files,
    scope_changes,
)
from controller.policy.text import names


@dataclass(slots=True)
class PullScope:
    governance: bool = False
    access: bool = False
    applicable: list[Policy] = field(default_factory=list)
    tiers: Mapping[str, Tier] = field(default_factory=dict)
    invalid: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def classify(
    environments: Mapping[str, Environment],
    policies: Sequence[Policy],
    changes: Sequence[SecretChange],
    access_requests: Sequence[AccessRequest],
    facts: PullRequestFacts,
) -> PullScope:
    """The kind of the pull request, its applicable policies and tiers, and what is wrong."""
    out = PullScope()
    rule_files = governance_files(facts.changed_files)
    requests = access_files(facts.changed_files) or tuple(r.source for r in access_requests)
    touches_changes = bool(changes or change_files(facts.changed_files))
    if requests and touches_changes:
        out.invalid.append(
            f"The pull request asks for access ({names(requests)}) and changes secrets under"
            " changes/ together; split it into an access pull request and a secret-change"
            " pull request."
        )
    if rule_files:
        _governance(policies, rule_files, requests, touches_changes, out)
        return out
    if requests and not changes:
        scope: AccessScope | ChangeScope = scope_access(
            environments, policies, access_requests, facts
        )
        out.access = True
        nothing = not access_requests
        why = (
            "The pull request touches access/ but carries no access request, so there is"
            " nothing to approve; add a request file under access/<environment>/."
        )
    else:
        scope = scope_changes(environments, policies, changes, facts.current_tiers)
        nothing = not changes
        why = (
            "The pull request carries no secret change and no governance change, so"
            " there is nothing to approve; add a change file under changes/<environment>/."
        )
    out.applicable, out.tiers = scope.applicable, scope.tiers
    out.invalid.extend(scope.invalid)
    out.notes.extend(scope.notes)
    if nothing:
        out.invalid.append(why)
    return out


def _governance(
    policies: Sequence[Policy],
    rule_files: Sequence[str],
    requests: Sequence[str],
    touches_changes: bool,
    out: PullScope,
) -> None:
    out.governance = True
    if touches_changes:
        out.invalid.append(
            f"The pull request changes rules or other files ({names(rule_files)}) and"
            " secrets under changes/ together; split it into a governance pull request"
            " and a secret-change pull request."
        )
    if requests:
        out.invalid.append(
            f"The pull request changes rules or other files ({names(rule_files)}) and asks"
            f" for access ({names(requests)}) together; split it into a governance pull"
            " request and an access pull request."
        )
    out.applicable = [policy for policy in policies if policy.is_governance]
    if not out.applicable:
        out.invalid.append(
            f"The pull request changes files outside changes/ and access/"
            f" ({names(rule_files)}), which only a governance policy may approve, and no"
            " policy lists the 'governance' environment; add one (spec.environments:"
            " [governance])."
        )
