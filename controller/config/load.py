"""Read, validate and type the controller's configuration file.

Order of checks, each reporting every problem it finds (file, line, field, fix):

1. the file is read with the same strict YAML loader as every other sealgate document;
2. it is checked against ``schemas/config.schema.json``;
3. references are checked: exactly one GitHub authentication, a webhook secret, the
   leader-election cluster is a configured cluster, cluster names are unique, Lease
   timings are ordered, SMTP credentials come together;
4. secrets are read from the environment variables and files the file names, after the
   ``SEALGATE_*`` overrides (see :data:`ENV_OVERRIDES`), so ``--check`` also catches a
   missing variable or an unreadable key file before anything starts.

Relative paths are taken relative to the configuration file's directory, so a file and the
files it names can move together.
"""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from controller.config.api import api_settings
from controller.config.model import (
    DEFAULT_GITHUB_URL,
    DEFAULT_LISTEN,
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
from controller.config.schema import schema_problems
from controller.documents import MAX_FILE_BYTES, FieldPath, LineMap, render_path
from controller.documents.locations import line_of
from controller.documents.yaml_loader import load_documents
from controller.errors import DocumentError, InputError, Problem
from controller.model import frozen_map

TOKEN_VARIABLE = "SEALGATE_GITHUB_TOKEN"  # noqa: S105 - a variable name, not a token
APP_KEY_VARIABLE = "SEALGATE_GITHUB_APP_PRIVATE_KEY"
WEBHOOK_SECRET_VARIABLE = "SEALGATE_WEBHOOK_SECRET"  # noqa: S105 - a variable name
SMTP_PASSWORD_VARIABLE = "SEALGATE_SMTP_PASSWORD"  # noqa: S105 - a variable name
IDENTITY_VARIABLE = "SEALGATE_POD_NAME"

ENV_OVERRIDES: Mapping[str, str] = {
    TOKEN_VARIABLE: "github.token",
    APP_KEY_VARIABLE: "github.app.privateKey",
    WEBHOOK_SECRET_VARIABLE: "github.webhookSecret",
    SMTP_PASSWORD_VARIABLE: "notify.smtp.password",
    IDENTITY_VARIABLE: "leaderElection.identity",
}
"""Environment variables that win over the file, and the field each replaces."""

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
MAX_SECRET_FILE_BYTES = 64 * 1024


class ConfigError(InputError):
    """The controller's configuration file is unusable; ``problems`` says where and why."""


def parse_duration(text: str) -> float:
    """``60s``, ``5m``, ``24h``, ``7d`` in seconds (the schema checked the form)."""
    return float(int(text[:-1]) * _UNITS[text[-1]])


def load_config(path: Path, environ: Mapping[str, str] | None = None) -> ControllerConfig:
    """The typed configuration in ``path``, or ``ConfigError`` listing every problem."""
    env = os.environ if environ is None else environ
    source = str(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        why = exc.strerror or type(exc).__name__
        raise ConfigError(
            [Problem(source, "", f"cannot read the configuration file: {why}; check --config")]
        ) from exc
    if len(data) > MAX_FILE_BYTES:
        raise ConfigError(
            [Problem(source, "", f"file is over {MAX_FILE_BYTES} bytes: is this the right file?")]
        )
    try:
        documents = load_documents(source, data)
    except DocumentError as exc:
        raise ConfigError(exc.problems) from exc
    if len(documents) != 1:
        raise ConfigError(
            [Problem(source, "", "must hold exactly one YAML document (a ControllerConfig)")]
        )
    document = documents[0]
    problems = schema_problems(source, document.value, document.lines)
    if problems:
        raise ConfigError(problems)
    assert isinstance(document.value, dict)
    builder = _Builder(source, path.resolve().parent, document.value, document.lines, env)
    config = builder.build()
    if builder.problems or config is None:
        raise ConfigError(builder.problems)
    return config


class _Builder:
    """Turns schema-valid data into a ControllerConfig, collecting problems as it goes."""

    def __init__(
        self,
        source: str,
        base: Path,
        doc: dict[str, Any],
        lines: LineMap,
        env: Mapping[str, str],
    ) -> None:
        self.source = source
        self.base = base
        self.doc = doc
        self.lines = lines
        self.env = env
        self.problems: list[Problem] = []

    def problem(self, path: FieldPath, message: str) -> None:
        self.problems.append(
            Problem(self.source, render_path(path), message, line_of(self.lines, path))
        )

    def path(self, text: str) -> Path:
        candidate = Path(text).expanduser()
        return candidate if candidate.is_absolute() else self.base / candidate

    def build(self) -> ControllerConfig | None:
        github = self.github(self.doc["github"])
        clusters = self.clusters(self.doc["clusters"])
        leader = self.leader(self.doc.get("leaderElection", {}), {c.name for c in clusters})
        notify = self.notify(self.doc.get("notify", {}))
        keys = self.doc["keys"]
        kek = keys.get("kek", {})
        key_dir = self.path(keys["dir"])
        store = self.doc["store"]
        server = ServerSettings(listen=self.doc.get("server", {}).get("listen", DEFAULT_LISTEN))
        if server.port > 65535:
            self.problem(("server", "listen"), "port must be at most 65535 (0 picks a free one)")
        if github is None or self.problems:
            return None
        return ControllerConfig(
            source=self.source,
            github=github,
            store=StoreSettings(path=self.path(store["path"]), remote=store.get("remote")),
            keys=KeySettings(
                dir=key_dir,
                kek_file=self.path(kek["file"]) if "file" in kek else key_dir / "kek.key",
                kek_provider=kek.get("provider", "local"),
            ),
            clusters=clusters,
            server=server,
            reconcile=self.reconcile(self.doc.get("reconcile", {})),
            leader_election=leader,
            notify=notify,
            logging=LoggingSettings(**self.doc.get("logging", {})),
            grants=GrantSettings(
                interval_s=parse_duration(self.doc.get("grants", {}).get("interval", "10s"))
            ),
            api=api_settings(self.doc.get("api", {})),
        )

    # ------------------------------------------------------------------ secrets

    def secret(
        self, ref: Mapping[str, str] | None, at: FieldPath, override: str | None = None
    ) -> SecretText | None:
        """The override variable if set, else what ``ref`` names; None when neither is given."""
        if override and self.env.get(override):
            return SecretText(self.env[override], f"env {override}")
        if ref is None:
            return None
        if "fromEnv" in ref:
            name = ref["fromEnv"]
            value = self.env.get(name, "")
            if not value:
                alternative = f" (or {override})" if override else ""
                self.problem(
                    (*at, "fromEnv"),
                    f"environment variable {name} is not set or empty: set it{alternative}",
                )
                return None
            return SecretText(value, f"env {name}")
        file = self.path(ref["fromFile"])
        try:
            with file.open("rb") as handle:
                raw = handle.read(MAX_SECRET_FILE_BYTES + 1)
        except OSError as exc:
            why = exc.strerror or type(exc).__name__
            self.problem((*at, "fromFile"), f"cannot read {file}: {why}; mount or create it")
            return None
        if len(raw) > MAX_SECRET_FILE_BYTES:
            self.problem(
                (*at, "fromFile"), f"{file} is too large for a secret: name the right file"
            )
            return None
        try:
            value = raw.decode("utf-8").removesuffix("\n")
        except UnicodeDecodeError:
            self.problem((*at, "fromFile"), f"{file} is not UTF-8 text: name the right file")
            return None
        if not value.strip():
            self.problem((*at, "fromFile"), f"{file} is empty: put the secret in it")
            return None
        return SecretText(value, f"file {file}")

    # ------------------------------------------------------------------ sections

    def github(self, section: dict[str, Any]) -> GitHubSettings | None:
        at: FieldPath = ("github",)
        webhook = self.secret(
            section.get("webhookSecret"), (*at, "webhookSecret"), WEBHOOK_SECRET_VARIABLE
        )
        if webhook is None and "webhookSecret" not in section:
            self.problem(
                (*at, "webhookSecret"),
                "a webhook secret is required (unsigned webhooks are refused): add "
                f"webhookSecret: {{fromEnv: NAME}} or set {WEBHOOK_SECRET_VARIABLE}",
            )
        app_section = section.get("app")
        token_ref = section.get("token")
        app: GitHubApp | None = None
        token: SecretText | None = None
        if app_section is not None and token_ref is not None:
            self.problem(at, "has both app and token: keep exactly one way to authenticate")
        elif app_section is not None:
            if self.env.get(TOKEN_VARIABLE):
                self.problem(
                    (*at, "app"),
                    f"{TOKEN_VARIABLE} is set but the file chooses a GitHub App: unset the "
                    "variable or remove github.app",
                )
            key = self.secret(
                app_section["privateKey"], (*at, "app", "privateKey"), APP_KEY_VARIABLE
            )
            if key is not None:
                if "PRIVATE KEY-----" not in key.reveal():
                    self.problem(
                        (*at, "app", "privateKey"),
                        f"{key.source} does not hold a PEM private key: use the .pem file "
                        "downloaded from the App's settings",
                    )
                app = GitHubApp(
                    app_id=app_section["appId"],
                    installation_id=app_section["installationId"],
                    slug=app_section["slug"],
                    private_key=key,
                )
        else:
            token = self.secret(token_ref, (*at, "token"), TOKEN_VARIABLE)
            if token is None and token_ref is None:
                self.problem(
                    at,
                    "no GitHub authentication: add app (recommended) or token, or set "
                    f"{TOKEN_VARIABLE}",
                )
        if webhook is None or (app is None and token is None):
            return None
        return GitHubSettings(
            repository=section["repository"],
            webhook_secret=webhook,
            base_url=section.get("baseUrl", DEFAULT_GITHUB_URL),
            merge_method=section.get("mergeMethod", "squash"),
            app=app,
            token=token,
            branches=tuple(section.get("branches", ())),
            allow_forks=bool(section.get("allowForks", False)),
            graphql=bool(section.get("graphql", True)),
        )

    def clusters(self, items: list[dict[str, Any]]) -> tuple[ClusterSettings, ...]:
        seen: dict[str, int] = {}
        clusters: list[ClusterSettings] = []
        for index, item in enumerate(items):
            at: FieldPath = ("clusters", index)
            name = item["name"]
            if name in seen:
                self.problem(
                    (*at, "name"),
                    f"cluster {name} is already defined at clusters[{seen[name]}]: "
                    "give each cluster its own name",
                )
            seen.setdefault(name, index)
            in_cluster = bool(item.get("inCluster", False))
            if in_cluster and ("kubeconfig" in item or "context" in item):
                self.problem(
                    (*at, "inCluster"),
                    "inCluster uses the pod's service account: remove kubeconfig and context, "
                    "or set inCluster: false",
                )
            clusters.append(
                ClusterSettings(
                    name=name,
                    in_cluster=in_cluster,
                    kubeconfig=self.path(item["kubeconfig"]) if "kubeconfig" in item else None,
                    context=item.get("context"),
                    request_timeout_s=parse_duration(item.get("requestTimeout", "30s")),
                )
            )
        return tuple(clusters)

    def reconcile(self, section: dict[str, Any]) -> ReconcileSettings:
        return ReconcileSettings(
            workers=section.get("workers", 4),
            queue_size=section.get("queueSize", 1000),
            poll_interval_s=parse_duration(section.get("pollInterval", "60s")),
            drift_interval_s=parse_duration(section.get("driftInterval", "5m")),
            expiry_interval_s=parse_duration(section.get("expiryInterval", "10m")),
            rollout_timeout_s=parse_duration(section.get("rolloutTimeout", "5m")),
            rollback_on_failure=section.get("rollbackOnFailure", True),
            shutdown_timeout_s=parse_duration(section.get("shutdownTimeout", "30s")),
        )

    def leader(self, section: dict[str, Any], clusters: set[str]) -> LeaderElectionSettings:
        at: FieldPath = ("leaderElection",)
        enabled = bool(section.get("enabled", False))
        cluster = section.get("cluster")
        if enabled and cluster is None:
            self.problem(
                (*at, "cluster"),
                "required when enabled: name the configured cluster that holds the Lease",
            )
        if cluster is not None and cluster not in clusters:
            known = ", ".join(sorted(clusters))
            self.problem(
                (*at, "cluster"),
                f"cluster {cluster} is not configured: use one of {known} or add it to clusters",
            )
        duration = parse_duration(section.get("leaseDuration", "15s"))
        deadline = parse_duration(section.get("renewDeadline", "10s"))
        period = parse_duration(section.get("retryPeriod", "2s"))
        if not period < deadline < duration:
            self.problem(
                at,
                "needs retryPeriod < renewDeadline < leaseDuration (defaults 2s, 10s, 15s): "
                "a leader must give up before another replica may take over",
            )
        identity = self.env.get(IDENTITY_VARIABLE) or section.get("identity") or _identity()
        return LeaderElectionSettings(
            enabled=enabled,
            cluster=cluster,
            namespace=section.get("namespace", "sealgate"),
            lease_name=section.get("leaseName", "sealgate-controller"),
            identity=identity,
            lease_duration_s=duration,
            renew_deadline_s=deadline,
            retry_period_s=period,
        )

    def notify(self, section: dict[str, Any]) -> NotifySettings:
        at: FieldPath = ("notify", "smtp")
        smtp_section = section.get("smtp")
        smtp: SmtpConfig | None = None
        # SEALGATE_SMTP_PASSWORD is only read for a configured login: deployments may
        # provide it before anyone adds notify.smtp or a username.
        if smtp_section is not None:
            username = smtp_section.get("username")
            password = None
            if username is not None or "password" in smtp_section:
                password = self.secret(
                    smtp_section.get("password"), (*at, "password"), SMTP_PASSWORD_VARIABLE
                )
            starttls = smtp_section.get("starttls", True)
            if username is not None and password is None and "password" not in smtp_section:
                self.problem(
                    (*at, "password"),
                    f"username needs a password: add password: {{fromEnv: NAME}} or set "
                    f"{SMTP_PASSWORD_VARIABLE}",
                )
            if username is None and password is not None:
                self.problem((*at, "username"), "a password needs a username: add username")
            if username is not None and not starttls:
                self.problem(
                    (*at, "starttls"),
                    "logging in without STARTTLS would send the password in clear: "
                    "set starttls: true",
                )
            smtp = SmtpConfig(
                host=smtp_section["host"],
                sender=smtp_section["sender"],
                port=smtp_section.get("port", 587),
                username=username,
                password=password,
                starttls=starttls,
                timeout_s=parse_duration(smtp_section.get("timeout", "10s")),
                ca_file=self.path(smtp_section["caFile"]) if "caFile" in smtp_section else None,
            )
        return NotifySettings(
            smtp=smtp,
            approver_emails=frozen_map(section.get("approverEmails", {})),
            slack_webhooks=self.webhooks(section, "slackWebhooks"),
            teams_webhooks=self.webhooks(section, "teamsWebhooks"),
        )

    def webhooks(self, section: dict[str, Any], name: str) -> Mapping[str, SecretText]:
        found: dict[str, SecretText] = {}
        for channel, ref in section.get(name, {}).items():
            url = self.secret(ref, ("notify", name, channel))
            if url is not None:
                found[channel] = url
        return frozen_map(found)


def _identity() -> str:
    # Two processes on one host must not share an identity, or both would think they lead.
    return f"{socket.gethostname()}_{secrets.token_hex(4)}"
