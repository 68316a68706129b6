"""The object store: every served object, one global resourceVersion counter, watch history.

One lock guards everything. Each write bumps the counter and appends a watch event. A daemon
ticker thread plays the workload controllers: while a rollout runs it writes the simulated
status into the stored workload every step (a real status write, with its own
resourceVersion), so readers and watchers see progress driven by time.
"""

from __future__ import annotations

import builtins
import collections
import copy
import itertools
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from controller.sandbox.kube_server import errors, objects
from controller.sandbox.kube_server.apply import apply as apply_config
from controller.sandbox.kube_server.errors import ApiError
from controller.sandbox.kube_server.ownership import Ownership, stamp
from controller.sandbox.kube_server.resources import (
    ALL_TYPES,
    NAMESPACES,
    SECRETS,
    WORKLOAD_TYPES,
    ResourceType,
)
from controller.sandbox.kube_server.rollout import RolloutSimulator, WorkloadKey, timestamp
from controller.sandbox.kube_server.selectors import Matcher

INITIAL_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
# Namespaces a real API server refuses to delete.
PROTECTED_NAMESPACES = frozenset({"default", "kube-system", "kube-public"})
WATCH_HISTORY = 50_000
# Who a real cluster records the workload controllers' status writes as.
CONTROLLER_MANAGER = "kube-controller-manager"
_WORKLOAD_BY_KIND = {rtype.kind: rtype for rtype in WORKLOAD_TYPES}


@dataclass(frozen=True)
class WatchEvent:
    revision: int
    type: str  # ADDED, MODIFIED or DELETED
    rtype: ResourceType
    object: dict[str, Any]
    # The object before a MODIFIED event, so selector-filtered watches can tell an object
    # that stopped matching (sent as DELETED) from one that started to (sent as ADDED).
    previous: dict[str, Any] | None = None


