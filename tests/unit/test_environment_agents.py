"""``spec.agents`` of an environment file, and ``agent_allowed`` over it (literal fixtures)."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from controller.documents import parse_environment
from controller.errors import DocumentError
from controller.model import AgentEntry, AgentIdentity, Environment
from controller.policy.agents import agent_allowed
from tests.unit.test_documents import ENVIRONMENT

SOURCE = "environments/production.yaml"


def with_agents(agents: Any) -> bytes:
    doc = copy.deepcopy(ENVIRONMENT)
    doc["spec"]["agents"] = agents
    return yaml.safe_dump(doc, sort_keys=False).encode()


def parsed(agents: Any) -> Environment:
    return parse_environment(SOURCE, with_agents(agents))


def problems_of(agents: Any) -> list[str]:
    with pytest.raises(DocumentError) as caught:
        parsed(agents)
    return [str(p) for p in caught.value.problems]


def test_agents_become_typed_entries() -> None:
    environment = parsed(
        [
            {"serviceAccount": "ci/deployer", "cluster": "prod-eu-1", "secrets": ["payments/*"]},
            {"serviceAccount": "batch/report.runner", "cluster": "prod-us-1"},
        ]
    )
    assert environment.agents == (
        AgentEntry("ci", "deployer", "prod-eu-1", ("payments/*",)),
        AgentEntry("batch", "report.runner", "prod-us-1", None),
    )


def test_no_agents_field_means_no_agent() -> None:
    environment = parse_environment(SOURCE, yaml.safe_dump(ENVIRONMENT).encode())
    assert environment.agents == ()
    reason = agent_allowed(environment, "ci", "deployer", "prod-eu-1", "payments/db")
    assert reason is not None


@pytest.mark.parametrize(
    ("entry", "field"),
    [
        ({"serviceAccount": "deployer", "cluster": "prod-eu-1"}, "spec.agents[0].serviceAccount"),
        (
            {"serviceAccount": "CI/deployer", "cluster": "prod-eu-1"},
            "spec.agents[0].serviceAccount",
        ),
        ({"serviceAccount": "ci/a/b", "cluster": "prod-eu-1"}, "spec.agents[0].serviceAccount"),
        ({"serviceAccount": "ci/deployer"}, "spec.agents[0].cluster"),
        ({"serviceAccount": "ci/deployer", "cluster": "Prod"}, "spec.agents[0].cluster"),
        (
            {"serviceAccount": "ci/deployer", "cluster": "prod-eu-1", "secrets": []},
            "spec.agents[0].secrets",
        ),
        (
            {"serviceAccount": "ci/deployer", "cluster": "prod-eu-1", "secrets": ["Pay/*"]},
            "spec.agents[0].secrets[0]",
        ),
        (
            {"serviceAccount": "ci/deployer", "cluster": "prod-eu-1", "namespace": "ci"},
            "spec.agents[0].namespace",
        ),
    ],
)
def test_malformed_entries_name_file_line_and_field(entry: dict[str, Any], field: str) -> None:
    (problem,) = problems_of([entry])
    assert problem.startswith(f"{SOURCE}:")
    where, _, rest = problem.partition(": ")
    assert where.removeprefix(f"{SOURCE}:").isdigit(), problem
    assert rest.startswith(f"{field}:"), problem


def test_a_service_account_listed_twice_in_one_cluster_is_refused() -> None:
    (problem,) = problems_of(
        [
            {"serviceAccount": "ci/deployer", "cluster": "prod-eu-1", "secrets": ["a/*"]},
            {"serviceAccount": "ci/deployer", "cluster": "prod-us-1"},
            {"serviceAccount": "ci/deployer", "cluster": "prod-eu-1", "secrets": ["b/*"]},
        ]
    )
    assert "spec.agents[2].serviceAccount" in problem
    assert "spec.agents[0]" in problem
    assert "merge" in problem
    assert problem.startswith(f"{SOURCE}:")


ENV = Environment(
    name="production",
    sealing_keys=(),
    source=SOURCE,
    agents=(
        AgentEntry("ci", "deployer", "prod-eu-1", ("payments/*", "web/session-**")),
        AgentEntry("batch", "reports", "prod-us-1", None),
    ),
)


@pytest.mark.parametrize(
    ("namespace", "name", "cluster", "secret"),
    [
        ("ci", "deployer", "prod-eu-1", "payments/db"),
        ("ci", "deployer", "prod-eu-1", "payments/stripe"),
        ("batch", "reports", "prod-us-1", "anything/at-all"),
    ],
)
def test_listed_agents_may_ask_for_what_their_globs_cover(
    namespace: str, name: str, cluster: str, secret: str
) -> None:
    assert agent_allowed(ENV, namespace, name, cluster, secret) is None


def test_an_unlisted_agent_is_told_which_entry_is_missing() -> None:
    reason = agent_allowed(ENV, "ci", "intruder", "prod-eu-1", "payments/db")
    assert reason == (
        f"{SOURCE}: spec.agents: system:serviceaccount:ci:intruder@prod-eu-1 may not ask for "
        "access in environment production: a governance change must add {serviceAccount: "
        "ci/intruder, cluster: prod-eu-1} to spec.agents"
    )


def test_the_same_service_account_in_another_cluster_is_another_agent() -> None:
    reason = agent_allowed(ENV, "ci", "deployer", "prod-us-1", "payments/db")
    assert reason is not None
    assert "@prod-us-1" in reason
    assert "spec.agents:" in reason


def test_a_listed_agent_outside_its_globs_is_refused_naming_its_entry() -> None:
    reason = agent_allowed(ENV, "ci", "deployer", "prod-eu-1", "payments/team/db")
    assert reason is not None
    assert reason.startswith(f"{SOURCE}: spec.agents[0].secrets: ")
    assert "payments/team/db" in reason
    assert "governance change" in reason
    assert agent_allowed(ENV, "ci", "deployer", "prod-eu-1", "web/other") is not None


def test_an_environment_without_a_source_names_its_conventional_file() -> None:
    bare = Environment(name="staging", sealing_keys=())
    reason = agent_allowed(bare, "ci", "deployer", "prod-eu-1", "payments/db")
    assert reason is not None
    assert reason.startswith("environments/staging.yaml: spec.agents: ")


def test_the_requester_string_of_an_identity() -> None:
    identity = AgentIdentity("ci", "deployer", "0f6c", "prod-eu-1")
    assert identity.requester == "system:serviceaccount:ci:deployer@prod-eu-1"
