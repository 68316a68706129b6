"""Check that every sealed value of a set of changes opens where it claims to belong."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from controller.crypto.quoting import QUOTED_MESSAGE, quotes_any
from controller.crypto.sealing import SealedValueOpener
from controller.crypto.strength import generate_problem, value_problem
from controller.errors import Problem, SealedValueError
from controller.model import SecretChange, Tier, ValueRule


def check_sealed_values(
    changes: Sequence[SecretChange],
    opener: SealedValueOpener,
    *,
    value_rules: Mapping[str, tuple[Tier, ValueRule]] | None = None,
) -> list[Problem]:
    """One problem per value that fails to open, or that is too weak for the tier and rule
    ``value_rules`` gives its change's path; plaintexts are discarded at once."""
    problems: list[Problem] = []
    for change in changes:
        where = change.source or f"{change.environment}/{change.secret}"
        document = f"document {change.document_index + 1}: " if change.document_index else ""
        ruled = (value_rules or {}).get(change.path)
        if ruled:
            for key, spec in change.generate.items():
                bad = generate_problem(spec, *ruled)
                if bad:
                    problems.append(Problem(where, f"spec.generate.{key}", document + bad))
        for key, sealed in change.set.items():
            try:
                plain = opener.open(
                    sealed, environment=change.environment, secret=change.secret, key=key
                )
                weak = value_problem(plain, *ruled) if ruled else None
                quoted = quotes_any(change.reason, (plain,))
                del plain
                if weak:
                    problems.append(Problem(where, f"spec.set.{key}", document + weak))
                if quoted:
                    message = QUOTED_MESSAGE.format(key=key)
                    problems.append(Problem(where, "spec.reason", document + message))
            except SealedValueError as exc:
                for problem in exc.problems:
                    problems.append(Problem(where, f"spec.set.{key}", document + problem.message))
    return problems
