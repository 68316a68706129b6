"""The sandbox world tuned for measuring and testing the agents API.

``no_approval_needed`` makes one environment approve what no policy covers and leaves no
policy covering it, so an agent's request there is granted at once (``autoApproved``). The
rules are pushed straight to the default branch: call it before the controller first starts,
which then trusts them on first use.
"""

from __future__ import annotations

import yaml

from controller.sandbox.world import LEAD, OWNER, REPO, World


def no_approval_needed(world: World, environment: str = "staging") -> None:
    path = f"environments/{environment}.yaml"
    document = yaml.safe_load(world.environment_files[path])
    document["spec"]["unmatched"] = "allow"
    files: dict[str, bytes | None] = {path: yaml.safe_dump(document, sort_keys=False).encode()}
    if environment == "staging":
        # The sandbox's access policy judges staging only: without it, and without the
        # staging change policy, nothing covers a staging secret and unmatched allows it.
        files["policies/sandbox-access.yaml"] = None
        files["policies/staging-single-approval.yaml"] = None
    world.github.push(
        OWNER, REPO, "main", files, message=f"{environment} needs no approval", author=LEAD
    )


def many_agent_calls(world: World) -> None:
    """Raise the agents API's rate limits: a test or a benchmark is one very busy agent."""
    config = yaml.safe_load(world.config.read_text())
    config["api"]["agents"].update(ratePerMinute=10000, addressRatePerMinute=100000)
    world.config.write_text(yaml.safe_dump(config, sort_keys=False))
