"""The controller's configuration: one YAML file, validated by ``schemas/config.schema.json``.

:func:`load_config` reads and checks it (every problem as ``file:line: field: message with
the fix``) and returns a typed :class:`ControllerConfig`. Secrets are never written in the
file: each names an environment variable (``fromEnv``) or a file (``fromFile``), and the
variables in :data:`ENV_OVERRIDES` win over both.
"""

from controller.config.api import AgentsApiSettings, ApiSettings, OpenApiSettings
from controller.config.load import (
    ENV_OVERRIDES,
    ConfigError,
    load_config,
    parse_duration,
)
from controller.config.model import (
    ClusterSettings,
    ControllerConfig,
    GitHubApp,
    GitHubSettings,
    GrantSettings,
    KeySettings,
    LeaderElectionSettings,
    LoggingSettings,
    NotifySettings,
    ReconcileSettings,
    SecretText,
    ServerSettings,
    SmtpConfig,
    StoreSettings,
)

__all__ = [
    "ENV_OVERRIDES",
    "AgentsApiSettings",
    "ApiSettings",
    "ClusterSettings",
    "ConfigError",
    "ControllerConfig",
    "GitHubApp",
    "GitHubSettings",
    "GrantSettings",
    "KeySettings",
    "LeaderElectionSettings",
    "LoggingSettings",
    "NotifySettings",
    "OpenApiSettings",
    "ReconcileSettings",
    "SecretText",
    "ServerSettings",
    "SmtpConfig",
    "StoreSettings",
    "load_config",
    "parse_duration",
]
