"""``sealgate run --check --online``: what only reaching GitHub and the clusters shows.

- GitHub: the App or token authenticates and sees the repository and its judged branches;
  the rules at the default branch parse.
- Keys: every sealing key an environment lists is in the key directory, active, with the
  same public key (a value sealed to a key the controller lacks can never be opened).
- Clusters: each environment's clusters are configured; every configured cluster answers,
  the namespaces sealgate writes exist and its credentials may write there
  (``controller.kube.access``); the leader Lease can be held.

Whatever could not be checked is said as a ``note``.
"""

from __future__ import annotations

from collections.abc import Iterator

from controller.config import ControllerConfig
from controller.documents.rules import Rules, parse_rules
from controller.errors import DocumentError, SealgateError
from controller.github import GitHubGateway
from controller.github.failures import github_errors
from controller.keyring import Keyring, KeyStatus, LocalKekFile
from controller.kube import ClusterConfig
from controller.kube.access import probe_cluster
from controller.run.preflight import Finding
from controller.run.wiring import github_client


def online_checks(config: ControllerConfig) -> list[Finding]:
    findings: list[Finding] = []
    rules = _github(config, findings)
    if rules is None:
        findings.append(
            Finding(
                "github.repository",
                "the rules could not be read: sealing key ids, environment clusters and "
                "namespaces were not checked",
                "note",
            )
        )
    else:
        findings.extend(_keys(config, rules))
        findings.extend(_environment_clusters(config, rules))
    findings.extend(_clusters(config, rules))
    return findings


def _github(config: ControllerConfig, findings: list[Finding]) -> Rules | None:
    settings = config.github
    setting = "github.app" if settings.app is not None else "github.token"
    try:
        client = github_client(config)
    except SealgateError as exc:
        findings.append(Finding(setting, str(exc)))
        return None
    try:
        try:
            with github_errors(f"read repository {settings.repository}"):
                repo = client.repo(settings.repository)
                repo.default_branch  # noqa: B018 - the read that proves access
        except SealgateError as exc:
            findings.append(
                Finding(
                    setting,
                    f"{exc}: check baseUrl ({settings.base_url}) and the network, the "
                    f"credentials, and that {settings.repository} exists and they may read it",
                )
            )
            return None
        findings.append(
            Finding(
                setting,
                "authenticated and the repository is visible; its permissions (merging, check "
                "runs, comments and labels need write access) are not checked: compare them "
                "with deploy/github-app.yaml",
                "note",
            )
        )
        for branch in settings.branches:
            try:
                with github_errors(f"read branch {branch}"):
                    repo.get_branch(branch)
            except SealgateError as exc:
                findings.append(Finding("github.branches", f"{exc}: create it or remove it"))
        try:
            current = GitHubGateway(client).current_rules(settings.repository)
            return parse_rules(current.files)
        except DocumentError as exc:
            first = exc.problems[0] if exc.problems else "unreadable"
            findings.append(
                Finding(
                    "github.repository",
                    f"the rules at the default branch do not parse ({len(exc.problems)} "
                    f"problem(s), first: {first}): every pull request would be invalid",
                )
            )
        except SealgateError as exc:
            findings.append(Finding("github.repository", f"cannot read the rules: {exc}"))
        return None
    finally:
        client.close()


def _keys(config: ControllerConfig, rules: Rules) -> Iterator[Finding]:
    try:
        keyring = Keyring(config.keys.dir, LocalKekFile(config.keys.kek_file))
        held = {(k.environment, k.key_id): k for k in keyring.list_keys()}
    except SealgateError:
        return  # reported by the offline checks
    for name, environment in sorted(rules.environments.items()):
        where = environment.source or f"environments/{name}.yaml"
        for index, key in enumerate(environment.sealing_keys):
            info = held.get((name, key.id))
            if info is None:
                yield Finding(
                    "keys.dir",
                    f"{where} lists sealing key {key.id}, which {config.keys.dir}/{name} "
                    "does not hold: values sealed to it cannot be opened; restore the key "
                    "directory, or publish the controller's keys (`sealgate keys list`)",
                )
            elif info.public_key != key.public_key:
                yield Finding(
                    "keys.dir",
                    f"{where}: sealing key {key.id} has another public key than the key "
                    "directory's: publish the one `sealgate keys rotate`/`init` printed",
                )
            elif index == 0 and info.status is KeyStatus.RETIRED:
                yield Finding(
                    "keys.dir",
                    f"{where}: new values are sealed to {key.id}, which is retired: put an "
                    "active key first",
                )


def _environment_clusters(config: ControllerConfig, rules: Rules) -> Iterator[Finding]:
    configured = {c.name for c in config.clusters}
    for name, environment in sorted(rules.environments.items()):
        for cluster in environment.clusters:
            if cluster not in configured:
                yield Finding(
                    "clusters",
                    f"environment {name} syncs to cluster {cluster}, which is not configured: "
                    "add it to clusters (its secrets cannot be synced)",
                )


def _clusters(config: ControllerConfig, rules: Rules | None) -> Iterator[Finding]:
    election = config.leader_election
    for index, cluster in enumerate(config.clusters):
        namespaces: set[str] = set()
        for name, environment in sorted((rules.environments if rules else {}).items()):
            if cluster.name not in environment.clusters:
                continue
            for namespace in environment.namespaces or ():
                if any(ch in namespace for ch in "*?["):
                    yield Finding(
                        f"clusters[{index}]",
                        f"environment {name}: namespaces matching {namespace} were not "
                        "checked (a glob)",
                        "note",
                    )
                else:
                    namespaces.add(namespace)
        lease = None
        if election.enabled and election.cluster == cluster.name:
            lease = (election.namespace, election.lease_name)
        found = probe_cluster(
            ClusterConfig(
                name=cluster.name,
                kubeconfig=cluster.kubeconfig,
                context=cluster.context,
                in_cluster=cluster.in_cluster,
                request_timeout_s=cluster.request_timeout_s,
            ),
            sorted(namespaces),
            lease=lease,
        )
        yield from (Finding(f"clusters[{index}]", p) for p in found.problems)
        yield from (Finding(f"clusters[{index}]", n, "note") for n in found.notes)
