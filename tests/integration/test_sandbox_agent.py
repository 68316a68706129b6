"""The sandbox's agent: its token is one its cluster vouches for, with the audience the
controller's configuration names, and the environments let it ask for ``payments/*``.
``sealgate sandbox --serve`` prints where the token is (``AGENT_TOKEN_FILE=``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from rich.console import Console

from controller.cli.sandbox import _serve
from controller.config.load import load_config
from controller.documents.parse import parse_environment, parse_policy
from controller.kube import ClusterConfig, connect
from controller.kube.tokens import review_token
from controller.model import Action
from controller.policy.agents import agent_allowed
from controller.sandbox.agent import AGENT_AUDIENCE, AGENT_NAME, AGENT_NAMESPACE
from controller.sandbox.world import CLUSTERS, SECRET, World, build_world, policy_files
from controller.sandbox.world_agents import AGENT


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    built = build_world(tmp_path_factory.mktemp("sandbox"))
    try:
        yield built
    finally:
        built.stop()


@pytest.mark.parametrize("environment", sorted(CLUSTERS))
def test_the_agents_token_is_vouched_for_by_its_cluster(world: World, environment: str) -> None:
    load_config(world.config)  # valid against the configuration schema
    agents = yaml.safe_load(world.config.read_text())["api"]["agents"]
    assert agents == {"enabled": True, "audience": AGENT_AUDIENCE}
    cluster = CLUSTERS[environment]
    api = connect(ClusterConfig(cluster, kubeconfig=world.kubeconfig, context=cluster))
    try:
        token = world.agent_token_file(environment).read_text()
        identity = review_token(api, token, AGENT_AUDIENCE)
    finally:
        api.close()
    assert identity.requester == (f"system:serviceaccount:{AGENT_NAMESPACE}:{AGENT_NAME}@{cluster}")
    assert world.agent_token_file(environment).stat().st_mode & 0o077 == 0


@pytest.mark.parametrize("environment", sorted(CLUSTERS))
def test_the_environments_let_the_agent_ask_for_payments(world: World, environment: str) -> None:
    source = f"environments/{environment}.yaml"
    parsed = parse_environment(source, world.environment_files[source])
    cluster = CLUSTERS[environment]
    assert agent_allowed(parsed, AGENT_NAMESPACE, AGENT_NAME, cluster, SECRET) is None
    assert agent_allowed(parsed, AGENT_NAMESPACE, AGENT_NAME, cluster, "web/session") is not None
    other = next(c for c in CLUSTERS.values() if c != cluster)
    assert agent_allowed(parsed, AGENT_NAMESPACE, AGENT_NAME, other, SECRET) is not None


def test_a_policy_judges_access_requests() -> None:
    data = policy_files()["policies/sandbox-access.yaml"]
    policy = parse_policy("policies/sandbox-access.yaml", data)
    assert Action.ACCESS in policy.actions
    assert Action.CHANGE not in policy.actions


class _Stopped:
    alive = False


def test_serve_prints_the_agents_token_file(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    _serve(Console(file=None), world, _Stopped())  # type: ignore[arg-type]
    lines = capsys.readouterr().out.splitlines()
    (line,) = [x for x in lines if x.startswith("AGENT_TOKEN_FILE=")]
    path = Path(line.removeprefix("AGENT_TOKEN_FILE="))
    # The story's agent: production lets it ask (spec.agents), a standard secret at once.
    assert path == world.agent_tokens[AGENT]
    assert path.read_text().startswith("eyJ")
