"""Decide what to do with one Secret, and do it with optimistic concurrency.

``plan`` is pure: given what the cluster holds (or nothing) and what the store wants, it says
create, update, leave alone or refuse. ``apply`` carries a plan out; every update is a PUT
carrying the resourceVersion that was read, so a concurrent edit is never overwritten: a 409
re-reads and re-plans, a bounded number of times.
"""

from __future__ import annotations

import base64
import binascii
import enum
import hashlib
import hmac
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from controller.errors import ClusterError, ConflictError
from controller.kube import names
from controller.kube.api import KubeApi, Obj
from controller.kube.checksum import checksums_equal, secret_checksum
from controller.kube.results import DesiredSecret, SecretOutcome, SecretSync
from controller.model import OPAQUE, SecretShape

log = logging.getLogger(__name__)

MAX_CONFLICTS = 5
# Metadata fields a PUT carries back; everything else is server-owned or unknown to us.
_KEPT_METADATA = (
    "name",
    "namespace",
    "uid",
    "resourceVersion",
    "labels",
    "annotations",
    "ownerReferences",
    "finalizers",
)


class Action(enum.Enum):
    CREATE = "create"
    UPDATE = "update"
    UNCHANGED = "unchanged"
    REFUSE = "refuse"


@dataclass(frozen=True, slots=True)
class Plan:
    action: Action
    reason: str = ""
    body: Obj | None = field(default=None, repr=False)
    adopting: bool = False
    repairing: bool = False
    """The checksum annotation is current but the data is not: someone edited it by hand."""


@dataclass(frozen=True, slots=True)
class Applied:
    result: SecretSync
    secret: Obj | None = field(default=None, repr=False)
    """The Secret as the server now holds it (None when unknown)."""
    repaired: bool = False


def is_managed(secret: Mapping[str, Any]) -> bool:
    labels = (secret.get("metadata") or {}).get("labels") or {}
    return bool(labels.get(names.MANAGED_BY) == names.MANAGER)


def adoption_allowed(secret: Mapping[str, Any]) -> bool:
    annotations = (secret.get("metadata") or {}).get("annotations") or {}
    return str(annotations.get(names.ADOPT, "")).strip().lower() == "true"


def live_checksum(key: bytes, secret: Mapping[str, Any]) -> str | None:
    """Checksum of what the Secret really holds, to catch edits that kept the annotation."""
    try:
        data = {
            k: base64.b64decode(v, validate=True) for k, v in (secret.get("data") or {}).items()
        }
    except (binascii.Error, TypeError, ValueError):
        return None
    return secret_checksum(key, data)


@dataclass(frozen=True, slots=True)
class Pending:
    """A restart the Secret still asks of its users (its ``restart-pending`` annotation)."""

    raw: str
    checksum: str
    restarted_at: str | None = None
    """Set after a repair: users must also have a ``restartedAt`` at least this recent."""


def pending_marker(checksum: str, restarted_at: str | None) -> str:
    return checksum if restarted_at is None else f"{checksum} restartedAt={restarted_at}"


def pending_of(secret: Mapping[str, Any] | None) -> Pending | None:
    if secret is None or not is_managed(secret):
        return None
    annotations = (secret.get("metadata") or {}).get("annotations") or {}
    raw = annotations.get(names.RESTART_PENDING)
    if not isinstance(raw, str):
        return None
    checksum, _, rest = raw.strip().partition(" ")
    stamp = rest.strip().removeprefix("restartedAt=") if rest.strip() else None
    return Pending(raw, checksum, stamp or None)


def clear_pending(api: KubeApi, secret: Obj, pending: Pending) -> Obj | None:
    """Drop the marker, unless the Secret changed since it was read (then a later sync
    decides again). The body is the server's own copy: data is never rebuilt here."""
    meta = secret.get("metadata") or {}
    annotations = dict(meta.get("annotations") or {})
    if annotations.get(names.RESTART_PENDING) != pending.raw:
        return None
    annotations.pop(names.RESTART_PENDING)
    body: Obj = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            **{k: meta[k] for k in _KEPT_METADATA if k in meta},
            "annotations": annotations,
        },
        "type": secret.get("type") or "Opaque",
        "data": dict(secret.get("data") or {}),
    }
    name = str(meta.get("name", ""))
    try:
        return api.replace_secret(str(meta.get("namespace", "")), name, body)
    except ClusterError as exc:
        log.info("cluster %s: restart marker of Secret %s kept: %s", api.cluster, name, exc)
        return None


def _without_marker(body: Obj) -> Obj:
    meta = dict(body["metadata"])
    meta["annotations"] = {
        k: v for k, v in (meta.get("annotations") or {}).items() if k != names.RESTART_PENDING
    }
    return {**body, "metadata": meta}


