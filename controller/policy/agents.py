"""May this agent ask for access to this secret here? (``spec.agents`` of the environment)

Only the question of asking: whether the request is then approved is the approval
policies' business, as for a person's request. Pure: the caller has already had the
agent's token vouched for by its cluster.
"""

from __future__ import annotations

from controller.model import Environment
from controller.policy.globs import secret_glob_matches


def agent_allowed(
    environment: Environment, namespace: str, name: str, cluster: str, secret: str
) -> str | None:
    """None when ServiceAccount ``namespace/name`` of ``cluster`` may ask for ``secret``
    (``<namespace>/<name>``) in ``environment``; otherwise the reason, naming the file, the
    field and the fix. A ServiceAccount of the same name in another cluster is another agent.
    """
    where = environment.source or f"environments/{environment.name}.yaml"
    requester = f"system:serviceaccount:{namespace}:{name}@{cluster}"
    for position, entry in enumerate(environment.agents):
        if (entry.namespace, entry.name, entry.cluster) != (namespace, name, cluster):
            continue
        if entry.secrets is None or any(secret_glob_matches(g, secret) for g in entry.secrets):
            return None
        return (
            f"{where}: spec.agents[{position}].secrets: {requester} may not ask for {secret} "
            f"in environment {environment.name}: a governance change must add a glob "
            f"covering {secret} to that entry"
        )
    return (
        f"{where}: spec.agents: {requester} may not ask for access in environment "
        f"{environment.name}: a governance change must add {{serviceAccount: "
        f"{namespace}/{name}, cluster: {cluster}}} to spec.agents"
    )
