"""The controller's configuration file: schema, defaults, references, secrets, messages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from jsonschema import Draft202012Validator

from controller.config import ConfigError, ControllerConfig, load_config, parse_duration

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "config" / "sealgate.yaml"
PEM = "-----BEGIN RSA PRIVATE KEY-----\nMIIB\n-----END RSA PRIVATE KEY-----\n"

MINIMAL = """\
apiVersion: sealgate.dev/v1
kind: ControllerConfig
github:
  repository: acme/requests
  token: {fromEnv: GH_TOKEN}
  webhookSecret: {fromEnv: HOOK_SECRET}
store:
  path: store
keys:
  dir: keys
clusters:
  - name: local
    kubeconfig: kube/config
"""
ENV = {"GH_TOKEN": "tok-123", "HOOK_SECRET": "hook-456"}


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "sealgate.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def problems(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text), ENV if env is None else env)
    return [str(p) for p in caught.value.problems]


def test_schema_is_valid_and_accepts_the_example() -> None:
    schema = json.loads((ROOT / "schemas" / "config.schema.json").read_text())
    Draft202012Validator.check_schema(schema)
    Draft202012Validator(schema).validate(yaml.safe_load(EXAMPLE.read_text()))


def test_example_loads(tmp_path: Path) -> None:
    env = {
        "SEALGATE_GITHUB_APP_PRIVATE_KEY": PEM,
        "SEALGATE_WEBHOOK_SECRET": "hook",
        "SMTP_PASSWORD": "mail-pass",
        "SEALGATE_POD_NAME": "sealgate-0",
    }
    channels = ["sre-approvals", "security-approvals", "platform-leads", "incident-response"]
    for channel in [*channels, "staging-secrets"]:
        env["SLACK_" + channel.upper().replace("-", "_")] = f"https://hooks.slack.test/{channel}"
    config = load_config(EXAMPLE, env)
    assert config.github.app is not None
    assert config.github.app.private_key.reveal() == PEM
    assert config.github.token is None
    assert config.github.merge_method == "squash"
    assert [c.name for c in config.clusters] == ["prod-eu", "prod-us"]
    assert config.clusters[0].in_cluster
    assert config.leader_election.enabled
    assert config.leader_election.identity == "sealgate-0"
    assert config.reconcile.poll_interval_s == 60
    assert config.reconcile.drift_interval_s == 300
    assert config.notify.smtp is not None
    assert config.notify.smtp.password is not None
    assert config.notify.smtp.password.reveal() == "mail-pass"
    assert config.notify.approver_emails["alice"] == "alice@example.com"
    webhook = config.notify.slack_webhooks["#sre-approvals"]
    assert webhook.reveal() == "https://hooks.slack.test/sre-approvals"
    assert config.logging.format == "json"
    assert config.server.port == 8080


def test_minimal_file_gets_defaults_and_paths_relative_to_the_file(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, MINIMAL), ENV)
    assert isinstance(config, ControllerConfig)
    assert config.store.path == tmp_path.resolve() / "store"
    assert config.keys.dir == tmp_path.resolve() / "keys"
    assert config.keys.kek_file == tmp_path.resolve() / "keys" / "kek.key"
    assert config.clusters[0].kubeconfig == tmp_path.resolve() / "kube" / "config"
    assert config.github.base_url == "https://api.github.com"
    assert config.github.token is not None
    assert config.github.token.reveal() == "tok-123"
    assert config.reconcile.workers == 4
    assert config.reconcile.rollback_on_failure
    assert not config.leader_election.enabled
    assert config.leader_election.identity  # host name plus a random suffix
    assert config.server.listen == "0.0.0.0:8080"
    assert config.grants.interval_s == 10


def test_grant_interval(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, MINIMAL + "grants:\n  interval: 30s\n"), ENV)
    assert config.grants.interval_s == 30
    found = problems(tmp_path, MINIMAL + "grants:\n  interval: 0s\n")
    assert len(found) == 1
    assert "grants.interval" in found[0]


def test_secrets_never_show_in_repr(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, MINIMAL), ENV)
    text = repr(config)
    assert "tok-123" not in text
    assert "hook-456" not in text
    assert "env GH_TOKEN" in text


def test_secret_from_file_drops_one_newline(tmp_path: Path) -> None:
    (tmp_path / "hook").write_text("from-file\n")
    text = MINIMAL.replace("{fromEnv: HOOK_SECRET}", "{fromFile: hook}")
    config = load_config(write(tmp_path, text), ENV)
    assert config.github.webhook_secret.reveal() == "from-file"


def test_env_overrides_win_over_the_file(tmp_path: Path) -> None:
    env = {**ENV, "SEALGATE_WEBHOOK_SECRET": "override", "SEALGATE_GITHUB_TOKEN": "tok-env"}
    config = load_config(write(tmp_path, MINIMAL), env)
    assert config.github.webhook_secret.reveal() == "override"
    assert config.github.token is not None
    assert config.github.token.reveal() == "tok-env"


def test_token_variable_alone_selects_token_auth(tmp_path: Path) -> None:
    text = MINIMAL.replace("  token: {fromEnv: GH_TOKEN}\n", "")
    config = load_config(write(tmp_path, text), {**ENV, "SEALGATE_GITHUB_TOKEN": "t"})
    assert config.github.token is not None
    assert config.github.app is None


@pytest.mark.parametrize(
    ("text", "unit"), [("60s", 60), ("5m", 300), ("24h", 86400), ("7d", 604800)]
)
def test_durations(text: str, unit: float) -> None:
    assert parse_duration(text) == unit


def test_unknown_field_names_line_and_allowed_fields(tmp_path: Path) -> None:
    found = problems(tmp_path, MINIMAL + "reconcile:\n  worker: 3\n")
    assert found == [
        f"{tmp_path / 'sealgate.yaml'}:15: reconcile.worker: unknown field: allowed here are "
        "driftInterval, expiryInterval, pollInterval, queueSize, rollbackOnFailure, "
        "rolloutTimeout, shutdownTimeout, workers; check the spelling"
    ]


def test_bad_duration_says_how_to_write_one(tmp_path: Path) -> None:
    found = problems(tmp_path, MINIMAL + "reconcile:\n  pollInterval: 1 minute\n")
    assert len(found) == 1
    assert ":15: reconcile.pollInterval: must be a duration" in found[0]
    assert "60s, 5m or 24h" in found[0]


def test_every_schema_problem_is_reported_at_once(tmp_path: Path) -> None:
    text = MINIMAL.replace("acme/requests", "not a repo") + "logging:\n  format: xml\n"
    found = problems(tmp_path, text)
    assert any("github.repository: must be a repository as owner/name" in p for p in found)
    assert any("logging.format: must be one of json, text" in p for p in found)


def test_missing_required_sections(tmp_path: Path) -> None:
    found = problems(tmp_path, "apiVersion: sealgate.dev/v1\nkind: ControllerConfig\n")
    fields = sorted(p.split(": ")[1] for p in found)
    assert fields == ["clusters", "github", "keys", "store"]
    assert all("required field is missing: add it" in p for p in found)


def test_pasted_secret_is_never_quoted(tmp_path: Path) -> None:
    text = MINIMAL.replace("{fromEnv: GH_TOKEN}", "ghp_pastedTokenValue")
    found = problems(tmp_path, text)
    assert found == [
        f"{tmp_path / 'sealgate.yaml'}:5: github.token: must be a mapping, not a string"
    ]
    assert "ghp_" not in "".join(found)


def test_both_app_and_token(tmp_path: Path) -> None:
    text = MINIMAL.replace(
        "  token:",
        "  app: {appId: 1, installationId: 2, slug: sg, privateKey: {fromEnv: KEY}}\n  token:",
    )
    found = problems(tmp_path, text, {**ENV, "KEY": PEM})
    assert found == [
        f"{tmp_path / 'sealgate.yaml'}:3: github: has both app and token: keep exactly one "
        "way to authenticate"
    ]


def test_no_github_auth(tmp_path: Path) -> None:
    found = problems(tmp_path, MINIMAL.replace("  token: {fromEnv: GH_TOKEN}\n", ""))
    assert len(found) == 1
    assert "github: no GitHub authentication: add app" in found[0]


def test_app_key_must_be_pem(tmp_path: Path) -> None:
    text = MINIMAL.replace(
        "  token: {fromEnv: GH_TOKEN}",
        "  app: {appId: 1, installationId: 2, slug: sg, privateKey: {fromEnv: KEY}}",
    )
    found = problems(tmp_path, text, {**ENV, "KEY": "not a key"})
    assert len(found) == 1
    assert "github.app.privateKey: env KEY does not hold a PEM private key" in found[0]
    assert "not a key" not in found[0]


def test_webhook_secret_is_required(tmp_path: Path) -> None:
    found = problems(tmp_path, MINIMAL.replace("  webhookSecret: {fromEnv: HOOK_SECRET}\n", ""))
    assert len(found) == 1
    assert "github.webhookSecret: a webhook secret is required" in found[0]
    assert "SEALGATE_WEBHOOK_SECRET" in found[0]


def test_unset_variable_and_missing_file(tmp_path: Path) -> None:
    text = MINIMAL.replace("{fromEnv: HOOK_SECRET}", "{fromFile: nothing-here}")
    found = problems(tmp_path, text, {})
    assert any(
        ":5: github.token.fromEnv: environment variable GH_TOKEN is not set or empty" in p
        for p in found
    )
    assert any(":6: github.webhookSecret.fromFile: cannot read" in p for p in found)


def test_secret_ref_needs_exactly_one_source(tmp_path: Path) -> None:
    text = MINIMAL.replace("{fromEnv: HOOK_SECRET}", "{fromEnv: A, fromFile: b}")
    found = problems(tmp_path, text)
    assert found == [
        f"{tmp_path / 'sealgate.yaml'}:6: github.webhookSecret: has both fromEnv and "
        "fromFile: keep exactly one of fromEnv or fromFile"
    ]


def test_leader_election_cluster_must_be_configured(tmp_path: Path) -> None:
    found = problems(tmp_path, MINIMAL + "leaderElection:\n  enabled: true\n  cluster: other\n")
    assert found == [
        f"{tmp_path / 'sealgate.yaml'}:16: leaderElection.cluster: cluster other is not "
        "configured: use one of local or add it to clusters"
    ]


def test_leader_election_needs_a_cluster_when_enabled(tmp_path: Path) -> None:
    found = problems(tmp_path, MINIMAL + "leaderElection:\n  enabled: true\n")
    assert len(found) == 1
    assert "leaderElection.cluster: required when enabled" in found[0]


def test_lease_timings_must_be_ordered(tmp_path: Path) -> None:
    text = MINIMAL + "leaderElection:\n  renewDeadline: 20s\n"
    found = problems(tmp_path, text)
    assert len(found) == 1
    assert "retryPeriod < renewDeadline < leaseDuration" in found[0]


def test_duplicate_cluster_and_in_cluster_with_kubeconfig(tmp_path: Path) -> None:
    text = MINIMAL + "  - name: local\n    inCluster: true\n    context: x\n"
    found = problems(tmp_path, text)
    assert any(
        "clusters[1].name: cluster local is already defined at clusters[0]" in p for p in found
    )
    assert any(
        "clusters[1].inCluster: inCluster uses the pod's service account" in p for p in found
    )


def test_smtp_login_needs_password_and_starttls(tmp_path: Path) -> None:
    text = MINIMAL + (
        "notify:\n  smtp:\n    host: mail\n    sender: a@b.c\n    username: u\n"
        "    starttls: false\n"
    )
    found = problems(tmp_path, text)
    assert any("notify.smtp.password: username needs a password" in p for p in found)
    assert any("notify.smtp.starttls: logging in without STARTTLS" in p for p in found)


def test_yaml_rules_of_the_document_loader_apply(tmp_path: Path) -> None:
    found = problems(tmp_path, MINIMAL + "server: &s {listen: '1.2.3.4:1'}\n")
    assert len(found) == 1
    assert "anchors (&name) are not allowed" in found[0]
    found = problems(tmp_path, MINIMAL + "---\n" + MINIMAL)
    assert found == [
        f"{tmp_path / 'sealgate.yaml'}: must hold exactly one YAML document (a ControllerConfig)"
    ]


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path / "absent.yaml", {})
    assert "cannot read the configuration file" in str(caught.value)


def test_smtp_password_variable_is_read_only_for_a_login(tmp_path: Path) -> None:
    env = {**ENV, "SEALGATE_SMTP_PASSWORD": "mail-pass"}
    assert load_config(write(tmp_path, MINIMAL), env).notify.smtp is None
    relay = MINIMAL + "notify:\n  smtp:\n    host: mail\n    sender: a@b.c\n    starttls: false\n"
    smtp = load_config(write(tmp_path, relay), env).notify.smtp
    assert smtp is not None
    assert (smtp.username, smtp.password) == (None, None)
    login = relay.replace("starttls: false", "username: u")
    smtp = load_config(write(tmp_path, login), env).notify.smtp
    assert smtp is not None
    assert smtp.password is not None
    assert smtp.password.reveal() == "mail-pass"


def test_listen_port_must_exist(tmp_path: Path) -> None:
    found = problems(tmp_path, MINIMAL + "server:\n  listen: 127.0.0.1:70000\n")
    assert found == [
        f"{tmp_path / 'sealgate.yaml'}:15: server.listen: port must be at most 65535 "
        "(0 picks a free one)"
    ]


WEBHOOKS = """\
notify:
  slackWebhooks:
    "#sre-approvals": {fromEnv: SLACK_SRE}
  teamsWebhooks:
    Platform on-call: {fromEnv: TEAMS_PLATFORM}