def _annotations(desired: DesiredSecret, checksum: str, restarted_at: str | None) -> dict[str, str]:
    p = desired.provenance
    out = {
        names.STORE_VERSION: str(p.store_version),
        names.CHANGE_ID: p.change_id,
        names.CHECKSUM: checksum,
        # In the same request as the data: the intent to restart survives a crash.
        names.RESTART_PENDING: pending_marker(checksum, restarted_at),
    }
    if p.pull_request is not None:
        out[names.PULL_REQUEST] = str(p.pull_request)
    return out


def _body(
    desired: DesiredSecret,
    checksum: str,
    current: Mapping[str, Any] | None,
    restarted_at: str | None = None,
    *,
    adopting: bool = False,
    key: bytes,
) -> Obj:
    meta: Obj = {"name": desired.name, "namespace": desired.namespace}
    labels: dict[str, str] = {}
    annotations: dict[str, str] = {}
    if current is not None:
        old = current.get("metadata") or {}
        # An adopted Secret is sealgate's from now on: an owner of whoever made it must not
        # decide when the garbage collector deletes it.
        kept = tuple(k for k in _KEPT_METADATA if not (adopting and k == "ownerReferences"))
        meta.update({k: old[k] for k in kept if k in old})
        labels.update(old.get("labels") or {})
        annotations.update(old.get("annotations") or {})
        # Adoption is a one-time permission; the label is the lasting claim. kubectl's copy
        # of its last manifest would keep the old values readable in metadata.
        for stale in (names.ADOPT, names.LAST_APPLIED, names.PULL_REQUEST):
            annotations.pop(stale, None)
    _shape_metadata(desired.shape, labels, annotations, key)
    labels[names.MANAGED_BY] = names.MANAGER
    annotations.update(_annotations(desired, checksum, restarted_at))
    meta["labels"] = labels
    meta["annotations"] = annotations
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": meta,
        "type": desired.shape.type,
        "data": {k: base64.b64encode(bytes(v)).decode("ascii") for k, v in desired.data.items()},
    }


def _owned_mac(key: bytes, labels: list[str], annotations: list[str]) -> str:
    body = json.dumps({"labels": labels, "annotations": annotations}, separators=(",", ":"))
    return hmac.new(key, b"owned-metadata\0" + body.encode(), hashlib.sha256).hexdigest()


def _owned(annotations: Mapping[str, Any], key: bytes) -> tuple[set[str], set[str]]:
    """The keys sealgate gave the Secret, as its record says, if the record carries the MAC
    only sealgate can make: anyone who may edit the Secret could otherwise list another
    tool's label there and have sealgate delete it. No valid record: nothing is removed."""
    try:
        owned = json.loads(str(annotations.get(names.OWNED_METADATA) or "{}"))
        labels = [str(k) for k in owned.get("labels", ())]
        kept = [str(k) for k in owned.get("annotations", ())]
        mac = str(owned.get("mac", ""))
    except (ValueError, AttributeError, TypeError):
        return set(), set()
    if not key or not hmac.compare_digest(mac, _owned_mac(key, labels, kept)):
        return set(), set()
    return set(labels), set(kept)


def _shape_metadata(
    shape: SecretShape, labels: dict[str, str], annotations: dict[str, str], key: bytes
) -> None:
    """Give the body the store's labels and annotations, dropping those it gave earlier and
    no longer wants; keys another tool set stay."""
    old_labels, old_annotations = _owned(annotations, key)
    for name in old_labels - set(shape.labels):
        labels.pop(name, None)
    for name in old_annotations - set(shape.annotations):
        annotations.pop(name, None)
    annotations.pop(names.OWNED_METADATA, None)
    labels.update(shape.labels)
    annotations.update(shape.annotations)
    if shape.labels or shape.annotations:
        owned_labels, owned_annotations = sorted(shape.labels), sorted(shape.annotations)
        record: dict[str, object] = {"labels": owned_labels, "annotations": owned_annotations}
        if key:
            record["mac"] = _owned_mac(key, owned_labels, owned_annotations)
        annotations[names.OWNED_METADATA] = json.dumps(record, separators=(",", ":"))


def _shape_current(current: Mapping[str, Any], shape: SecretShape, key: bytes) -> bool:
    """The live Secret carries exactly the labels and annotations the store gives it."""
    meta = current.get("metadata") or {}
    labels = dict(meta.get("labels") or {})
    annotations = dict(meta.get("annotations") or {})
    wanted_labels, wanted_annotations = dict(labels), dict(annotations)
    _shape_metadata(shape, wanted_labels, wanted_annotations, key)
    return wanted_labels == labels and wanted_annotations == annotations


