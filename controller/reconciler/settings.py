"""What the reconciler is told by the controller configuration."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from controller.model import frozen_map


@dataclass(frozen=True, slots=True)
class ReconcilerSettings:
    bot_login: str = "sealgate"
    """The actor named in store rollbacks and audit records the controller itself makes."""
    merge_method: str = "squash"
    rollout_timeout_s: float = 300.0
    rollback_on_failure: bool = True
    """False: never roll back, whatever a change's ``onRolloutFailure`` asks."""
    controller_namespace: str = "sealgate"
    """The controller's own namespace: changes may write it only where an environment
    lists it by its exact name."""
    reminder_after: timedelta | None = timedelta(hours=24)
    """Remind approvers of a request pending this long, once per interval; None: never."""
    environment_clusters: Mapping[str, tuple[str, ...]] = field(default_factory=frozen_map)
    """Clusters per environment known before any pull request is read (drift repair after a
    restart). The default branch's ``environments/`` documents (``spec.clusters``) override
    it, as pull requests into it are judged and when ``learn_environments`` reads it; a
    delivery goes to the clusters of the rules that judged it."""
    pull_url: str = "https://github.com/{repo}/pull/{number}"
    """How a notification links to a pull request."""
