"""The RBAC in ``deploy/rbac`` grants exactly what the Kubernetes adapter uses.

The adapter's real operations run against the loopback API server through the real client:
syncing a Secret into a namespace whose Deployment, StatefulSet and DaemonSet use it (create,
events, restarts, waiting for the rollouts), a changed value (update), a batch sync (lists),
a Secret sealgate refuses to take over, drift repair (read, delete), an access grant
delivered as a Role and RoleBinding (bound, moved, listed, removed), and leader election
(acquire, renew, follow, release) on the Lease the deployed configuration names. The
server's request log says which (API group, resource, verb) each scope needed: the
controller's own namespace, the namespaces it manages, or cluster-wide. The rendered RBAC
must grant exactly that: less breaks production, more is privilege nobody uses.

A second pass calls every public ``KubeApi`` method on its own and checks that the comment
above each RBAC rule names exactly the adapter calls the rule is for.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from controller.errors import ClusterError
from controller.kube import (
    ClusterConfig,
    DesiredSecret,
    KubeApi,
    KubeTargets,
    LeaderElector,
    Provenance,
    RetryPolicy,
    RolloutOutcome,
    SecretOutcome,
    connect,
)
from controller.model import AccessDelivery, Grant, KubernetesSubject, SecretAccess
from controller.sandbox.kube_server import KubeApiServer, RequestRecord
from tests.unit.test_deploy_manifests import (
    CONTROLLER_INSTALLS,
    INSTALLS,
    ROOT,
    controller_config,
    controller_deployment,
    render,
)

KEY = b"checksum-key-for-rbac-tests-0123"
PROV = Provenance(store_version=3, change_id="chg-0003", pull_request=9)
FAST = RetryPolicy(attempts=2, initial_s=0.01, max_s=0.02)
MANAGED = "payments"
ROLE_FILES = (
    ROOT / "deploy/rbac/controller/role.yaml",
    ROOT / "deploy/rbac/managed-namespace/role.yaml",
)
KINDS = ("Deployment", "StatefulSet", "DaemonSet")

Permission = tuple[str, str, str]
"""(API group, resource, verb)."""


@dataclass(frozen=True)
class Installed:
    namespace: str
    service_account: str
    lease: str


def installed() -> Installed:
    objects = render("deploy")
    election = controller_config(objects)["leaderElection"]
    deployment = controller_deployment(objects)
    return Installed(
        namespace=deployment["metadata"]["namespace"],
        service_account=deployment["spec"]["template"]["spec"]["serviceAccountName"],
        lease=election["leaseName"],
    )


@pytest.fixture(scope="module")
def server() -> Iterator[KubeApiServer]:
    with KubeApiServer(rollout_seconds=0.1) as srv:
        yield srv


@pytest.fixture(scope="module")
def kubeconfig(server: KubeApiServer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return server.write_kubeconfig(tmp_path_factory.mktemp("kube") / "config")


def scope_of(namespace: str | None, controller_namespace: str) -> str:
    if namespace is None:
        return "cluster"
    return "controller" if namespace == controller_namespace else "managed"


def adapter_requests(server: KubeApiServer) -> list[RequestRecord]:
    records = [r for r in server.request_log if r.user_agent.startswith("sealgate")]
    assert records, "the adapter made no request the server could attribute to it"
    return records


def workload(kind: str, name: str, secret: str) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "selector": {"matchLabels": {"app": name}},
        "template": {
            "metadata": {"labels": {"app": name}},
            "spec": {
                "containers": [
                    {
                        "name": "app",
                        "image": "registry.example/app:1",
                        "envFrom": [{"secretRef": {"name": secret}}],
                    }
                ]
            },
        },
    }
    if kind != "DaemonSet":
        spec["replicas"] = 1
    if kind == "StatefulSet":
        spec["serviceName"] = name
    return {
        "apiVersion": "apps/v1",
        "kind": kind,
        "metadata": {"name": name, "namespace": MANAGED},
        "spec": spec,
    }


def run_the_controllers_operations(server: KubeApiServer, kubeconfig: Path, at: Installed) -> None:
    """What a controller replica does to a cluster over its life, through the adapter."""
    server.create_namespace(at.namespace)
    server.create_namespace(MANAGED)
    for kind in KINDS:
        server.put(workload(kind, f"{kind.lower()}-app", "app-secret"))
    server.put(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "theirs", "namespace": MANAGED},
            "type": "Opaque",
        }
    )
    targets = KubeTargets(
        [ClusterConfig("loop", kubeconfig=kubeconfig)], KEY, retry=FAST, poll_interval_s=0.02
    )
    try:
        # An approved change: the Secret is created, its users restarted and watched.
        first = targets.sync_secret(
            ["loop"], MANAGED, "app-secret", {"k": b"1"}, PROV, timeout_s=20
        )
        assert [s.outcome for s in first.secrets] == [SecretOutcome.CREATED]
        assert {w.outcome for w in first.workloads} == {RolloutOutcome.ROLLED}
        assert len(first.workloads) == len(KINDS)
        # A later change of the value.
        second = targets.sync_secret(
            ["loop"], MANAGED, "app-secret", {"k": b"2"}, PROV, timeout_s=20
        )
        assert [s.outcome for s in second.secrets] == [SecretOutcome.UPDATED]
        # Drift repair syncs in batches: one list per namespace.
        batch = targets.sync_many(
            "loop",
            [
                DesiredSecret(MANAGED, "app-secret", {"k": b"2"}, PROV),
                DesiredSecret(MANAGED, "other-secret", {"k": b"x"}, PROV),
            ],
            timeout_s=20,
        )
        assert {s.outcome for s in batch.secrets} == {
            SecretOutcome.UNCHANGED,
            SecretOutcome.CREATED,
        }
        # A Secret sealgate does not manage is refused, never written.
        refused = targets.sync_secret(["loop"], MANAGED, "theirs", {"k": b"1"}, PROV)
        assert [s.outcome for s in refused.secrets] == [SecretOutcome.REFUSED]
        # Drift checks and a deleted secret.
        assert targets.read_checksum("loop", MANAGED, "app-secret") == targets.checksum({"k": b"2"})
        assert targets.delete_secret("loop", MANAGED, "other-secret") is True
        with pytest.raises(ClusterError):
            targets.delete_secret("loop", MANAGED, "theirs")

        # An access grant: delivered, moved when it activates, found, removed when it ends.
        grant = _grant()
        targets.bind_access("loop", grant)
        used = dataclasses.replace(grant, first_used_at=grant.approved_at, uses=1)
        targets.bind_access("loop", used)
        assert targets.bound_grants("loop", namespaces=[MANAGED]) == {grant.id}
        targets.unbind_access("loop", grant.id, namespaces=[MANAGED])

        # Leader election: two replicas; one acquires, renews and releases, the other follows.
        clock = _Clock()
        api = targets.api("loop")
        a = LeaderElector(api, at.namespace, at.lease, "replica-a", clock=clock)
        b = LeaderElector(api, at.namespace, at.lease, "replica-b", clock=clock)
        assert a.try_acquire_or_renew() is True
        assert b.try_acquire_or_renew() is False
        clock.now += 5
        assert a.try_acquire_or_renew() is True
        a.release()
        assert b.try_acquire_or_renew() is True
    finally:
        targets.close()


def _grant() -> Grant:
    approved = datetime(2026, 12, 3, tzinfo=UTC)
    return Grant(
        id="production-pr-9-incident",
        environment="production",
        repo="acme/secret-requests",
        pull_request=9,
        request_id="incident",
        requester="alice",
        secrets=(SecretAccess(f"{MANAGED}/app-secret"),),
        deliver=frozenset({AccessDelivery.KUBERNETES}),
        approvers=("bob",),
        approved_at=approved,
        duration=timedelta(hours=1),
        activate_by=approved + timedelta(days=1),
        kubernetes_subject=KubernetesSubject("User", "alice"),
    )


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# ------------------------------------------------------------------------------- grants


@dataclass(frozen=True)
class Rule:
    scope: str
    permission: Permission
    names: frozenset[str] | None


def expand(role: dict[str, Any], scope: str) -> list[Rule]:
    rules: list[Rule] = []
    for rule in role.get("rules", []):
        for field in ("apiGroups", "resources", "verbs"):
            assert "*" not in rule[field], f"{role['metadata']['name']}: wildcard {field}"
        names = frozenset(rule["resourceNames"]) if rule.get("resourceNames") else None
        rules.extend(
            Rule(scope, (group, resource, verb), names)
            for group in rule["apiGroups"]
            for resource in rule["resources"]
            for verb in rule["verbs"]
        )
    return rules


def granted(objects: list[dict[str, Any]], at: Installed) -> list[Rule]:
    """Every rule the controller's service account holds, with the scope it holds it in."""
    assert not [o for o in objects if o["kind"] in ("ClusterRole", "ClusterRoleBinding")]
    roles = {
        (o["metadata"]["namespace"], o["metadata"]["name"]): o
        for o in objects
        if o["kind"] == "Role"
    }
    rules: list[Rule] = []
    per_managed_namespace: dict[str, set[Rule]] = {}
    for binding in (o for o in objects if o["kind"] == "RoleBinding"):
        namespace = binding["metadata"]["namespace"]
        subjects = binding["subjects"]
        assert subjects == [
            {"kind": "ServiceAccount", "name": at.service_account, "namespace": at.namespace}
        ], binding["metadata"]
        assert binding["roleRef"]["kind"] == "Role"
        role = roles.pop((namespace, binding["roleRef"]["name"]))
        scope = scope_of(namespace, at.namespace)
        expanded = expand(role, scope)
        rules.extend(expanded)
        if scope == "managed":
            per_managed_namespace.setdefault(namespace, set()).update(expanded)
    assert roles == {}, f"Roles bound to nobody: {sorted(roles)}"
    # Every managed namespace gets the same permissions.
    assert len({frozenset(r) for r in per_managed_namespace.values()}) <= 1
    return rules


