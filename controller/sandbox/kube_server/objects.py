"""What the API server does to an object on its way into storage: defaults, checks, folding.

Each function takes the request body (already a copy) and the stored object it replaces, if
any, and returns the object to store, or raises the ``ApiError`` a real server would.
"""

from __future__ import annotations

import base64
import binascii
import copy
import json
import re
from datetime import UTC, datetime
from typing import Any

from controller.sandbox.kube_server import errors, rbac_objects
from controller.sandbox.kube_server.resources import (
    DAEMONSETS,
    DEPLOYMENTS,
    EVENTS,
    LEASES,
    NAMESPACES,
    SECRETS,
    STATEFULSETS,
    ResourceType,
)

_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
# Fields only the server sets; what a client sends for them is ignored.
SERVER_MANAGED = ("uid", "creationTimestamp", "generation", "deletionTimestamp", "managedFields")


def check_identity(rtype: ResourceType, body: dict[str, Any]) -> None:
    """Fill a missing apiVersion/kind from the URL; refuse a body of another type."""
    api_version = body.setdefault("apiVersion", rtype.api_version)
    kind = body.setdefault("kind", rtype.kind)
    if (api_version, kind) != (rtype.api_version, rtype.kind):
        raise errors.bad_request(
            f"the API version in the data ({api_version}) and kind ({kind}) do not match "
            f"the expected {rtype.api_version} {rtype.kind}"
        )
    if not isinstance(body.get("metadata", {}), dict):
        raise errors.bad_request("metadata must be an object")
    body.setdefault("metadata", {})


def check_name(rtype: ResourceType, name: str) -> None:
    pattern = _DNS_LABEL if rtype is NAMESPACES else _DNS_SUBDOMAIN
    if not name:
        raise errors.invalid(rtype, name, "metadata.name", "Required value: name is required")
    if len(name) > 253 or not pattern.match(name):
        raise errors.invalid(
            rtype,
            name,
            "metadata.name",
            f'Invalid value: "{name}": a lowercase RFC 1123 name must consist of lower case '
            "alphanumeric characters, '-' or '.', and must start and end with an "
            "alphanumeric character",
        )


def fold_string_data(body: dict[str, Any]) -> None:
    """Move a Secret's write-only ``stringData`` into ``data``, base64-encoded."""
    string_data = body.pop("stringData", None) or {}
    if string_data:
        data = body.setdefault("data", {})
        for key, value in string_data.items():
            data[key] = base64.b64encode(str(value).encode()).decode()


MAX_SECRET_SIZE = 1024 * 1024
_SECRET_KEY = re.compile(r"[-._a-zA-Z0-9]+")


def _secret_key_problem(key: str) -> str | None:
    """What the API server says of a Secret data key it refuses (``IsConfigMapKey``)."""
    if len(key) > 253:
        return "must be no more than 253 characters"
    if not _SECRET_KEY.fullmatch(key):
        return "a valid config key must consist of alphanumeric characters, '-', '_' or '.'"
    if key in (".", ".."):
        return f"must not be '{key}'"
    if key.startswith(".."):
        return "must not start with '..'"
    return None


def _check_secret_type(name: str, body: dict[str, Any]) -> None:
    """The API server's per-type rules (``ValidateSecret``): required keys, JSON bodies."""
    data = body.get("data") or {}
    kind = body["type"]

    def required(key: str) -> errors.ApiError:
        return errors.invalid(SECRETS, name, f"data[{key}]", "Required value")

    if kind == "kubernetes.io/tls":
        for key in ("tls.crt", "tls.key"):
            if key not in data:
                raise required(key)
    elif kind == "kubernetes.io/basic-auth":
        if "username" not in data and "password" not in data:
            raise required("username")
    elif kind == "kubernetes.io/ssh-auth":
        if not data.get("ssh-privatekey"):
            raise required("ssh-privatekey")
    elif kind in ("kubernetes.io/dockercfg", "kubernetes.io/dockerconfigjson"):
        key = ".dockercfg" if kind.endswith("dockercfg") else ".dockerconfigjson"
        if not data.get(key):
            raise required(key)
        try:
            json.loads(base64.b64decode(str(data[key])))
        except ValueError as exc:
            raise errors.invalid(
                SECRETS, name, f"data[{key}]", 'Invalid value: "<secret contents redacted>"'
            ) from exc
    elif kind == "kubernetes.io/service-account-token":
        annotations = (body.get("metadata") or {}).get("annotations") or {}
        if not annotations.get("kubernetes.io/service-account.name"):
            raise errors.invalid(
                SECRETS,
                name,
                "metadata.annotations[kubernetes.io/service-account.name]",
                "Required value",
            )


