"""The error tree of sealgate.

::

    SealgateError
    ├── InputError              bad input from a person: never retried, reported on the pull
    │   │                       request and the command line with file, field and fix
    │   ├── DocumentError       a change, policy or environment file is malformed
    │   └── SealedValueError    a sealed value does not open where it claims to belong
    ├── IntegrityError          stored data fails its MAC, its hash chain or its key check:
    │                           something was tampered with or corrupted; never retried
    ├── ConflictError           the world moved under us (head SHA, store version,
    │                           resourceVersion): re-read and re-decide
    ├── Unauthenticated         a caller's credential (a GitHub token) is not valid: ask
    │   │                       for a new one; never retried with the same
    │   └── CredentialRefused   an agent's ServiceAccount token refused by its cluster's
    │                           TokenReview, with a short reason a caller may be told
    └── BackendError            GitHub, the store's git, a cluster, a notifier failed;
        │                       ``retryable`` says whether trying again can help
        ├── GitHubError
        ├── StoreError
        ├── ClusterError
        └── NotifyError

Rules: always chain the cause (``raise X(...) from exc``); never put a secret value, sealed
or plain, in a message. Messages name *where* (file, line, field) and *what to do*.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class SealgateError(Exception):
    """Base of every error sealgate raises on purpose."""


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with one input file, phrased for the person who must fix it.

    ``str(problem)`` reads ``changes/production/rotate.yaml:7: spec.set.DB PASS: key must
    match [-._a-zA-Z0-9]+``: file, line where YAML gives one, field path, message.
    """

    file: str
    field: str
    message: str
    line: int | None = None

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        if self.field:
            return f"{where}: {self.field}: {self.message}"
        return f"{where}: {self.message}"


class InputError(SealgateError):
    """Bad input from a person. Carries every problem found, not just the first."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems: tuple[Problem, ...] = tuple(problems)
        super().__init__("\n".join(str(p) for p in self.problems) or "invalid input")


class DocumentError(InputError):
    """A change, policy or environment file is malformed."""


class SealedValueError(InputError):
    """A sealed value fails to open: wrong binding, unknown key id, or corrupt payload."""


class IntegrityError(SealgateError):
    """Stored data fails verification (MAC, hash chain, wrapped key). Never retried."""


class ConflictError(SealgateError):
    """Optimistic concurrency lost: re-read the current state and decide again."""


class Unauthenticated(SealgateError):
    """A caller's credential was refused by whoever vouches for it (GitHub for a token).
    Distinct from that party being down, which is a retryable :class:`BackendError`."""


class CredentialRefused(Unauthenticated):
    """A caller's credential was refused. The message and ``reason`` never hold the credential.

    ``reason`` is a short stable word (``expired``, ``audience``, ``invalid``, ``not-an-agent``)
    a caller may be told; ``str()`` adds where it was checked, for the operator.
    """

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class BackendError(SealgateError):
    """An external system failed. ``retryable`` says whether trying again can help."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


class GitHubError(BackendError):
    """The GitHub API refused or failed."""


class StoreError(BackendError):
    """The store's git repository could not be read or written."""


class ClusterError(BackendError):
    """A Kubernetes API server refused or failed."""


class NotifyError(BackendError):
    """A notification could not be delivered."""