class ObjectStore:
    """Thread-safe storage with Kubernetes write semantics (see ``objects.prepare``)."""

    def __init__(self, rollout_seconds: float, *, watch_history: int = WATCH_HISTORY) -> None:
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._objects: dict[ResourceType, dict[tuple[str, str], dict[str, Any]]] = {
            rtype: {} for rtype in ALL_TYPES
        }
        self._revision = 0
        self._events: collections.deque[WatchEvent] = collections.deque(maxlen=watch_history)
        self.rollouts = RolloutSimulator(rollout_seconds)
        self._closed = threading.Event()
        self._wake = threading.Event()
        self._ticker: threading.Thread | None = None
        self._moving: dict[WorkloadKey, ResourceType] = {}
        for name in INITIAL_NAMESPACES:
            self.create(NAMESPACES, None, {"metadata": {"name": name}})

    # --- reading -------------------------------------------------------------------------

    def find(self, rtype: ResourceType, namespace: str | None, name: str) -> dict[str, Any] | None:
        with self._lock:
            obj = self._objects[rtype].get((namespace or "", name))
            return copy.deepcopy(obj) if obj is not None else None

    def get(self, rtype: ResourceType, namespace: str | None, name: str) -> dict[str, Any]:
        obj = self.find(rtype, namespace, name)
        if obj is None:
            raise errors.not_found(rtype, name)
        return obj

    def list(
        self, rtype: ResourceType, namespace: str | None, matches: Matcher = lambda _: True
    ) -> tuple[list[dict[str, Any]], int]:
        """Matching objects sorted by namespace and name, and the revision they reflect."""
        with self._lock:
            items = [
                copy.deepcopy(obj)
                for (ns, _), obj in sorted(self._objects[rtype].items())
                if (namespace is None or ns == namespace) and matches(obj)
            ]
            return items, self._revision

    # --- writing -------------------------------------------------------------------------

    def _record(
        self,
        event_type: str,
        rtype: ResourceType,
        obj: dict[str, Any],
        previous: dict[str, Any] | None = None,
    ) -> None:
        # Stored objects are replaced, never changed in place, so events can share them.
        event = WatchEvent(self._revision, event_type, rtype, obj, previous)
        self._events.append(event)
        self._changed.notify_all()

    def _store(self, rtype: ResourceType, obj: dict[str, Any], event_type: str) -> dict[str, Any]:
        self._revision += 1
        obj["metadata"]["resourceVersion"] = str(self._revision)
        key = (obj["metadata"].get("namespace", ""), obj["metadata"]["name"])
        previous = self._objects[rtype].get(key)
        self._objects[rtype][key] = obj
        self._record(event_type, rtype, obj, previous)
        return copy.deepcopy(obj)

    def _scope(self, rtype: ResourceType, namespace: str | None, body: dict[str, Any]) -> None:
        metadata = body["metadata"]
        if not rtype.namespaced:
            metadata.pop("namespace", None)
            return
        if metadata.get("namespace") not in (None, "", namespace):
            raise errors.bad_request(
                "the namespace of the provided object does not match the namespace sent on "
                "the request"
            )
        if not namespace:
            raise errors.bad_request("a namespace is required for namespaced resources")
        metadata["namespace"] = namespace

    def _workload_key(self, rtype: ResourceType, obj: dict[str, Any]) -> WorkloadKey:
        return (rtype.kind, obj["metadata"].get("namespace", ""), obj["metadata"]["name"])

    def _simulate(self, rtype: ResourceType, obj: dict[str, Any]) -> None:
        if rtype in WORKLOAD_TYPES:
            key = self._workload_key(rtype, obj)
            obj["status"] = self.rollouts.status_of(key, obj)
            if not self.rollouts.settled(key):
                self._moving[key] = rtype
                self._wake.set()

    def create(
        self,
        rtype: ResourceType,
        namespace: str | None,
        body: dict[str, Any],
        *,
        dry_run: bool = False,
        manager: str | None = None,
        applied: Ownership | None = None,
    ) -> dict[str, Any]:
        """POST. With ``dry_run`` everything is checked and nothing is stored.

        A ``manager`` is recorded as the ``Update`` owner of every field; an apply passes the
        ``applied`` ownership instead. Writes with neither (seeding) record no owner.
        """
        body = copy.deepcopy(body)
        objects.check_identity(rtype, body)
        metadata = body["metadata"]
        sent = metadata.get("managedFields")
        with self._lock:
            self._scope(rtype, namespace, body)
            if not metadata.get("name") and metadata.get("generateName"):
                metadata["name"] = metadata["generateName"] + secrets.token_hex(3)[:5]
            name = str(metadata.get("name") or "")
            objects.check_name(rtype, name)
            if rtype.namespaced and ("", namespace or "") not in self._objects[NAMESPACES]:
                raise errors.not_found(NAMESPACES, namespace or "")
            if (namespace or "", name) in self._objects[rtype]:
                raise errors.already_exists(rtype, name)
            obj = objects.prepare(
                rtype, body, None, uid=str(uuid.uuid4()), now=timestamp(time.time())
            )
            stamp(
                rtype,
                None,
                obj,
                manager=manager,
                subresource=None,
                applied=applied,
                sent=sent,
                now=timestamp(time.time()),
            )
            if dry_run:
                return obj
            self._simulate(rtype, obj)
            return self._store(rtype, obj, "ADDED")

    def update(
        self,
        rtype: ResourceType,
        namespace: str | None,
        name: str,
        body: dict[str, Any],
        *,
        subresource: str | None = None,
        dry_run: bool = False,
        manager: str | None = None,
        applied: Ownership | None = None,
    ) -> dict[str, Any]:
        """PUT: replace the object (or its status), refusing a stale resourceVersion.

        ``manager`` and ``applied`` record ownership as for ``create``.
        """
        body = copy.deepcopy(body)
        objects.check_identity(rtype, body)
        sent = body["metadata"].get("managedFields")
        with self._lock:
            self._scope(rtype, namespace, body)
            if body["metadata"].get("name", name) != name:
                raise errors.bad_request(
                    "the name of the object "
                    f"({body['metadata'].get('name')}) does not match the name on the URL ({name})"
                )
            body["metadata"]["name"] = name
            existing = self._objects[rtype].get((namespace or "", name))
            if existing is None:
                raise errors.not_found(rtype, name)
            wanted = body["metadata"].get("resourceVersion")
            if wanted and wanted != existing["metadata"]["resourceVersion"]:
                raise errors.stale(rtype, name)
            if subresource == "status":
                obj = objects.prepare_status(body, existing)
            else:
                obj = objects.prepare(rtype, body, existing, uid="", now="")
                if not dry_run:
                    self._simulate(rtype, obj)
            stamp(
                rtype,
                existing,
                obj,
                manager=manager,
                subresource=subresource,
                applied=applied,
                sent=sent,
                now=timestamp(time.time()),
            )
            obj["metadata"]["resourceVersion"] = existing["metadata"]["resourceVersion"]
            if obj == existing or dry_run:
                # A no-op write keeps its resourceVersion and sends no watch event.
                return copy.deepcopy(obj)
            return self._store(rtype, obj, "MODIFIED")

    def patch(
        self,
        rtype: ResourceType,
        namespace: str | None,
        name: str,
        mutate: Callable[[dict[str, Any]], dict[str, Any]],
        *,
        subresource: str | None = None,
        dry_run: bool = False,
        manager: str | None = None,
    ) -> dict[str, Any]:
        """PATCH: apply ``mutate`` to the current object atomically, then store it as a PUT."""
        with self._lock:
            current = self.get(rtype, namespace, name)
            patched = mutate(current)
            if not isinstance(patched.get("metadata"), dict):
                raise errors.bad_request("the patch removed metadata")
            patched["metadata"].setdefault(
                "resourceVersion", current["metadata"]["resourceVersion"]
            )
            return self.update(
                rtype,
                namespace,
                name,
                patched,
                subresource=subresource,
                dry_run=dry_run,
                manager=manager,
            )

    def apply(
        self,
        rtype: ResourceType,
        namespace: str | None,
        name: str,
        config: dict[str, Any],
        *,
        manager: str,
        force: bool = False,
        dry_run: bool = False,
    ) -> tuple[dict[str, Any], bool]:
        """Server-side apply (see ``apply``): the stored object, and whether it was created."""
        config = copy.deepcopy(config)
        objects.check_identity(rtype, config)
        if rtype is SECRETS:
            # Appliers own the data keys their stringData becomes.
            objects.fold_string_data(config)
        with self._lock:
            self._scope(rtype, namespace, config)
            if config["metadata"].get("name", name) != name:
                raise errors.bad_request(
                    "the name of the object "
                    f"({config['metadata'].get('name')}) does not match the name on the URL "
                    f"({name})"
                )
            config["metadata"]["name"] = name
            live = self._objects[rtype].get((namespace or "", name))
            ownership = Ownership.of(live)
            merged = apply_config(
                rtype,
                live,
                config,
                ownership,
                manager=manager,
                force=force,
                now=timestamp(time.time()),
            )
            if live is None:
                stored = self.create(rtype, namespace, merged, dry_run=dry_run, applied=ownership)
            else:
                stored = self.update(
                    rtype, namespace, name, merged, dry_run=dry_run, applied=ownership
                )
            return stored, live is None

    def delete(
        self,
        rtype: ResourceType,
        namespace: str | None,
        name: str,
        *,
        uid: str | None = None,
        resource_version: str | None = None,
        dry_run: bool = False,
    ) -> dict[str, Any]:
        with self._lock:
            existing = self._objects[rtype].get((namespace or "", name))
            if existing is None:
                raise errors.not_found(rtype, name)
            if uid and uid != existing["metadata"]["uid"]:
                raise errors.conflict(
                    rtype, name, f"Precondition failed: UID in precondition: {uid}, "
                    f"UID in object meta: {existing['metadata']['uid']}"
                )  # fmt: skip
            if resource_version and resource_version != existing["metadata"]["resourceVersion"]:
                raise errors.conflict(
                    rtype,
                    name,
                    "Precondition failed: ResourceVersion in precondition: "
                    f"{resource_version}, ResourceVersion in object meta: "
                    f"{existing['metadata']['resourceVersion']}",
                )
            if rtype is NAMESPACES and name in PROTECTED_NAMESPACES:
                raise ApiError(
                    403,
                    f'namespaces "{name}" is forbidden: this namespace may not be deleted',
                    details={"name": name, "kind": "namespaces"},
                )
            if dry_run:
                return copy.deepcopy(existing)
            if rtype is NAMESPACES:
                for other in ALL_TYPES:
                    if other.namespaced:
                        for key in [k for k in self._objects[other] if k[0] == name]:
                            self.delete(other, name, key[1])
            del self._objects[rtype][(namespace or "", name)]
            if rtype in WORKLOAD_TYPES:
                self.rollouts.forget(self._workload_key(rtype, existing))
            self._revision += 1
            gone = copy.deepcopy(existing)
            gone["metadata"]["resourceVersion"] = str(self._revision)
            self._record("DELETED", rtype, gone)
            return gone

    def put(self, obj: dict[str, Any], rtype: ResourceType) -> dict[str, Any]:
        """Create or replace, bypassing the HTTP layer; creates the namespace if missing.

        A replacement a real server would refuse in place (a Secret's type, a workload's
        selector) deletes and recreates the object. A workload's given status is kept.
        """
        wanted = copy.deepcopy(obj)
        wanted.setdefault("metadata", {}).pop("resourceVersion", None)
        namespace = wanted["metadata"].get("namespace") if rtype.namespaced else None
        name = wanted["metadata"].get("name", "")
        with self._lock:
            if namespace and ("", namespace) not in self._objects[NAMESPACES]:
                self.create(NAMESPACES, None, {"metadata": {"name": namespace}})
            if self.find(rtype, namespace, name) is None:
                stored = self.create(rtype, namespace, wanted)
            else:
                try:
                    stored = self.update(rtype, namespace, name, wanted)
                except ApiError as exc:
                    if exc.code != 422:
                        raise
                    self.delete(rtype, namespace, name)
                    stored = self.create(rtype, namespace, wanted)
            if rtype.has_status and "status" in wanted:
                stored = self.update(rtype, namespace, name, wanted, subresource="status")
            return stored

    # --- watching ------------------------------------------------------------------------

    def events_after(self, revision: int, timeout: float) -> builtins.list[WatchEvent]:
        """Events newer than ``revision``, waiting up to ``timeout`` for the first one.

        Raises 410 Expired when events after ``revision`` have already been forgotten.
        """
        with self._lock:
            if self._events and revision < self._events[0].revision - 1:
                raise ApiError(
                    410,
                    f"too old resource version: {revision} ({self._events[0].revision - 1})",
                    reason="Expired",
                )
            if not self._events or self._events[-1].revision <= revision:
                self._changed.wait(timeout)
            if not self._events:
                return []
            # One event per revision, so the first wanted event sits at a known offset.
            skip = max(0, revision + 1 - self._events[0].revision)
            return builtins.list(itertools.islice(self._events, skip, None))

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    # --- the simulated workload controllers ----------------------------------------------

    def fail_rollouts(self, key: WorkloadKey, message: str) -> None:
        with self._lock:
            self.rollouts.fail(key, message)
            self._moving[key] = _WORKLOAD_BY_KIND[key[0]]
            self._wake.set()

    def heal_rollouts(self, key: WorkloadKey) -> None:
        with self._lock:
            self.rollouts.heal(key)
            self._moving[key] = _WORKLOAD_BY_KIND[key[0]]
            self._wake.set()

    def rollout_count(self, key: WorkloadKey) -> int:
        with self._lock:
            return self.rollouts.count(key)

    def tick(self) -> bool:
        """Write the current simulated status of every moving workload; True if any still moves."""
        with self._lock:
            for key, rtype in list(self._moving.items()):
                obj = self._objects[rtype].get((key[1], key[2]))
                if obj is None:
                    del self._moving[key]
                    continue
                status = self.rollouts.status_of(key, obj)
                if status != obj.get("status"):
                    updated = copy.deepcopy(obj)
                    updated["status"] = status
                    stamp(
                        rtype,
                        obj,
                        updated,
                        manager=CONTROLLER_MANAGER,
                        subresource="status",
                        applied=None,
                        now=timestamp(time.time()),
                    )
                    self._store(rtype, updated, "MODIFIED")
                if self.rollouts.settled(key):
                    del self._moving[key]
            return bool(self._moving)

    def _run_ticker(self) -> None:
        step = max(0.01, self.rollouts.rollout_seconds / 10)
        while not self._closed.is_set():
            if self.tick():
                self._closed.wait(step)
            else:
                self._wake.wait(1.0)
                self._wake.clear()

    def start(self) -> None:
        self._closed.clear()
        self._ticker = threading.Thread(
            target=self._run_ticker, name="kube-rollout-simulator", daemon=True
        )
        self._ticker.start()

    def close(self) -> None:
        self._closed.set()
        self._wake.set()
        with self._lock:
            self._changed.notify_all()
        if self._ticker is not None:
            self._ticker.join(timeout=5)
