"""Just enough of the Kubernetes protobuf encoding to read an access review.

``kubectl auth can-i`` POSTs its SelfSubjectAccessReview (and ``--list`` its
SelfSubjectRulesReview, ``auth whoami`` its SelfSubjectReview) as
``application/vnd.kubernetes.protobuf``, as a typed client-go
client does; a real server reads either encoding. The body is the magic ``k8s\\0`` and a
``runtime.Unknown`` envelope (type meta, then the object's own bytes). The field numbers
below are those of ``k8s.io/api/authorization/v1/generated.proto``; only the fields a
review's answer depends on are read, and the result is the JSON form of the object.
"""

from __future__ import annotations

from typing import Any

from controller.sandbox.kube_server import errors

MEDIA_TYPE = "application/vnd.kubernetes.protobuf"
MAGIC = b"k8s\x00"

# message -> field number -> (JSON name, nested message or "string", repeated)
_Schema = dict[int, tuple[str, str, bool]]
SCHEMAS: dict[str, _Schema] = {
    "Unknown": {1: ("typeMeta", "TypeMeta", False), 2: ("raw", "bytes", False)},
    "TypeMeta": {1: ("apiVersion", "string", False), 2: ("kind", "string", False)},
    "Review": {1: ("metadata", "ObjectMeta", False), 2: ("spec", "<spec>", False)},
    "ObjectMeta": {1: ("name", "string", False), 3: ("namespace", "string", False)},
    "ResourceAttributes": {
        1: ("namespace", "string", False),
        2: ("verb", "string", False),
        3: ("group", "string", False),
        4: ("version", "string", False),
        5: ("resource", "string", False),
        6: ("subresource", "string", False),
        7: ("name", "string", False),
    },
    "NonResourceAttributes": {1: ("path", "string", False), 2: ("verb", "string", False)},
    "SelfSubjectAccessReviewSpec": {
        1: ("resourceAttributes", "ResourceAttributes", False),
        2: ("nonResourceAttributes", "NonResourceAttributes", False),
    },
    "SubjectAccessReviewSpec": {
        1: ("resourceAttributes", "ResourceAttributes", False),
        2: ("nonResourceAttributes", "NonResourceAttributes", False),
        3: ("user", "string", False),
        4: ("groups", "string", True),
        5: ("extra", "ExtraEntry", True),
        6: ("uid", "string", False),
    },
    "ExtraEntry": {1: ("key", "string", False), 2: ("value", "ExtraValue", False)},
    "ExtraValue": {1: ("items", "string", True)},
    "SelfSubjectRulesReviewSpec": {1: ("namespace", "string", False)},
    # A SelfSubjectReview has no spec: field 2 is its (ignored) status.
    "Nothing": {},
}
SPEC_OF = {
    "SelfSubjectAccessReview": "SelfSubjectAccessReviewSpec",
    "SubjectAccessReview": "SubjectAccessReviewSpec",
    "LocalSubjectAccessReview": "SubjectAccessReviewSpec",
    "SelfSubjectRulesReview": "SelfSubjectRulesReviewSpec",
    "SelfSubjectReview": "Nothing",
}


class _Truncated(ValueError):
    pass


def _varint(data: bytes, at: int) -> tuple[int, int]:
    value, shift = 0, 0
    while True:
        if at >= len(data) or shift > 63:
            raise _Truncated("a varint runs past the end of the message")
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, at


def _fields(data: bytes) -> list[tuple[int, int | bytes]]:
    found: list[tuple[int, int | bytes]] = []
    at = 0
    while at < len(data):
        key, at = _varint(data, at)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, at = _varint(data, at)
            found.append((number, value))
        elif wire == 2:
            size, at = _varint(data, at)
            if at + size > len(data):
                raise _Truncated("a field runs past the end of the message")
            found.append((number, data[at : at + size]))
            at += size
        elif wire in (1, 5):
            at += 8 if wire == 1 else 4
        else:
            raise _Truncated(f"unsupported wire type {wire}")
    return found


def _message(data: bytes, name: str, spec: str) -> dict[str, Any]:
    schema = SCHEMAS[name]
    out: dict[str, Any] = {}
    for number, value in _fields(data):
        if number not in schema or not isinstance(value, bytes):
            continue
        key, kind, repeated = schema[number]
        kind = spec if kind == "<spec>" else kind
        decoded: Any
        if kind == "bytes":
            decoded = value
        elif kind == "string":
            decoded = value.decode("utf-8")
        else:
            decoded = _message(value, kind, spec)
        if repeated:
            out.setdefault(key, []).append(decoded)
        elif decoded not in ("", {}):
            out[key] = decoded
    if "extra" in out:
        out["extra"] = {e.get("key", ""): e.get("value", {}).get("items", []) for e in out["extra"]}
    return out


def decode_review(data: bytes) -> dict[str, Any]:
    """A protobuf-encoded review as the JSON object it stands for."""
    try:
        if not data.startswith(MAGIC):
            raise _Truncated("the body does not start with the Kubernetes protobuf magic")
        envelope = _message(data[len(MAGIC) :], "Unknown", "")
        type_meta = envelope.get("typeMeta", {})
        kind = type_meta.get("kind", "")
        if kind not in SPEC_OF:
            raise _Truncated(f"this server reads no {kind or 'untyped'} object from protobuf")
        body = _message(envelope.get("raw", b""), "Review", SPEC_OF[kind])
    except (_Truncated, UnicodeDecodeError) as exc:
        raise errors.bad_request(f"the protobuf body could not be decoded: {exc}") from exc
    body.setdefault("spec", {})
    return {"kind": kind, "apiVersion": type_meta.get("apiVersion", ""), **body}
