"""Injected trouble for fault tests: RBAC-style refusals, error answers and slow answers."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from controller.sandbox.kube_server import errors
from controller.sandbox.kube_server.errors import ApiError
from controller.sandbox.kube_server.resources import ResourceType

VERBS = frozenset(
    {"get", "list", "watch", "create", "update", "patch", "delete", "deletecollection", "*"}
)
# Retry-After a real server (priority and fairness) sends with 429.
RETRY_AFTER_SECONDS = 1


@dataclass
class _Fault:
    status: int
    remaining: int
    verb: str | None
    resource: str | None
    delay_seconds: float
    committed: bool = False


DROP = 0
"""A ``status`` for committed faults: no answer at all, the connection is cut mid-body."""


@dataclass(frozen=True)
class Decision:
    """What to do with one request: wait first, then maybe fail instead of serving it."""

    delay_seconds: float = 0.0
    error: ApiError | None = None
    committed: bool = False
    """Serve the request (the write is stored), then answer ``error`` or, with no error,
    cut the connection: the client never learns that it succeeded."""


def _matches_resource(wanted: str | None, resource: str, subresource: str | None) -> bool:
    if wanted in (None, "*", resource):
        return True
    return subresource is not None and wanted == f"{resource}/{subresource}"


class FaultPlan:
    """Thread-safe set of standing refusals and one-shot faults."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._forbidden: set[tuple[str, str, str | None]] = set()
        self._faults: list[_Fault] = []

    def forbid(self, verb: str, resource: str, namespace: str | None) -> None:
        if verb not in VERBS:
            raise ValueError(f"unknown verb {verb!r}; use one of {sorted(VERBS)}")
        with self._lock:
            self._forbidden.add((verb, resource, namespace))

    def inject(
        self,
        *,
        status: int,
        count: int,
        verb: str | None,
        resource: str | None,
        delay_seconds: float,
        committed: bool = False,
    ) -> None:
        if verb is not None and verb not in VERBS:
            raise ValueError(f"unknown verb {verb!r}; use one of {sorted(VERBS)}")
        if count < 1:
            raise ValueError("count must be at least 1")
        with self._lock:
            self._faults.append(
                _Fault(status, count, verb, resource, delay_seconds, committed=committed)
            )

    def clear(self) -> None:
        with self._lock:
            self._forbidden.clear()
            self._faults.clear()

    def is_forbidden(
        self, verb: str, resource: str, subresource: str | None, namespace: str | None
    ) -> bool:
        with self._lock:
            return any(
                rule_verb in ("*", verb)
                and _matches_resource(rule_resource, resource, subresource)
                and rule_namespace in (None, namespace)
                for rule_verb, rule_resource, rule_namespace in self._forbidden
            )

    def decide(
        self,
        *,
        rtype: ResourceType,
        verb: str,
        subresource: str | None,
        namespace: str | None,
        name: str | None,
        user: str,
    ) -> Decision:
        if self.is_forbidden(verb, rtype.plural, subresource, namespace):
            return Decision(error=errors.forbidden(rtype, verb, user, namespace, name))
        with self._lock:
            for fault in self._faults:
                if fault.remaining <= 0:
                    continue
                if fault.verb not in (None, "*", verb):
                    continue
                if not _matches_resource(fault.resource, rtype.plural, subresource):
                    continue
                fault.remaining -= 1
                self._faults = [f for f in self._faults if f.remaining > 0]
                error = _fault_error(fault.status, rtype, name)
                return Decision(fault.delay_seconds, error, committed=fault.committed)
        return Decision()


def _fault_error(status: int, rtype: ResourceType, name: str | None) -> ApiError | None:
    if status < 400:
        return None
    if status == 409:
        return errors.stale(rtype, name or "")
    if status == 429:
        return ApiError(
            429,
            "Too many requests, please try again later.",
            details={"retryAfterSeconds": RETRY_AFTER_SECONDS},
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
    if status == 503:
        return ApiError(503, "the server is currently unable to handle the request")
    if status == 504:
        return ApiError(504, "the server was unable to return a response in the time allotted")
    return ApiError(
        status,
        'an error on the server ("injected fault") has prevented the request from succeeding',
    )
