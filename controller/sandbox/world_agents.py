"""The sandbox world's agents: ServiceAccounts that ask for access through the API.

Cluster ``prod-eu-1`` holds ServiceAccounts ``agents/payments-bot`` (listed in production's
``spec.agents`` for ``payments/*``) and ``agents/other-bot`` (listed nowhere). Their tokens,
issued for the controller's audience as a projected token volume would be, are written to
files beside the world's other secrets.

Two rules differ from the example ones, so that the story shows both answers an agent can
get: reading a ``standard`` secret needs no approval (production allows unmatched requests,
and ``production-access`` covers sensitive and critical only), and reading a ``critical``
one also needs the security team (``production-critical-access``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from controller.sandbox.kube_server import KubeApiServer

AUDIENCE = "sealgate"
AGENT_NAMESPACE = "agents"
AGENT = "payments-bot"
STRANGER = "other-bot"
AGENT_CLUSTER = "prod-eu-1"
FLAGS = "payments/feature-flags"
"""The standard secret the agent reads at once."""
TOKEN_LIFETIME_S = 24 * 3600
"""Long enough for a ``--serve`` session to keep using the files."""

ACCESS_POLICY = "policies/production-access.yaml"
CRITICAL_ACCESS_POLICY = "policies/production-critical-access.yaml"
CRITICAL_ACCESS = {
    "apiVersion": "sealgate.dev/v1",
    "kind": "ApprovalPolicy",
    "metadata": {
        "name": "production-critical-access",
        "description": (
            "Reading a critical production secret also needs the security team: the SRE "
            "confirms the need, security signs off."
        ),
    },
    "spec": {
        "actions": ["access"],
        "environments": ["production"],
        "secrets": ["**"],
        "tiers": ["critical"],
        "approvals": {"required": 1, "teams": ["acme/security"]},
        "allowSelfApproval": False,
        "invalidateOnPush": True,
        "changesRequestedBlocks": True,
        "enforcement": "hard",
        "expiresAfter": "24h",
        "maxDuration": "8h",
        "autoMerge": True,
    },
}


def requester(name: str) -> str:
    """How the API names ServiceAccount ``agents/<name>`` of the production cluster."""
    return f"system:serviceaccount:{AGENT_NAMESPACE}:{name}@{AGENT_CLUSTER}"


def agent_policies(files: dict[str, bytes]) -> dict[str, bytes]:
    """``files`` (``policies/*.yaml``) with the two sandbox rules applied."""
    out = dict(files)
    access = yaml.safe_load(out[ACCESS_POLICY])
    access["spec"]["tiers"] = ["sensitive", "critical"]
    header = "# The sandbox leaves standard secrets to agents without approval.\n"
    out[ACCESS_POLICY] = (header + yaml.safe_dump(access, sort_keys=False)).encode()
    out[CRITICAL_ACCESS_POLICY] = yaml.safe_dump(CRITICAL_ACCESS, sort_keys=False).encode()
    return out


def agent_environment(spec: dict[str, Any], environment: str) -> None:
    """Let the payments agent ask in production (``spec`` is changed in place)."""
    if environment != "production":
        return
    # No policy covers reading a standard secret: allowed, so the agent gets it at once.
    spec["unmatched"] = "allow"
    spec.setdefault("agents", []).append(
        {
            "serviceAccount": f"{AGENT_NAMESPACE}/{AGENT}",
            "cluster": AGENT_CLUSTER,
            "secrets": ["payments/*"],
        }
    )


def seed_agents(server: KubeApiServer, directory: Path) -> dict[str, Path]:
    """Create both ServiceAccounts; their tokens' files, by ServiceAccount name."""
    server.create_namespace(AGENT_NAMESPACE)
    files: dict[str, Path] = {}
    directory.mkdir(parents=True, exist_ok=True)
    for name in (AGENT, STRANGER):
        server.put(
            {
                "apiVersion": "v1",
                "kind": "ServiceAccount",
                "metadata": {"name": name, "namespace": AGENT_NAMESPACE},
            }
        )
        token = server.issue_token(AGENT_NAMESPACE, name, AUDIENCE, TOKEN_LIFETIME_S)
        path = directory / f"{name}.token"
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(token)
        files[name] = path
    return files
