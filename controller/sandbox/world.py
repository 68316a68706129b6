"""The sandbox world: loopback GitHub and Kubernetes servers seeded like a small company.

``build_world(workdir)`` starts the servers and seeds them: organisation ``acme`` with a
developer (``dev1``), two SREs (``alice``, ``bob`` in ``acme/sre``), a security engineer
(``carol`` in ``acme/security``) and a platform lead (``lead`` in ``acme/platform-leads``);
a GitHub App registered with a freshly generated RSA key; the requests repository
``acme/secret-requests`` holding the example ``policies/`` and environments ``production``
and ``staging`` whose sealing keys come from a fresh keyring; one loopback cluster per
environment with a ``payments-api`` Deployment reading Secret ``payments/stripe`` through
``envFrom``; a ServiceAccount ``payments/release-agent`` in each cluster that the
environments' ``spec.agents`` let ask for ``payments/*`` (an agent, with a token file under
``workdir/agent/``), a policy judging access requests (``sandbox-access``); and the
configuration file ``sealgate run`` needs to act on all of it.

Everything lives under ``workdir``; nothing outside it is read or written except the
repository's own ``policies/`` and ``examples/environments/``.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from controller.keyring import KEK_FILE_NAME, Keyring, LocalKekFile
from controller.paths import data_dir
from controller.sandbox.agent import (
    ACCESS_POLICY,
    AGENT_AUDIENCE,
    AGENT_NAME,
    AGENT_NAMESPACE,
    AGENT_TOKEN_S,
    agent_entry,
    service_account,
)
from controller.sandbox.github_server import GitHubApiServer
from controller.sandbox.github_server.latency import Latency
from controller.sandbox.kube_server import KubeApiServer
from controller.sandbox.world_agents import (
    AGENT_CLUSTER,
    AUDIENCE,
    agent_environment,
    agent_policies,
    seed_agents,
)

OWNER = "acme"
REPO = "secret-requests"
REPOSITORY = f"{OWNER}/{REPO}"
APP_ID = 12345
INSTALLATION_ID = 6789
APP_SLUG = "sealgate"
BOT = f"{APP_SLUG}[bot]"

DEVELOPER = "dev1"
SRES = ("alice", "bob")
SECURITY = "carol"
LEAD = "lead"
PEOPLE = (DEVELOPER, *SRES, SECURITY, LEAD)
TEAMS: dict[str, tuple[str, ...]] = {
    "sre": SRES,
    "security": (SECURITY,),
    "platform-leads": (LEAD,),
    # The example policies also name these: the developer may approve staging changes of
    # others and break glass for on-call credentials.
    "developers": (DEVELOPER,),
    "oncall": (DEVELOPER,),
}

CLUSTERS = {"production": "prod-eu-1", "staging": "staging-1"}
"""Environment → the one loopback cluster standing for it."""
NAMESPACE = "payments"
DEPLOYMENT = "payments-api"
SECRET_NAME = "stripe"  # noqa: S105 - a Secret's name, not a password
SECRET = f"{NAMESPACE}/{SECRET_NAME}"


def free_port() -> int:
    """A port free on 127.0.0.1 right now, for a child process that must be told its port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _write_private(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)
    return path


def deployment(name: str, namespace: str, secret_name: str) -> dict[str, Any]:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "containers": [
                        {
                            "name": "api",
                            "image": "registry.acme.example/payments-api:1.4.2",
                            "envFrom": [{"secretRef": {"name": secret_name}}],
                        }
                    ]
                },
            },
        },
    }


def environment_document(name: str, public_key: str, key_id: str) -> bytes:
    """The example environment with its sealing key replaced by the sandbox's fresh one."""
    try:
        example = data_dir("examples") / "environments" / f"{name}.yaml"
        document = yaml.safe_load(example.read_text())
    except (FileNotFoundError, OSError):
        # An installed wheel ships no examples/: the same document without its prose.
        document = {
            "apiVersion": "sealgate.dev/v1",
            "kind": "Environment",
            "metadata": {"name": name},
            "spec": {"defaultTier": "sensitive", "unmatched": "deny", "namespaces": ["*"]},
        }
    document["spec"]["sealingKeys"] = [{"id": key_id, "publicKey": public_key}]
    document["spec"]["clusters"] = [CLUSTERS[name]]
    document["spec"]["agents"] = [agent_entry(CLUSTERS[name])]
    agent_environment(document["spec"], name)
    header = (
        f"# {name}: sealing keys generated by `sealgate sandbox` (the private halves are in\n"
        "# the controller's keyring only).\n"
    )
    return (header + yaml.safe_dump(document, sort_keys=False)).encode()