def _fold_secret(body: dict[str, Any], existing: dict[str, Any] | None) -> None:
    name = body["metadata"]["name"]
    data = body.get("data") or {}
    if not isinstance(data, dict):
        raise errors.invalid(SECRETS, name, "data", "Invalid value: must be a map")
    for key, value in data.items():
        try:
            base64.b64decode(str(value), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise errors.invalid(
                SECRETS, name, f"data[{key}]", "Invalid value: illegal base64 data"
            ) from exc
    for key, value in (body.pop("stringData", None) or {}).items():
        data[key] = base64.b64encode(str(value).encode()).decode()
    total = 0
    for key, value in data.items():
        why = _secret_key_problem(str(key))
        if why:
            raise errors.invalid(SECRETS, name, f"data[{key}]", f"Invalid value: {why}")
        total += len(str(key)) + len(base64.b64decode(str(value)))
    if total > MAX_SECRET_SIZE:
        # The API server's own check (MaxSecretSize), keys and decoded values together.
        raise errors.invalid(
            SECRETS, name, "data", f"Too long: must have at most {MAX_SECRET_SIZE} bytes"
        )
    if data:
        body["data"] = data
    else:
        body.pop("data", None)
    body.setdefault("type", "Opaque")
    _check_secret_type(name, body)
    if existing is None:
        return
    if body["type"] != existing.get("type", "Opaque"):
        raise errors.invalid(SECRETS, name, "type", "Invalid value: field is immutable")
    if existing.get("immutable") and (
        body.get("data") != existing.get("data") or not body.get("immutable")
    ):
        raise errors.invalid(
            SECRETS, name, "data", "Forbidden: field is immutable when `immutable` is set"
        )


# Timestamp fields the API server re-encodes in its canonical form; True marks MicroTime.
_TIME_FIELDS: dict[ResourceType, tuple[tuple[str, str, bool], ...]] = {
    LEASES: (("spec", "acquireTime", True), ("spec", "renewTime", True)),
    EVENTS: (
        ("", "eventTime", True),
        ("", "firstTimestamp", False),
        ("", "lastTimestamp", False),
    ),
}


def _canonical_times(rtype: ResourceType, body: dict[str, Any]) -> None:
    """Re-encode client timestamps as a real server would: UTC, ``Z``, fixed precision."""
    for section, field, micro in _TIME_FIELDS.get(rtype, ()):
        holder = body.get(section) if section else body
        if not isinstance(holder, dict) or holder.get(field) is None:
            continue
        try:
            moment = datetime.fromisoformat(str(holder[field]).replace("Z", "+00:00"))
        except ValueError as exc:
            raise errors.bad_request(
                f"{section + '.' if section else ''}{field}: cannot parse {holder[field]!r} "
                "as an RFC 3339 time"
            ) from exc
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        moment = moment.astimezone(UTC)
        pattern = "%Y-%m-%dT%H:%M:%S.%fZ" if micro else "%Y-%m-%dT%H:%M:%SZ"
        holder[field] = moment.strftime(pattern)


def _default_workload(rtype: ResourceType, body: dict[str, Any]) -> None:
    name = body["metadata"]["name"]
    spec = body.get("spec")
    if not isinstance(spec, dict):
        raise errors.invalid(rtype, name, "spec", "Required value")
    selector = spec.get("selector")
    if not isinstance(selector, dict) or not (
        selector.get("matchLabels") or selector.get("matchExpressions")
    ):
        raise errors.invalid(rtype, name, "spec.selector", "Required value")
    template = spec.get("template")
    if not isinstance(template, dict):
        raise errors.invalid(rtype, name, "spec.template", "Required value")
    labels = (template.get("metadata") or {}).get("labels") or {}
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        raise errors.invalid(
            rtype,
            name,
            "spec.template.metadata.labels",
            "Invalid value: `selector` does not match template `labels`",
        )
    _default_pod_spec(template)
    spec.setdefault("revisionHistoryLimit", 10)
    if rtype is DEPLOYMENTS:
        spec.setdefault("replicas", 1)
        spec.setdefault("progressDeadlineSeconds", 600)
        strategy = spec.setdefault("strategy", {"type": "RollingUpdate"})
        if strategy.get("type", "RollingUpdate") == "RollingUpdate":
            strategy.setdefault("type", "RollingUpdate")
            rolling = strategy.setdefault("rollingUpdate", {})
            rolling.setdefault("maxUnavailable", "25%")
            rolling.setdefault("maxSurge", "25%")
    elif rtype is STATEFULSETS:
        spec.setdefault("replicas", 1)
        spec.setdefault("podManagementPolicy", "OrderedReady")
        strategy = spec.setdefault("updateStrategy", {"type": "RollingUpdate"})
        if strategy.get("type", "RollingUpdate") == "RollingUpdate":
            strategy.setdefault("type", "RollingUpdate")
            strategy.setdefault("rollingUpdate", {}).setdefault("partition", 0)
    elif rtype is DAEMONSETS:
        strategy = spec.setdefault("updateStrategy", {"type": "RollingUpdate"})
        if strategy.get("type", "RollingUpdate") == "RollingUpdate":
            strategy.setdefault("type", "RollingUpdate")
            rolling = strategy.setdefault("rollingUpdate", {})
            rolling.setdefault("maxUnavailable", 1)
            rolling.setdefault("maxSurge", 0)


def _default_pod_spec(template: dict[str, Any]) -> None:
    """The pod-template defaults a real API server fills in, so clients that compare a
    live workload with what they sent meet the same extra fields as in a cluster."""
    pod = template.get("spec")
    if not isinstance(pod, dict):
        return
    pod.setdefault("restartPolicy", "Always")
    pod.setdefault("dnsPolicy", "ClusterFirst")
    pod.setdefault("terminationGracePeriodSeconds", 30)
    pod.setdefault("schedulerName", "default-scheduler")
    pod.setdefault("securityContext", {})
    for key in ("initContainers", "containers"):
        for container in pod.get(key) or []:
            if isinstance(container, dict):
                _default_container(container)


def _default_container(container: dict[str, Any]) -> None:
    image = str(container.get("image") or "")
    # The tag follows the last ':' of the last path segment (a registry port is not one);
    # an image pinned by digest is never pulled again.
    last, digest, _ = image.rsplit("/", 1)[-1].partition("@")
    tag = last.rpartition(":")[2] if ":" in last else ""
    latest = not digest and tag in ("", "latest")
    container.setdefault("imagePullPolicy", "Always" if latest else "IfNotPresent")
    container.setdefault("terminationMessagePath", "/dev/termination-log")
    container.setdefault("terminationMessagePolicy", "File")


def _spec_of(obj: dict[str, Any]) -> dict[str, Any]:
    """Everything a generation counts: all but metadata and status."""
    return {k: v for k, v in obj.items() if k not in ("metadata", "status")}


def prepare(
    rtype: ResourceType,
    body: dict[str, Any],
    existing: dict[str, Any] | None,
    *,
    uid: str,
    now: str,
) -> dict[str, Any]:
    """The object to store for a create (``existing`` None) or an update of the main resource."""
    metadata = body["metadata"]
    for field in SERVER_MANAGED:
        metadata.pop(field, None)
    if existing is None:
        metadata["uid"] = uid
        metadata["creationTimestamp"] = now
    else:
        for field in ("uid", "creationTimestamp", "deletionTimestamp", "managedFields"):
            if field in existing["metadata"]:
                metadata[field] = existing["metadata"][field]
    _canonical_times(rtype, body)
    if rtype in rbac_objects.RBAC_TYPES:
        rbac_objects.validate(rtype, body, existing)
    if rtype is SECRETS:
        _fold_secret(body, existing)
    elif rtype is NAMESPACES:
        metadata.setdefault("labels", {})["kubernetes.io/metadata.name"] = metadata["name"]
        body["spec"] = {"finalizers": ["kubernetes"]}
        body["status"] = {"phase": "Active"}
    if rtype.has_status:
        _default_workload(rtype, body)
        if existing is not None:
            old_selector = existing["spec"].get("selector")
            if body["spec"].get("selector") != old_selector:
                raise errors.invalid(
                    rtype, metadata["name"], "spec.selector", "Invalid value: field is immutable"
                )
            # Writes to the main resource cannot change status; only /status can.
            body["status"] = copy.deepcopy(existing.get("status", {}))
    if rtype.tracks_generation:
        if existing is None:
            metadata["generation"] = 1
        else:
            generation = existing["metadata"].get("generation", 1)
            changed = _spec_of(body) != _spec_of(existing)
            metadata["generation"] = generation + 1 if changed else generation
    return body


def prepare_status(body: dict[str, Any], existing: dict[str, Any]) -> dict[str, Any]:
    """The object to store for a write to the ``/status`` subresource: only status changes."""
    result = copy.deepcopy({k: v for k, v in existing.items() if k != "status"})
    if "status" in body:
        result["status"] = body["status"]
    return result