"""


def test_channel_webhooks_are_read_by_reference(tmp_path: Path) -> None:
    env = {**ENV, "SLACK_SRE": "https://hooks.slack.test/T/B/x", "TEAMS_PLATFORM": "https://t"}
    config = load_config(write(tmp_path, MINIMAL + WEBHOOKS), env)
    slack = config.notify.slack_webhooks["#sre-approvals"]
    assert slack.reveal() == "https://hooks.slack.test/T/B/x"
    assert "hooks.slack" not in repr(slack)
    assert config.notify.teams_webhooks["Platform on-call"].reveal() == "https://t"


def test_a_channel_webhook_whose_variable_is_missing_is_named(tmp_path: Path) -> None:
    found = problems(tmp_path, MINIMAL + WEBHOOKS, {**ENV, "TEAMS_PLATFORM": "https://t"})
    assert len(found) == 1
    assert "notify.slackWebhooks.#sre-approvals.fromEnv" in found[0]
    assert "SLACK_SRE is not set" in found[0]
    assert "(or None)" not in found[0]


def test_a_webhook_url_pasted_inline_is_refused_without_echo(tmp_path: Path) -> None:
    pasted = (
        MINIMAL + 'notify:\n  slackWebhooks:\n    "#sre": "https://hooks.slack.test/T/B/secret"\n'
    )
    found = problems(tmp_path, pasted)
    assert found
    assert all("hooks.slack.test" not in problem for problem in found)


def test_judged_branches_default_to_the_default_branch_and_forks_are_refused(
    tmp_path: Path,
) -> None:
    config = load_config(write(tmp_path, MINIMAL), ENV)
    assert config.github.branches == ()
    assert config.github.allow_forks is False
    assert config.github.graphql is True


def test_graphql_can_be_turned_off_and_must_be_a_boolean(tmp_path: Path) -> None:
    off = MINIMAL.replace("  webhookSecret:", "  graphql: false\n  webhookSecret:")
    assert load_config(write(tmp_path, off), ENV).github.graphql is False
    wrong = MINIMAL.replace("  webhookSecret:", "  graphql: sometimes\n  webhookSecret:")
    assert any("github.graphql" in p for p in problems(tmp_path, wrong)), problems(tmp_path, wrong)


def test_judged_branches_and_forks_can_be_configured(tmp_path: Path) -> None:
    text = MINIMAL.replace(
        "  webhookSecret:", "  branches: [main, release]\n  allowForks: true\n  webhookSecret:"
    )
    config = load_config(write(tmp_path, text), ENV)
    assert config.github.branches == ("main", "release")
    assert config.github.allow_forks is True


def test_an_empty_branch_list_is_refused_with_its_field(tmp_path: Path) -> None:
    text = MINIMAL.replace("  webhookSecret:", "  branches: []\n  webhookSecret:")
    assert any("github.branches" in p for p in problems(tmp_path, text)), problems(tmp_path, text)