def policy_files() -> dict[str, bytes]:
    directory = data_dir("policies")
    files = {f"policies/{p.name}": p.read_bytes() for p in sorted(directory.glob("*.yaml"))}
    return {**agent_policies(files), "policies/sandbox-access.yaml": ACCESS_POLICY}


@dataclass
class World:
    """Handles on everything ``build_world`` started and wrote."""

    workdir: Path
    github: GitHubApiServer
    clusters: dict[str, KubeApiServer]
    """Cluster name → its loopback API server."""
    tokens: dict[str, str]
    """Login → personal access token (the people act with these)."""
    kubeconfig: Path
    config: Path
    store: Path
    keys: Path
    environment_files: dict[str, bytes]
    """``environments/<env>.yaml`` as seeded (developers seal against these)."""
    listen_port: int
    webhook_secret: str = field(repr=False)
    agent_tokens: dict[str, Path] = field(default_factory=dict)
    """ServiceAccount name (namespace ``agents``) → the file holding its token."""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def controller_url(self) -> str:
        return f"http://127.0.0.1:{self.listen_port}"

    @property
    def tokens_file(self) -> Path:
        return self.workdir / "github" / "tokens.json"

    @property
    def kek_file(self) -> Path:
        return self.keys / KEK_FILE_NAME

    def cluster_for(self, environment: str) -> KubeApiServer:
        return self.clusters[CLUSTERS[environment]]

    def agent_token_file(self, environment: str = "production") -> Path:
        return self.workdir / "agent" / f"{environment}-token"

    def write_agent_token(self, environment: str = "production") -> Path:
        """A fresh token of the sandbox's agent in ``environment``'s cluster, written
        where :meth:`agent_token_file` says (as a kubelet rotates a projected token)."""
        token = self.cluster_for(environment).issue_token(
            AGENT_NAMESPACE, AGENT_NAME, AGENT_AUDIENCE, AGENT_TOKEN_S
        )
        return _write_private(self.agent_token_file(environment), token.encode())

    def kubectl_hint(self) -> str:
        return f"kubectl --kubeconfig {self.kubeconfig} get secrets,deployments -A"

    def stop(self) -> None:
        self.github.stop()
        for server in self.clusters.values():
            server.stop()


def _app_key(workdir: Path) -> tuple[Path, bytes]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return _write_private(workdir / "github" / "app-private-key.pem", pem), public


def config_document(
    world_paths: dict[str, Path],
    *,
    github_url: str,
    listen_port: int,
    poll_interval: str = "60s",
    drift_interval: str = "5m",
    rollout_timeout: str = "60s",
    cluster_timeout: str | None = None,
    smtp: tuple[str, int] | None = None,
    grant_interval: str = "1s",
) -> dict[str, Any]:
    """The controller configuration (``apiVersion sealgate.dev/v1``, ``ControllerConfig``)."""
    notify: dict[str, Any] = {"approverEmails": {p: f"{p}@acme.example" for p in PEOPLE}}
    if smtp is not None:
        host, port = smtp
        notify["smtp"] = {
            "host": host,
            "port": port,
            "starttls": False,
            "sender": "sealgate@acme.example",
        }
    return {
        "apiVersion": "sealgate.dev/v1",
        "kind": "ControllerConfig",
        "github": {
            "baseUrl": github_url,
            "repository": REPOSITORY,
            "mergeMethod": "squash",
            "app": {
                "appId": APP_ID,
                "installationId": INSTALLATION_ID,
                "slug": APP_SLUG,
                "privateKey": {"fromFile": str(world_paths["app_key"])},
            },
            "webhookSecret": {"fromFile": str(world_paths["webhook_secret"])},
        },
        "store": {"path": str(world_paths["store"])},
        "keys": {
            "dir": str(world_paths["keys"]),
            "kek": {"provider": "local", "file": str(world_paths["keys"] / KEK_FILE_NAME)},
        },
        "clusters": [
            {
                "name": name,
                "kubeconfig": str(world_paths["kubeconfig"]),
                "context": name,
                **({"requestTimeout": cluster_timeout} if cluster_timeout else {}),
            }
            for name in CLUSTERS.values()
        ],
        "reconcile": {
            "workers": 4,
            "pollInterval": poll_interval,
            "driftInterval": drift_interval,
            "rolloutTimeout": rollout_timeout,
            "rollbackOnFailure": True,
        },
        "leaderElection": {"enabled": False},
        "server": {"listen": f"127.0.0.1:{listen_port}"},
        "notify": notify,
        "logging": {"format": "json", "level": "info"},
        # The sandbox shows every delivery, `sealgate open` and the agents API included.
        "api": {"open": {"enabled": True}, "agents": {"enabled": True, "audience": AUDIENCE}},
        # Kubernetes access ends within one interval of a revocation: short, so the story's
        # "and now kubectl says no" follows the revocation closely.
        "grants": {"interval": grant_interval},
    }


