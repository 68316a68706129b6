"""Check that every sealed value of a set of changes opens where it claims to belong."""

from __future__ import annotations

from collections.abc import Sequence

from controller.crypto.sealing import SealedValueOpener
from controller.errors import Problem, SealedValueError
from controller.model import SecretChange


def check_sealed_values(
    changes: Sequence[SecretChange], opener: SealedValueOpener
) -> list[Problem]:
    """One problem per value that fails to open; plaintexts are discarded at once."""
    problems: list[Problem] = []
    for change in changes:
        where = change.source or f"{change.environment}/{change.secret}"
        document = f"document {change.document_index + 1}: " if change.document_index else ""
        for key, sealed in change.set.items():
            try:
                opener.open(sealed, environment=change.environment, secret=change.secret, key=key)
            except SealedValueError as exc:
                for problem in exc.problems:
                    problems.append(Problem(where, f"spec.set.{key}", document + problem.message))
    return problems
