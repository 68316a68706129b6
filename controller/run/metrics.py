"""Prometheus metrics on a private registry, and the reconciler's ``Observer`` feeding them.

A private :class:`CollectorRegistry` (not the global one) keeps tests and several controllers
in one process apart, and keeps the process's default collectors out unless added on purpose.
Labels are bounded sets (states, steps, outcomes, cluster and environment names), never pull
request numbers, secret names or values.
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector

from controller.notify import DeliveryOutcome

LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)


class Metrics:
    """Every metric the controller exports. Implements ``controller.reconciler.Observer``."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        registry = CollectorRegistry(auto_describe=True)
        self.registry = registry
        ProcessCollector(registry=registry)
        PlatformCollector(registry=registry)
        self.decisions = Counter(
            "sealgate_decisions", "Decisions made, by result.", ["state"], registry=registry
        )
        self.merges = Counter("sealgate_merges", "Pull requests merged.", registry=registry)
        self.applies = Counter(
            "sealgate_applies", "Changes applied to the store.", ["environment"], registry=registry
        )
        self.syncs = Counter(
            "sealgate_syncs",
            "Secrets synced to a cluster, by outcome.",
            ["cluster", "outcome"],
            registry=registry,
        )
        self.restarts = Counter(
            "sealgate_restarts",
            "Workloads restarted, by rollout outcome.",
            ["cluster", "outcome"],
            registry=registry,
        )
        self.rollbacks = Counter(
            "sealgate_rollbacks",
            "Secrets returned to their previous version after a failed rollout.",
            ["environment"],
            registry=registry,
        )
        self.drift = Counter(
            "sealgate_drift_repaired",
            "Cluster Secrets restored from the store.",
            ["cluster"],
            registry=registry,
        )
        self.failures = Counter(
            "sealgate_failures", "Failed steps, by step.", ["step"], registry=registry
        )
        self.latency_seconds = Histogram(
            "sealgate_step_latency_seconds",
            "Duration of reconciler steps.",
            ["step"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.handled = Counter(
            "sealgate_pull_requests_handled",
            "Reconciler passes over one pull request, by result.",
            ["result"],
            registry=registry,
        )
        self.handle_seconds = Histogram(
            "sealgate_handle_seconds",
            "Duration of one pass over one pull request.",
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.webhook_to_handled_seconds = Histogram(
            "sealgate_webhook_to_handled_seconds",
            "From a webhook's arrival to the end of the pass it caused.",
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.webhooks = Counter(
            "sealgate_webhook_events",
            "Webhook events queued, by kind.",
            ["kind"],
            registry=registry,
        )
        self.polls = Counter(
            "sealgate_polls",
            "Full polls of open pull requests, by result.",
            ["result"],
            registry=registry,
        )
        self.github_rate_remaining = Gauge(
            "sealgate_github_rate_limit_remaining",
            "GitHub requests left in the current rate-limit window, as of the last response.",
            registry=registry,
        )
        self.github_reachable = Gauge(
            "sealgate_github_reachable", "1 once GitHub answered.", registry=registry
        )
        self.queue_depth = Gauge(
            "sealgate_queue_depth", "Pull requests waiting to be handled.", registry=registry
        )
        self.in_flight = Gauge(
            "sealgate_queue_in_flight", "Pull requests being handled.", registry=registry
        )
        self.leader = Gauge(
            "sealgate_leader", "1 while this replica leads (or runs alone).", registry=registry
        )
        self.access_opens = Counter(
            "sealgate_access_opened",
            "Grants' values handed out through open, by environment.",
            ["environment"],
            registry=registry,
        )
        self.access_refusals = Counter(
            "sealgate_access_refused",
            "Refused opens, by reason.",
            ["reason"],
            registry=registry,
        )
        self.notifications = Counter(
            "sealgate_notifications",
            "Notification deliveries, by channel and result.",
            ["channel", "result"],
            registry=registry,
        )

    def track_queue(self, depth: Callable[[], float], in_flight: Callable[[], float]) -> None:
        self.queue_depth.set_function(depth)
        self.in_flight.set_function(in_flight)

    def render(self) -> bytes:
        return generate_latest(self.registry)

    # ------------------------------------------------------------ Observer

    def decision(self, state: str) -> None:
        self.decisions.labels(state).inc()

    def merged(self) -> None:
        self.merges.inc()

    def applied(self, environment: str) -> None:
        self.applies.labels(environment).inc()

    def synced(self, cluster: str, outcome: str) -> None:
        self.syncs.labels(cluster, outcome).inc()

    def workload(self, cluster: str, outcome: str) -> None:
        self.restarts.labels(cluster, outcome).inc()

    def rolled_back(self, environment: str) -> None:
        self.rollbacks.labels(environment).inc()

    def drift_repaired(self, cluster: str, count: int) -> None:
        self.drift.labels(cluster).inc(count)

    def failure(self, step: str) -> None:
        self.failures.labels(step).inc()

    def latency(self, step: str, seconds: float) -> None:
        self.latency_seconds.labels(step).observe(seconds)

    def access_opened(self, environment: str) -> None:
        self.access_opens.labels(environment).inc()

    def access_refused(self, reason: str) -> None:
        self.access_refusals.labels(reason).inc()

    # ------------------------------------------------------------ notifier hook

    def notification(self, outcome: DeliveryOutcome) -> None:
        result = "delivered" if outcome.delivered else "failed"
        self.notifications.labels(outcome.channel.value, result).inc()
