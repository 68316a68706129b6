"""Build a running controller from a :class:`~controller.config.ControllerConfig`.

Nothing here decides anything: it opens the key directory and the store, connects the
GitHub client (App or token), the clusters and the notifier, hands them to the reconciler,
and puts the HTTP server, the runner's loops and (when enabled) the leader elector around
it. :meth:`Controller.shutdown` takes them down in the safe order.
"""

from __future__ import annotations

import logging
import queue
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime

from controller.config import ControllerConfig
from controller.github import GitHubClient, GitHubGateway, WebhookEvent
from controller.github.failures import github_errors
from controller.github.identity import GitHubIdentities
from controller.github.pushes import PushLedger
from controller.keyring import Keyring, LocalKekFile
from controller.kube import ClusterConfig, KubeTargets, LeaderElector
from controller.notify import ChannelRouter, Notifier, SmtpSettings
from controller.reconciler import Reconciler, ReconcilerSettings
from controller.reconciler.access_open import AccessOpener
from controller.reconciler.agent_requests import AgentRequestFlow
from controller.reconciler.ports import GrantsPort, Observer
from controller.run.agents_wiring import agents_api
from controller.run.checksum_key import checksum_key
from controller.run.metrics import Metrics
from controller.run.preflight import require_startable
from controller.run.runner import Runner, Schedule
from controller.server.access_api import OpenApi
from controller.server.app import ControllerApp, Readiness
from controller.server.http import HttpServer
from controller.server.webhook_app import WebhookApp
from controller.store import Store

log = logging.getLogger("sealgate.run")

GITHUB_CHECK_BACKOFF_S = (1.0, 2.0, 5.0, 10.0, 30.0)


def github_client(config: ControllerConfig) -> GitHubClient:
    settings = config.github
    if settings.app is not None:
        app = settings.app
        return GitHubClient.from_app(
            app.app_id,
            app.private_key.reveal(),
            app.installation_id,
            slug=app.slug,
            base_url=settings.base_url,
        )
    assert settings.token is not None  # the loader guarantees exactly one
    return GitHubClient.from_token(settings.token.reveal(), base_url=settings.base_url)


def notifier(config: ControllerConfig, metrics: Metrics) -> Notifier:
    smtp = config.notify.smtp
    settings = None
    if smtp is not None:
        settings = SmtpSettings(
            host=smtp.host,
            sender=smtp.sender,
            port=smtp.port,
            username=smtp.username,
            password=smtp.password.reveal() if smtp.password is not None else None,
            starttls=smtp.starttls,
            timeout_s=smtp.timeout_s,
            ca_file=str(smtp.ca_file) if smtp.ca_file is not None else None,
        )
    return Notifier(
        smtp=settings,
        approver_emails=dict(config.notify.approver_emails),
        on_outcome=metrics.notification,
    )


@dataclass
class Controller:
    config: ControllerConfig
    metrics: Metrics
    readiness: Readiness
    client: GitHubClient
    store: Store
    targets: KubeTargets
    notifier: Notifier
    reconciler: Reconciler
    runner: Runner
    server: HttpServer
    elector: LeaderElector | None = None
    agents: AgentRequestFlow | None = None
    """The agents' pipeline when ``api.agents`` is enabled."""
    gateway: GitHubGateway | None = None
    """Its read and report worker pools are stopped at shutdown."""
    _stop: threading.Event = field(default_factory=threading.Event)
    _checker: threading.Thread | None = None

    @property
    def url(self) -> str:
        return self.server.url

    def is_active(self) -> bool:
        return self.elector is None or self.elector.is_leader

    def start(self) -> None:
        self.server.start()
        self.runner.start()
        if self.elector is not None:
            self.elector.start()
        self._checker = threading.Thread(
            target=self._check_github, name="github-check", daemon=True
        )
        self._checker.start()

    def _check_github(self) -> None:
        """Readiness: GitHub answered once for the configured repository."""
        repo = self.config.github.repository
        attempt = 0
        while not self._stop.is_set():
            try:
                with github_errors(f"read repository {repo}"):
                    self.client.github.get_repo(repo, lazy=False)
            except Exception as exc:
                wait = GITHUB_CHECK_BACKOFF_S[min(attempt, len(GITHUB_CHECK_BACKOFF_S) - 1)]
                log.warning("GitHub is not reachable yet (%s); trying again in %ss", exc, wait)
                attempt += 1
                self._stop.wait(wait)
                continue
            self.readiness.set(github_reachable=True)
            self.metrics.github_reachable.set(1)
            self.record_rate_limit()
            log.info("GitHub answered for %s", repo)
            if self.agents is not None and self.is_active():
                # Requests recorded before a crash, whose pull request was never opened.
                self.agents.finish_pending()
            return

    def record_rate_limit(self) -> None:
        remaining = self.client.rate_remaining
        if remaining >= 0:
            self.metrics.github_rate_remaining.set(remaining)

    def leadership_changed(self, leading: bool) -> None:
        self.readiness.set(leader=leading)
        self.runner.leadership_changed(leading)

    def shutdown(self) -> bool:
        """Stop accepting, finish in-flight work (bounded), release the Lease, close all.
        True when in-flight work finished in time."""
        self._stop.set()
        log.info("shutting down: no new requests; finishing work in flight")
        self.server.stop()
        finished = self.runner.stop(self.config.reconcile.shutdown_timeout_s)
        if self.elector is not None:
            self.elector.stop(self.config.leader_election.renew_deadline_s)
        delivered = self.notifier.close(timeout=5.0)
        if not delivered:
            log.warning("shutdown: some notifications were not delivered")
        self.targets.close()
        self.store.close()
        if self.gateway is not None:
            self.gateway.close()
        self.client.close()
        log.info("stopped")
        return finished