def compare(used: set[tuple[str, Permission]], rules: list[Rule]) -> tuple[set[Any], set[Any]]:
    grants = {(r.scope, r.permission) for r in rules}
    return used - grants, grants - used


@pytest.fixture(scope="module")
def traffic(server: KubeApiServer, kubeconfig: Path) -> list[RequestRecord]:
    server.reset_request_log()
    run_the_controllers_operations(server, kubeconfig, installed())
    return adapter_requests(server)


def used_permissions(records: list[RequestRecord], at: Installed) -> set[tuple[str, Permission]]:
    return {
        (scope_of(r.namespace, at.namespace), (r.api_group, r.resource, r.verb))
        for r in records
        if not r.subresource
    }


def test_the_operations_touch_every_scope_they_should(traffic: list[RequestRecord]) -> None:
    at = installed()
    used = used_permissions(traffic, at)
    assert {scope for scope, _ in used} == {"controller", "managed"}
    assert all(not r.subresource for r in traffic), "subresources need their own RBAC rules"
    # Only Leases in the controller's namespace; everything else where the Secrets are.
    assert {p[1] for s, p in used if s == "controller"} == {"leases"}


@pytest.mark.parametrize("directory", CONTROLLER_INSTALLS)
def test_rbac_grants_exactly_what_the_adapter_uses(
    directory: str, traffic: list[RequestRecord]
) -> None:
    at = installed()
    rules = granted(render(directory), at)
    missing, excess = compare(used_permissions(traffic, at), rules)
    assert missing == set(), f"{directory}: the controller would be forbidden: {sorted(missing)}"
    assert excess == set(), f"{directory}: granted but never used: {sorted(excess)}"


