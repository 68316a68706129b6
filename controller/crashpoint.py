"""Test hook: die at a named step, the way a power cut or OOM kill would.

When the environment variable ``SEALGATE_CRASHPOINT`` equals a step's name, the process
exits at once with status 137 (no cleanup, no ``finally`` blocks, no flushing): the crash
tests run the controller at every step and then check the store and the cluster. Unset in
production, this costs one dictionary lookup. It lives outside every layer so that each
adapter can mark its own steps without importing another adapter.
"""

from __future__ import annotations

import os

CRASHPOINT_VARIABLE = "SEALGATE_CRASHPOINT"
APPLY_STEPS = (
    "apply:opened",
    "apply:blobs-written",
    "apply:tree-written",
    "apply:commit-written",
    "apply:ref-updated",
)
SYNC_STEPS = ("sync:secrets-written",)
GRANT_STEPS = ("grant:blobs-written", "grant:commit-written", "grant:ref-updated")
"""The steps of every grant write (record, use, revoke, end, refusal), in order."""
REWRAP_STEPS = (
    "rewrap:next-kek-created",
    "rewrap:key-file-staged",
    "rewrap:keys-staged",
    "rewrap:store-staged-tree",
    "rewrap:store-staged",
    "rewrap:old-kek-kept",
    "rewrap:switched",
    "rewrap:key-file-finished",
    "rewrap:keys-finished",
    "rewrap:store-finished-tree",
)
"""The steps of ``sealgate keys rewrap`` (a KEK rotation), in order."""
"""After a sync wrote Secrets and before it patched the workloads that use them."""


def crashpoint(name: str) -> None:
    if os.environ.get(CRASHPOINT_VARIABLE) == name:
        os._exit(137)
