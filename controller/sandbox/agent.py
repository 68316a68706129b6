"""The sandbox's agent: a ServiceAccount the environments let ask for access itself.

``payments/release-agent`` exists in every loopback cluster; each environment's
``spec.agents`` lists it for its own cluster and ``payments/*``; the policy
``sandbox-access`` judges access requests (one SRE approves), so what an agent asks for
becomes a pull request the SREs see.
"""

from __future__ import annotations

from typing import Any

AGENT_NAMESPACE = "payments"
AGENT_NAME = "release-agent"
AGENT_AUDIENCE = "sealgate"
AGENT_TOKEN_S = 24 * 3600
"""Long enough for a sandbox session; a projected token would be rotated hourly."""
ACCESS_POLICY = b"""\
apiVersion: sealgate.dev/v1
kind: ApprovalPolicy
metadata:
  name: sandbox-access
  description: >-
    Access requests (people's and agents') in staging need one SRE who is not the
    requester; an access lasts at most a day. Seeded by `sealgate sandbox` so that its agent
    can ask there (production's access policies are policies/production-access.yaml).
spec:
  environments: [staging]
  secrets: ["**"]
  actions: [access]
  maxDuration: 1d
  approvals:
    required: 1
    teams: [acme/sre]
  allowSelfApproval: false
  expiresAfter: 24h
"""


def agent_entry(cluster: str) -> dict[str, Any]:
    """The ``spec.agents`` entry of an environment whose cluster is ``cluster``."""
    return {
        "serviceAccount": f"{AGENT_NAMESPACE}/{AGENT_NAME}",
        "cluster": cluster,
        "secrets": [f"{AGENT_NAMESPACE}/*"],
    }


def service_account(namespace: str, name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": name, "namespace": namespace},
    }
