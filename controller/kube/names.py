"""Label and annotation names sealgate reads and writes: its public contract on objects."""

from __future__ import annotations

MANAGED_BY = "app.kubernetes.io/managed-by"
MANAGER = "sealgate"
SELECTOR = f"{MANAGED_BY}={MANAGER}"

STORE_VERSION = "sealgate.dev/store-version"
CHANGE_ID = "sealgate.dev/change-id"
PULL_REQUEST = "sealgate.dev/pull-request"
CHECKSUM = "sealgate.dev/checksum"
OWNED_METADATA = "sealgate.dev/owned-metadata"
"""The label and annotation keys the store gave a Secret (JSON), so that one the store no
longer wants is removed, while those other tools set are left alone."""

ADOPT = "sealgate.dev/adopt"
"""Set to ``"true"`` on an existing Secret to let sealgate take it over."""
RESTART = "sealgate.dev/restart"
"""Set to ``"false"`` on a workload to keep sealgate from restarting it."""

RESTART_PENDING = "sealgate.dev/restart-pending"
"""On a Secret: the checksum its users must carry (and, after a repair, the ``restartedAt``
they must have reached), written with the data and removed once every user carries it, so a
restart cut short by a crash or a lost answer is finished by any later sync."""

RESTARTED_AT = "sealgate.dev/restartedAt"
"""Pod-template annotation that forces a rollout when the checksum alone cannot."""

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
"""kubectl keeps a full copy of the applied manifest here, old data included."""

EVENT_REASON = "SealgateSynced"
COMPONENT = "sealgate"

GRANT = "sealgate.dev/grant"
"""Label of the Role and RoleBinding delivering one access grant: the grant's id."""
ENDS_AT = "sealgate.dev/ends-at"
"""When a grant's access ends (ISO 8601, UTC): moves when the grant activates."""
REQUESTER = "sealgate.dev/requester"
ACCESS_PREFIX = "sealgate-access-"
"""Name prefix of the Role and RoleBinding of a grant: ``sealgate-access-<grant id>``."""