def test_remote_clusters_grant_exactly_the_managed_namespace_part(
    traffic: list[RequestRecord],
) -> None:
    at = installed()
    rules = granted(render("deploy/overlays/multi-cluster/remote"), at)
    assert {r.scope for r in rules} == {"managed"}, "no Lease or own-namespace rights remotely"
    used = {u for u in used_permissions(traffic, at) if u[0] == "managed"}
    assert compare(used, rules) == (set(), set())


def test_resource_names_restrict_without_breaking(traffic: list[RequestRecord]) -> None:
    at = installed()
    rules = granted(render("deploy"), at)
    for record in traffic:
        scope = scope_of(record.namespace, at.namespace)
        permission = (record.api_group, record.resource, record.verb)
        matching = [r for r in rules if (r.scope, r.permission) == (scope, permission)]
        assert matching, record
        allowed = any(r.names is None or record.name in r.names for r in matching)
        assert allowed, f"{record.verb} {record.resource}/{record.name} is outside resourceNames"
    for rule in rules:
        if rule.names is not None:
            # RBAC cannot restrict create or list by name: such a rule would deny them.
            assert rule.permission[2] not in ("create", "list", "watch", "deletecollection")
    # The Lease is the one place names are known ahead: it is restricted.
    lease_rules = [r for r in rules if r.permission[1] == "leases" and r.permission[2] != "create"]
    assert lease_rules
    assert all(r.names == frozenset({at.lease}) for r in lease_rules)