def plan(
    current: Mapping[str, Any] | None,
    desired: DesiredSecret,
    checksum: str,
    key: bytes,
    now: str = "",
) -> Plan:
    """``now`` is the ``restartedAt`` a repair asks of the users (they must roll even though
    their checksum annotation already matches)."""
    if current is None:
        return Plan(Action.CREATE, body=_body(desired, checksum, None, key=key))
    annotations = (current.get("metadata") or {}).get("annotations") or {}
    claimed = annotations.get(names.CHECKSUM)
    # The label alone is no proof: anyone who may create Secrets in the namespace can set it.
    # The keyed checksum sealgate wrote is: of the data it holds (the last write), or of the
    # data wanted now (a hand edit of a Secret sealgate wrote).
    managed = is_managed(current) and (
        checksums_equal(claimed, checksum) or checksums_equal(claimed, live_checksum(key, current))
    )
    if not managed and not adoption_allowed(current):
        labelled = is_managed(current)
        return Plan(
            Action.REFUSE,
            f"a Secret {desired.namespace}/{desired.name} exists that sealgate does not "
            + (
                "manage (it carries sealgate's label but no checksum sealgate wrote)"
                if labelled
                else "manage"
            )
            + f"; to hand it over, annotate it {names.ADOPT}=true",
        )
    kind = current.get("type") or OPAQUE
    if kind != desired.shape.type:
        return Plan(
            Action.REFUSE,
            f"the existing Secret has type {kind} and the store's is {desired.shape.type}; "
            "a Secret's type cannot change: delete the Secret and sealgate writes it anew",
        )
    if current.get("immutable") is True:
        return Plan(
            Action.REFUSE, "the existing Secret is immutable; delete it to let sealgate recreate it"
        )
    annotated = managed and checksums_equal(claimed, checksum)
    if (
        annotated
        and checksums_equal(live_checksum(key, current), checksum)
        and _shape_current(current, desired.shape, key)
    ):
        return Plan(Action.UNCHANGED)
    return Plan(
        Action.UPDATE,
        body=_body(
            desired,
            checksum,
            current,
            (now or None) if annotated else None,
            adopting=not managed,
            key=key,
        ),
        adopting=not managed,
        repairing=annotated,
    )


def apply(
    api: KubeApi,
    desired: DesiredSecret,
    checksum: str,
    key: bytes,
    current: Obj | None,
    *,
    now: str = "",
    unused: bool = False,
) -> Applied:
    """Carry out the plan for ``current``. ``unused``: no workload uses the Secret (as
    listed just before): a new one is created without the restart marker, since no pod
    can hold an older value of a Secret that did not exist, and the sync need not patch
    the marker away again."""
    ns, name = desired.namespace, desired.name

    def result(outcome: SecretOutcome, message: str = "", *, retryable: bool = False) -> SecretSync:
        return SecretSync(
            api.cluster, ns, name, outcome, message, retryable=retryable, checksum=checksum
        )

    conflicts = 0
    while True:
        step = plan(current, desired, checksum, key, now)
        try:
            if step.action is Action.UNCHANGED:
                return Applied(result(SecretOutcome.UNCHANGED), current)
            if step.action is Action.REFUSE:
                log.warning(
                    "cluster %s: not writing Secret %s/%s: %s", api.cluster, ns, name, step.reason
                )
                return Applied(result(SecretOutcome.REFUSED, step.reason), current)
            assert step.body is not None
            if step.action is Action.CREATE:
                body = step.body
                if unused:
                    body = _without_marker(body)
                created = api.create_secret(ns, body)
                log.info("cluster %s: created Secret %s/%s", api.cluster, ns, name)
                return Applied(result(SecretOutcome.CREATED), created)
            updated = api.replace_secret(ns, name, step.body)
            if step.adopting:
                message = "adopted by annotation"
            elif step.repairing:
                message = "restored: the data had been edited outside sealgate"
            else:
                message = ""
            log.info("cluster %s: updated Secret %s/%s %s", api.cluster, ns, name, message)
            return Applied(result(SecretOutcome.UPDATED, message), updated, step.repairing)
        except ConflictError:
            # Someone wrote in between (or created it first): read again and decide again.
            conflicts += 1
            if conflicts >= MAX_CONFLICTS:
                return Applied(
                    result(
                        SecretOutcome.FAILED,
                        f"gave up after {conflicts} conflicting writes: the Secret keeps changing",
                        retryable=True,
                    )
                )
            try:
                current = api.get_secret(ns, name)
            except ClusterError as exc:
                return Applied(result(SecretOutcome.FAILED, str(exc), retryable=exc.retryable))
        except ClusterError as exc:
            return Applied(result(SecretOutcome.FAILED, str(exc), retryable=exc.retryable))
