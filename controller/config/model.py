"""The controller's configuration as typed, immutable values (see ``schemas/config.schema.json``).

Paths are absolute (relative ones were resolved against the configuration file's directory)
and durations are seconds. Secrets are :class:`SecretText`: their ``repr`` never shows the
value, so a logged or printed configuration leaks nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from controller.config.api import ApiSettings
from controller.model import frozen_map

API_VERSION = "sealgate.dev/v1"
KIND = "ControllerConfig"
DEFAULT_LISTEN = "0.0.0.0:8080"
DEFAULT_GITHUB_URL = "https://api.github.com"


class SecretText:
    """A secret read from the environment or a file. ``reveal()`` is the only way in."""

    __slots__ = ("_value", "source")

    def __init__(self, value: str, source: str) -> None:
        self._value = value
        self.source = source
        """Where it came from (``env SEALGATE_WEBHOOK_SECRET``, ``file /x``), for messages."""

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"SecretText(from {self.source})"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SecretText) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self.source)


@dataclass(frozen=True, slots=True)
class GitHubApp:
    app_id: int
    installation_id: int
    slug: str
    private_key: SecretText


@dataclass(frozen=True, slots=True)
class GitHubSettings:
    repository: str
    webhook_secret: SecretText
    base_url: str = DEFAULT_GITHUB_URL
    merge_method: str = "squash"
    app: GitHubApp | None = None
    token: SecretText | None = None
    """Exactly one of ``app`` and ``token`` is set."""
    branches: tuple[str, ...] = ()
    """Base branches whose pull requests are judged; empty: the default branch only."""
    allow_forks: bool = False
    graphql: bool = True
    """One GraphQL read per decision and one mutation per report (REST when False)."""


@dataclass(frozen=True, slots=True)
class StoreSettings:
    path: Path
    remote: str | None = None


@dataclass(frozen=True, slots=True)
class KeySettings:
    dir: Path
    kek_file: Path
    kek_provider: str = "local"


@dataclass(frozen=True, slots=True)
class ClusterSettings:
    name: str
    in_cluster: bool = False
    kubeconfig: Path | None = None
    context: str | None = None
    request_timeout_s: float = 30.0


@dataclass(frozen=True, slots=True)
class ReconcileSettings:
    workers: int = 4
    queue_size: int = 1000
    poll_interval_s: float = 60.0
    drift_interval_s: float = 300.0
    expiry_interval_s: float = 600.0
    rollout_timeout_s: float = 300.0
    rollback_on_failure: bool = True
    shutdown_timeout_s: float = 30.0


@dataclass(frozen=True, slots=True)
class GrantSettings:
    interval_s: float = 10.0
    """How often the grant loop ends grants and repairs bindings (``grants.interval``)."""


@dataclass(frozen=True, slots=True)
class LeaderElectionSettings:
    enabled: bool = False
    cluster: str | None = None
    namespace: str = "sealgate"
    lease_name: str = "sealgate-controller"
    identity: str = ""
    lease_duration_s: float = 15.0
    renew_deadline_s: float = 10.0
    retry_period_s: float = 2.0


@dataclass(frozen=True, slots=True)
class SmtpConfig:
    host: str
    sender: str
    port: int = 587
    username: str | None = None
    password: SecretText | None = None
    starttls: bool = True
    timeout_s: float = 10.0
    ca_file: Path | None = None


@dataclass(frozen=True, slots=True)
class NotifySettings:
    smtp: SmtpConfig | None = None
    approver_emails: Mapping[str, str] = field(default_factory=frozen_map)
    slack_webhooks: Mapping[str, SecretText] = field(default_factory=frozen_map)
    """Slack channel as policies name it -> its incoming-webhook URL (a credential)."""
    teams_webhooks: Mapping[str, SecretText] = field(default_factory=frozen_map)


@dataclass(frozen=True, slots=True)
class LoggingSettings:
    level: str = "info"
    format: str = "json"


@dataclass(frozen=True, slots=True)
class ServerSettings:
    listen: str = DEFAULT_LISTEN

    @property
    def host(self) -> str:
        host, _, _port = self.listen.rpartition(":")
        return host.strip("[]")

    @property
    def port(self) -> int:
        return int(self.listen.rpartition(":")[2])


@dataclass(frozen=True, slots=True)
class ControllerConfig:
    source: str
    """The file this came from, for messages."""
    github: GitHubSettings
    store: StoreSettings
    keys: KeySettings
    clusters: tuple[ClusterSettings, ...]
    server: ServerSettings = ServerSettings()
    reconcile: ReconcileSettings = ReconcileSettings()
    leader_election: LeaderElectionSettings = LeaderElectionSettings()
    notify: NotifySettings = NotifySettings()
    logging: LoggingSettings = LoggingSettings()
    grants: GrantSettings = GrantSettings()
    api: ApiSettings = field(default_factory=ApiSettings)
