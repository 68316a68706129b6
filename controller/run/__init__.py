"""The long-running controller behind ``sealgate run``.

- :mod:`~controller.run.wiring` builds every part from the configuration;
- :mod:`~controller.run.runner` runs the loops: a de-duplicating work queue
  (:mod:`~controller.run.workqueue`) fed by webhooks and polls, workers, drift and expiry
  timers, gated by leadership;
- :mod:`~controller.run.metrics` exports Prometheus metrics and observes the reconciler;
- :mod:`~controller.run.checksum_key` keeps the pod-template checksum key stable across
  replicas and restarts;
- :mod:`~controller.run.main` handles signals and the shutdown order.
"""

from controller.run.main import LISTENING_PREFIX, main
from controller.run.metrics import Metrics
from controller.run.runner import Reconciling, Runner, Schedule
from controller.run.workqueue import WorkQueue

__all__ = [
    "LISTENING_PREFIX",
    "Metrics",
    "Reconciling",
    "Runner",
    "Schedule",
    "WorkQueue",
    "main",
]