def build_world(
    workdir: Path,
    *,
    rollout_seconds: float = 0.3,
    poll_interval: str = "60s",
    drift_interval: str = "5m",
    cluster_timeout: str | None = None,
    smtp: tuple[str, int] | None = None,
    github_latency: float = 0.0,
) -> World:
    """Start and seed the servers under ``workdir`` and write the controller's config.

    ``poll_interval`` and ``drift_interval`` are the controller's (durations such as ``2s``);
    ``cluster_timeout`` bounds one Kubernetes request; ``smtp`` is a mail relay
    ``(host, port)`` for the policies' email notifications. ``github_latency`` (seconds)
    delays every answer of the loopback GitHub, with a tenth of it as jitter: the round
    trip to api.github.com.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    github = GitHubApiServer(
        workdir / "github" / "repositories",
        latency=Latency(github_latency, github_latency / 10),
    )
    clusters = {name: KubeApiServer(rollout_seconds=rollout_seconds) for name in CLUSTERS.values()}
    try:
        config = {
            "poll_interval": poll_interval,
            "drift_interval": drift_interval,
            "cluster_timeout": cluster_timeout,
            "smtp": smtp,
        }
        return _seed(workdir, github, clusters, config)
    except BaseException:
        github.stop()
        for server in clusters.values():
            server.stop()
        raise


def _seed(
    workdir: Path,
    github: GitHubApiServer,
    clusters: dict[str, KubeApiServer],
    config_options: dict[str, Any],
) -> World:
    github_url = github.start()
    tokens = {login: github.add_user(login) for login in PEOPLE}
    # Loopback-only personal tokens, so a script can act as one of the people.
    _write_private(workdir / "github" / "tokens.json", json.dumps(tokens, indent=2).encode())
    github.add_org(OWNER)
    for slug, members in TEAMS.items():
        github.add_team(OWNER, slug, members)

    # Fresh sealing keys: the environments in the repository carry their public halves.
    keys = workdir / "keys"
    kek = LocalKekFile(keys / KEK_FILE_NAME, create=True)
    keyring = Keyring(keys, kek)
    environment_files: dict[str, bytes] = {}
    for environment in CLUSTERS:
        info = keyring.init(environment)
        environment_files[f"environments/{environment}.yaml"] = environment_document(
            environment, info.public_key, info.key_id
        )
    readme = (
        b"# secret-requests\n\nPropose sealed secret changes under changes/<environment>/; "
        b"sealgate checks the reviews against policies/ and applies approved changes.\n"
    )
    github.create_repo(
        OWNER,
        REPO,
        {"README.md": readme, **policy_files(), **environment_files},
        author=LEAD,
    )
    for login in PEOPLE:
        github.add_collaborator(OWNER, REPO, login, "admin" if login == LEAD else "write")

    app_key, public_pem = _app_key(workdir)
    github.register_app(APP_ID, APP_SLUG, public_pem, installation_id=INSTALLATION_ID, owner=OWNER)
    webhook_secret = secrets.token_urlsafe(32)
    secret_file = _write_private(workdir / "github" / "webhook-secret", webhook_secret.encode())
    listen_port = free_port()
    github.set_webhook(f"http://127.0.0.1:{listen_port}/webhooks", webhook_secret)

    kubeconfig = workdir / "kubeconfig"
    for name, server in clusters.items():
        server.start()
        server.write_kubeconfig(kubeconfig, context=name, namespace=NAMESPACE)
        for namespace in ("sealgate", NAMESPACE):
            server.create_namespace(namespace)
        server.put(deployment(DEPLOYMENT, NAMESPACE, SECRET_NAME))
        server.put(service_account(AGENT_NAMESPACE, AGENT_NAME))
    agent_tokens = seed_agents(clusters[AGENT_CLUSTER], workdir / "agents")

    paths = {
        "app_key": app_key,
        "webhook_secret": secret_file,
        "store": workdir / "store",
        "keys": keys,
        "kubeconfig": kubeconfig,
    }
    config = workdir / "sealgate.yaml"
    document = config_document(
        paths, github_url=github_url, listen_port=listen_port, **config_options
    )
    config.write_text(yaml.safe_dump(document, sort_keys=False))
    world = World(
        workdir=workdir,
        github=github,
        clusters=clusters,
        tokens=tokens,
        kubeconfig=kubeconfig,
        config=config,
        store=paths["store"],
        keys=keys,
        environment_files=environment_files,
        listen_port=listen_port,
        webhook_secret=webhook_secret,
        agent_tokens=agent_tokens,
    )
    for environment in CLUSTERS:
        world.write_agent_token(environment)
    return world