def open_api(config: ControllerConfig, store: Store, observer: Observer) -> OpenApi | None:
    """``POST /v1/open`` when ``api.open.enabled``, else None (the route does not exist)."""
    settings = config.api.open
    if not settings.enabled:
        return None
    # The store records grants (GrantsPort); typed through the port so this wiring does not
    # depend on the store's concrete class.
    grants: GrantsPort = store
    return OpenApi(
        identities=GitHubIdentities(config.github.base_url, ttl_s=settings.identity_cache_s),
        opener=AccessOpener(grants, store, clock=lambda: datetime.now(UTC), observer=observer),
        rate_per_minute=settings.rate_per_minute,
        address_rate_per_minute=settings.address_rate_per_minute,
        on_refused=observer.access_refused,
    )


def build(config: ControllerConfig) -> Controller:
    """Open and connect everything; raises SealgateError (never half-started: nothing is
    started until :meth:`Controller.start`)."""
    # The same checks as `sealgate run --check`: every problem at once, before anything opens.
    require_startable(config)
    metrics = Metrics()
    readiness = Readiness(config_loaded=True, leader_election=config.leader_election.enabled)
    kek = LocalKekFile(config.keys.kek_file)
    keyring = Keyring(config.keys.dir, kek)
    keyring.key_set()  # unwraps every key now: a wrong KEK fails the start, not a request
    targets = KubeTargets(
        [
            ClusterConfig(
                name=c.name,
                kubeconfig=c.kubeconfig,
                context=c.context,
                in_cluster=c.in_cluster,
                request_timeout_s=c.request_timeout_s,
            )
            for c in config.clusters
        ],
        checksum_key(config.keys.dir, kek),
    )
    store = Store(config.store.path, kek, keyring, remote=config.store.remote)
    # Pushers reported by webhooks are kept next to the store: as durable as what it guards.
    ledger = PushLedger.in_store(config.store.path)
    readiness.set(store_opened=True)
    client = github_client(config)
    app = config.github.app
    gateway = GitHubGateway(
        client,
        branches=config.github.branches,
        allow_forks=config.github.allow_forks,
        ledger=ledger,
        graphql=config.github.graphql,
    )
    reconciler = Reconciler(
        github=gateway,
        store=store,
        targets=targets,
        keys=keyring,
        notifier=ChannelRouter(
            sender := notifier(config, metrics),
            slack={name: url.reveal() for name, url in config.notify.slack_webhooks.items()},
            teams={name: url.reveal() for name, url in config.notify.teams_webhooks.items()},
        ),
        settings=ReconcilerSettings(
            bot_login=f"{app.slug}[bot]" if app is not None else "sealgate",
            merge_method=config.github.merge_method,
            rollout_timeout_s=config.reconcile.rollout_timeout_s,
            rollback_on_failure=config.reconcile.rollback_on_failure,
            # The Lease lives beside the controller: its namespace is the controller's own.
            controller_namespace=config.leader_election.namespace,
        ),
        observer=metrics,
        grants=store,
        access=targets,
    )
    events: queue.Queue[WebhookEvent] = queue.Queue(maxsize=config.reconcile.queue_size)
    holder: list[Controller] = []

    def is_active() -> bool:
        return holder[0].is_active()

    def after_handle() -> None:
        holder[0].record_rate_limit()

    runner = Runner(
        reconciler,
        config.github.repository,
        events,
        metrics,
        Schedule(
            workers=config.reconcile.workers,
            poll_interval_s=config.reconcile.poll_interval_s,
            drift_interval_s=config.reconcile.drift_interval_s,
            expiry_interval_s=config.reconcile.expiry_interval_s,
            grants_interval_s=config.grants.interval_s,
        ),
        is_active=is_active,
        after_handle=after_handle,
    )

    def status(repo: str, number: int) -> dict[str, object] | None:
        found = reconciler.status(repo, number)
        if found is None:
            return None
        # Uses and activation happen through the open endpoint, between passes: the store
        # has them first.
        current = found.with_grants(store.grants()) if found.access else found
        return current.to_json()

    agents = agents_api(
        config,
        client=client,
        gateway=gateway,
        store=store,
        targets=targets,
        reconciler=reconciler,
        observer=metrics,
    )
    server = HttpServer(
        config.server.host,
        config.server.port,
        ControllerApp(
            webhooks=WebhookApp(config.github.webhook_secret.reveal(), events, ledger=ledger),
            readiness=readiness,
            metrics=metrics.render,
            metrics_content_type=metrics.content_type,
            status=status,
            open_api=open_api(config, store, metrics),
            agents_api=agents[0] if agents is not None else None,
        ),
    )
    controller = Controller(
        config=config,
        metrics=metrics,
        readiness=readiness,
        client=client,
        store=store,
        targets=targets,
        notifier=sender,
        reconciler=reconciler,
        runner=runner,
        server=server,
        agents=agents[1] if agents is not None else None,
        gateway=gateway,
    )
    holder.append(controller)
    election = config.leader_election
    if election.enabled:
        assert election.cluster is not None  # the loader guarantees it
        readiness.set(leader=False)
        metrics.leader.set(0)
        controller.elector = targets.leader_elector(
            election.cluster,
            election.namespace,
            election.lease_name,
            election.identity,
            lease_duration_s=election.lease_duration_s,
            renew_deadline_s=election.renew_deadline_s,
            retry_period_s=election.retry_period_s,
            on_started_leading=lambda: controller.leadership_changed(True),
            on_stopped_leading=lambda: controller.leadership_changed(False),
        )
    else:
        metrics.leader.set(1)
    return controller
