"""An agent's requester in a pull request the controller opened: literal fixtures.

The requester may differ from the author only when the author is the controller's own
login and the store vouches for exactly this file naming exactly this requester.
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from controller.model import (
    AccessRequest,
    AgentEntry,
    Decision,
    DecisionState,
    Environment,
    Policy,
    PullRequestFacts,
    Push,
)
from tests.unit.policy_fixtures import ENVIRONMENTS, T0, approvals, env
from tests.unit.test_policy_access import (
    ACCESS_FILE,
    access_facts,
    access_policy,
    request,
)
from tests.unit.test_policy_access import decide_access as decide_with

BOT = "sealgate[bot]"
AGENT = "system:serviceaccount:ci:deployer@prod-eu-1"


AGENT_ENTRY = AgentEntry("ci", "deployer", "prod-eu-1", ("payments/*",))


def listing(*entries: AgentEntry) -> dict[str, Environment]:
    return {
        **ENVIRONMENTS,
        "production": dataclasses.replace(env(), agents=entries),
    }


def decide_access(
    policies: list[Policy],
    *,
    requests: list[AccessRequest],
    pull_request: PullRequestFacts,
    environments: dict[str, Environment] | None = None,
) -> Decision:
    """As the base's environment lists the agent (``spec.agents``) unless told otherwise."""
    return decide_with(
        policies,
        requests=requests,
        pull_request=pull_request,
        environments=listing(AGENT_ENTRY) if environments is None else environments,
    )


def bot_facts(**overrides: object) -> PullRequestFacts:
    bot_login = str(overrides.pop("bot_login", BOT))
    vouched = overrides.pop("agent_requests", {ACCESS_FILE: AGENT})
    assert isinstance(vouched, dict)
    overrides.setdefault("author", BOT)
    overrides.setdefault("reviews", approvals("alice"))
    overrides.setdefault("pushes", (Push("c2", BOT, T0),))
    base = access_facts(**overrides)
    return dataclasses.replace(base, bot_login=bot_login, agent_requests=vouched)


def test_the_controllers_pull_request_for_a_vouched_agent_is_judged_normally() -> None:
    decision = decide_access(
        [access_policy()], requests=[request(requester=AGENT)], pull_request=bot_facts()
    )
    assert decision.state is DecisionState.APPROVED, decision.reasons


def test_an_agent_requester_without_the_stores_record_is_invalid() -> None:
    decision = decide_access(
        [access_policy()],
        requests=[request(requester=AGENT)],
        pull_request=bot_facts(agent_requests={}),
    )
    assert decision.state is DecisionState.INVALID
    assert any("not an agent request the controller recorded" in r for r in decision.reasons)


def test_a_record_naming_another_agent_or_another_file_does_not_vouch() -> None:
    other = "system:serviceaccount:ci:other@prod-eu-1"
    for vouched in ({ACCESS_FILE: other}, {"access/production/else.yaml": AGENT}):
        decision = decide_access(
            [access_policy()],
            requests=[request(requester=AGENT)],
            pull_request=bot_facts(agent_requests=vouched),
        )
        assert decision.state is DecisionState.INVALID, vouched


def test_a_human_pull_request_naming_an_agent_is_invalid_even_when_vouched() -> None:
    decision = decide_access(
        [access_policy()],
        requests=[request(requester=AGENT)],
        pull_request=bot_facts(author="dev1"),
    )
    assert decision.state is DecisionState.INVALID
    assert any("is not the author" in r for r in decision.reasons)


def test_the_controller_never_asks_for_itself() -> None:
    decision = decide_access(
        [access_policy()], requests=[request(requester=BOT)], pull_request=bot_facts()
    )
    assert decision.state is DecisionState.INVALID


def test_a_push_by_someone_else_to_the_controllers_branch_is_invalid() -> None:
    pushes = (Push(sha="c2", pusher="mallory", pushed_at=T0 + timedelta(minutes=1)),)
    decision = decide_access(
        [access_policy()],
        requests=[request(requester=AGENT)],
        pull_request=bot_facts(pushes=pushes),
    )
    assert decision.state is DecisionState.INVALID
    assert any("pushed to by mallory" in r for r in decision.reasons)


def test_without_a_bot_login_the_old_rule_holds() -> None:
    decision = decide_access(
        [access_policy()],
        requests=[request(requester=AGENT)],
        pull_request=bot_facts(bot_login=""),
    )
    assert decision.state is DecisionState.INVALID
    ok = decide_access(
        [access_policy()],
        requests=[request()],
        pull_request=access_facts(reviews=approvals("alice")),
    )
    assert ok.state is DecisionState.APPROVED, ok.reasons


def test_an_agent_the_base_no_longer_lists_is_invalid_though_vouched() -> None:
    """Asking was allowed; revoking the agent in spec.agents must still stop the grant."""
    for entries in ((), (AgentEntry("ci", "deployer", "prod-us-1"),),
                    (AgentEntry("ci", "deployer", "prod-eu-1", ("orders/*",)),)):  # fmt: skip
        decision = decide_access(
            [access_policy()],
            requests=[request(requester=AGENT)],
            pull_request=bot_facts(),
            environments=listing(*entries),
        )
        assert decision.state is DecisionState.INVALID, entries
        assert any("spec.agents" in r for r in decision.reasons), decision.reasons
