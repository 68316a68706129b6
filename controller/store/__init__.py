"""The encrypted, versioned git store and its hash-chained audit log (adapter: GitPython)."""

from __future__ import annotations

from controller.store.crashpoint import APPLY_STEPS, CRASHPOINT_VARIABLE, SYNC_STEPS
from controller.store.store import Store
from controller.store.types import (
    ApplyResult,
    ApprovalRecord,
    AuditRecord,
    AuditReport,
    KeyState,
    SecretData,
    SecretInfo,
    VersionInfo,
)

__all__ = [
    "APPLY_STEPS",
    "CRASHPOINT_VARIABLE",
    "SYNC_STEPS",
    "ApplyResult",
    "ApprovalRecord",
    "AuditRecord",
    "AuditReport",
    "KeyState",
    "SecretData",
    "SecretInfo",
    "Store",
    "VersionInfo",
]