def test_every_install_binds_nothing_cluster_wide() -> None:
    for directory in INSTALLS:
        kinds = {o["kind"] for o in render(directory)}
        assert not kinds & {"ClusterRole", "ClusterRoleBinding"}, directory


# ----------------------------------------------------------- per-call: the rule comments


def _per_call(api: KubeApi, server: KubeApiServer, at: Installed) -> dict[str, Callable[[], Any]]:
    namespace = "per-call"
    server.create_namespace(namespace)
    server.create_namespace(at.namespace)
    if server.get("coordination.k8s.io/v1", "Lease", at.namespace, at.lease) is not None:
        server.delete("coordination.k8s.io/v1", "Lease", at.namespace, at.lease)
    for kind in KINDS:
        obj = workload(kind, f"{kind.lower()}-x", "s")
        obj["metadata"]["namespace"] = namespace
        server.put(obj)

    def secret_body(**extra: Any) -> dict[str, Any]:
        return {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "s", "namespace": namespace, **extra},
            "type": "Opaque",
        }

    def replace() -> Any:
        current = server.get("v1", "Secret", namespace, "s")
        assert current is not None
        rv = current["metadata"]["resourceVersion"]
        return api.replace_secret(namespace, "s", secret_body(resourceVersion=rv))

    def delete() -> Any:
        current = server.get("v1", "Secret", namespace, "s")
        assert current is not None
        meta = current["metadata"]
        return api.delete_secret(
            namespace, "s", uid=meta["uid"], resource_version=meta["resourceVersion"]
        )

    def lease_body(**extra: Any) -> dict[str, Any]:
        return {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {"name": at.lease, "namespace": at.namespace, **extra},
            "spec": {"holderIdentity": "replica-a", "leaseDurationSeconds": 15},
        }

    def replace_lease() -> Any:
        current = server.get("coordination.k8s.io/v1", "Lease", at.namespace, at.lease)
        assert current is not None
        rv = current["metadata"]["resourceVersion"]
        return api.replace_lease(at.namespace, at.lease, lease_body(resourceVersion=rv))

    def each_kind(call: Callable[[str], Any]) -> Callable[[], Any]:
        return lambda: [call(kind) for kind in KINDS]

    rbac_kinds = ("Role", "RoleBinding")

    def rbac_body(kind: str, **extra: Any) -> dict[str, Any]:
        body: dict[str, Any] = {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": kind,
            "metadata": {"name": "sealgate-access-x", "namespace": namespace, **extra},
        }
        if kind == "Role":
            body["rules"] = [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}]
        else:
            body["roleRef"] = {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "Role",
                "name": "sealgate-access-x",
            }
            body["subjects"] = [{"kind": "User", "name": "alice"}]
        return body

    def each_rbac_kind(call: Callable[[str], Any]) -> Callable[[], Any]:
        return lambda: [call(kind) for kind in rbac_kinds]

    def replace_rbac(kind: str) -> Any:
        current = server.get("rbac.authorization.k8s.io/v1", kind, namespace, "sealgate-access-x")
        assert current is not None
        rv = current["metadata"]["resourceVersion"]
        body = rbac_body(kind, resourceVersion=rv)
        return api.replace_rbac(kind, namespace, "sealgate-access-x", body)

    def delete_rbac(kind: str) -> Any:
        current = server.get("rbac.authorization.k8s.io/v1", kind, namespace, "sealgate-access-x")
        assert current is not None
        meta = current["metadata"]
        return api.delete_rbac(
            kind,
            namespace,
            "sealgate-access-x",
            uid=meta["uid"],
            resource_version=meta["resourceVersion"],
        )

    return {
        "get_secret": lambda: api.get_secret(namespace, "s"),
        "create_secret": lambda: api.create_secret(namespace, secret_body()),
        "list_secrets": lambda: api.list_secrets(namespace),
        "replace_secret": replace,
        "delete_secret": delete,
        "list_workloads": each_kind(lambda kind: api.list_workloads(kind, namespace)),
        "get_workload": each_kind(
            lambda kind: api.get_workload(kind, namespace, f"{kind.lower()}-x")
        ),
        "patch_template_annotations": each_kind(
            lambda kind: api.patch_template_annotations(
                kind, namespace, f"{kind.lower()}-x", {"sealgate.dev/checksum-s": "x"}
            )
        ),
        "create_event": lambda: api.create_event(
            namespace,
            {
                "apiVersion": "v1",
                "kind": "Event",
                "metadata": {"generateName": "s.", "namespace": namespace},
                "involvedObject": {"kind": "Secret", "name": "s", "namespace": namespace},
                "reason": "SealgateSynced",
                "message": "synced",
                "type": "Normal",
                "firstTimestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            },
        ),
        "get_rbac": each_rbac_kind(lambda kind: api.get_rbac(kind, namespace, "sealgate-access-x")),
        "create_rbac": each_rbac_kind(
            lambda kind: api.create_rbac(kind, namespace, rbac_body(kind))
        ),
        "list_rbac": each_rbac_kind(
            lambda kind: api.list_rbac(kind, namespace, "app.kubernetes.io/managed-by=sealgate")
        ),
        "replace_rbac": each_rbac_kind(replace_rbac),
        "delete_rbac": each_rbac_kind(delete_rbac),
        "get_lease": lambda: api.get_lease(at.namespace, at.lease),
        "create_lease": lambda: api.create_lease(at.namespace, lease_body()),
        "replace_lease": replace_lease,
    }


@pytest.fixture(scope="module")
def permissions_per_call(
    server: KubeApiServer, kubeconfig: Path, traffic: list[RequestRecord]
) -> dict[str, set[tuple[str, Permission]]]:
    at = installed()
    api = connect(ClusterConfig("loop", kubeconfig=kubeconfig), retry=FAST)
    try:
        calls = _per_call(api, server, at)
        found: dict[str, set[tuple[str, Permission]]] = {}
        for method, call in calls.items():
            server.reset_request_log()
            call()
            found[method] = used_permissions(adapter_requests(server), at)
    finally:
        api.close()
    return found


def test_every_adapter_call_is_exercised(
    permissions_per_call: dict[str, set[tuple[str, Permission]]], traffic: list[RequestRecord]
) -> None:
    public = {
        name
        for name, _ in inspect.getmembers(KubeApi, inspect.isfunction)
        if not name.startswith("_") and name != "close"
    }
    assert set(permissions_per_call) == public, "a new KubeApi call needs its RBAC rule"
    everything = set().union(*permissions_per_call.values())
    assert used_permissions(traffic, installed()) <= everything


def _rules_with_comments(path: Path) -> list[tuple[str, dict[str, Any]]]:
    """Each rule of a Role file with the comment lines right above it."""
    text = path.read_text()
    lines = text.splitlines()
    node = yaml.compose(text)
    assert isinstance(node, yaml.MappingNode)
    (rules_node,) = [v for k, v in node.value if k.value == "rules"]
    parsed = yaml.safe_load(text)["rules"]
    found = []
    for item, rule in zip(rules_node.value, parsed, strict=True):
        comment: list[str] = []
        line = item.start_mark.line - 1
        while line >= 0 and lines[line].strip().startswith("#"):
            comment.insert(0, lines[line].strip().lstrip("#").strip())
            line -= 1
        found.append((" ".join(comment), rule))
    return found


@pytest.mark.parametrize("path", ROLE_FILES, ids=lambda p: p.parent.name)
def test_each_rule_names_the_adapter_calls_that_need_it(
    path: Path, permissions_per_call: dict[str, set[tuple[str, Permission]]]
) -> None:
    for comment, rule in _rules_with_comments(path):
        assert comment, f"{path.name}: a rule without a comment: {rule}"
        perms = {
            (group, resource, verb)
            for group in rule["apiGroups"]
            for resource in rule["resources"]
            for verb in rule["verbs"]
        }
        needing = {
            method for method, used in permissions_per_call.items() if {p for _, p in used} & perms
        }
        named = {word.removeprefix("KubeApi.").rstrip(".,;:)") for word in comment.split()}
        named = {n for n in named if n in permissions_per_call}
        assert named == needing, f"{path.name}: the comment of {rule} names {named}, not {needing}"
        assert all(f"KubeApi.{m}" in comment for m in needing)
