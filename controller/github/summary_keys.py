"""The before/after table: per key, what the store holds now and what it will hold.

The "before" fingerprint is the store's own (as ``sealgate store ls`` shows it); a new value's
is bound to this pull request, so the two never match and a proposed value cannot be tested
against a stored one. Once applied, the store's fingerprint of a generated value is shown.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from controller.errors import Problem
from controller.model import Decision, SecretChange, Tier, frozen_map


@dataclass(frozen=True, slots=True)
class StoredSecret:
    """A secret's public state in the store: version, tier and keyed fingerprints."""

    version: int
    tier: Tier
    fingerprints: Mapping[str, str] = field(default_factory=frozen_map)


RestoreRows = Mapping[str, Sequence[tuple[str, str, str | None, str | None]]]
"""Path -> (key, operation, store fingerprint now, store fingerprint restored) per key."""


@dataclass(frozen=True, slots=True)
class KeyRow:
    key: str
    operation: str
    before: str
    after: str
    warning: Problem | None = None


def key_rows(
    change: SecretChange,
    *,
    fingerprints: Mapping[tuple[str, str], str],
    before: StoredSecret | None,
    after: StoredSecret | None,
    code: Callable[[str], str],
    store_known: bool = True,
    restored: Sequence[tuple[str, str, str | None, str | None]] | None = None,
) -> list[KeyRow]:
    """One row per key, sorted by key. ``after`` is the version this change applied;
    ``store_known`` says whether ``before`` was looked up (so a missing key is known missing).
    ``restored``: what a ``spec.restore`` writes back, resolved against the store."""
    held = before.fingerprints if before is not None else {}
    rows: list[KeyRow] = []
    if restored is not None:
        for key, operation, now, back in restored:
            # Store fingerprints on both sides, comparable with `sealgate store history`.
            rows.append(
                KeyRow(key, operation, code(now) if now else "—", code(back) if back else "removed")
            )
    elif change.restore_version is not None:
        # Not resolved against the store (a dry run): say what is asked, nothing more.
        rows.append(KeyRow("(every key)", f"restore (v{change.restore_version})", "—", "—"))
    else:
        rows.extend(
            KeyRow(key, f"restore (v{n})", "—", "—") for key, n in change.restore_keys.items()
        )
    for key in change.set:
        fp = fingerprints.get((change.path, key))
        new = code(fp) if fp else "—"
        if key in held:
            rows.append(KeyRow(key, "changed value", code(held[key]), new))
        else:
            rows.append(KeyRow(key, "new key", "—", new))
    for key, spec in change.generate.items():
        applied = after.fingerprints.get(key) if after is not None else None
        result = code(applied) if applied else "generated on apply"
        operation = f"generate ({spec.length}, {spec.alphabet})"
        rows.append(KeyRow(key, operation, code(held[key]) if key in held else "—", result))
    for key in change.delete:
        if key in held:
            rows.append(KeyRow(key, "delete", code(held[key]), "deleted"))
        elif not store_known:
            rows.append(KeyRow(key, "delete", "—", "deleted"))
        else:
            warning = Problem(
                change.source or change.path,
                "spec.delete",
                f"key {key} is not in {change.path}, so deleting it does nothing; remove it "
                "from the list",
            )
            rows.append(KeyRow(key, "delete", "—", "—", warning=warning))
    return sorted(rows, key=lambda r: r.key)


def version_text(before: StoredSecret | None, after: StoredSecret | None) -> str:
    now = f"v{before.version}" if before is not None else "new secret"
    if after is not None:
        return f"{now} → v{after.version}"
    nxt = before.version + 1 if before is not None else 1
    return f"{now} → v{nxt}"


def tier_text(
    change: SecretChange,
    decision: Decision,
    tier_moves: Mapping[str, tuple[Tier, Tier]] | None,
) -> str:
    judged = decision.tiers.get(change.path)
    move = (tier_moves or {}).get(change.path)
    if move is None:
        return str(judged or change.tier or "default")
    now, after = move
    text = f"{now} → {after}"
    if judged is not None and judged is not after:
        # A downgrade is judged at the higher tier it leaves; say so next to the arrow.
        text += f" (judged {judged})"
    return text


def key_table(
    changes: Sequence[SecretChange],
    decision: Decision,
    *,
    fingerprints: Mapping[tuple[str, str], str],
    before: Mapping[str, StoredSecret],
    after: Mapping[str, StoredSecret],
    tier_moves: Mapping[str, tuple[Tier, Tier]] | None,
    cell: Callable[[object], str],
    code: Callable[[str], str],
    store_known: bool = False,
    policies_of: Mapping[str, Sequence[str]] | None = None,
    restores: RestoreRows | None = None,
) -> tuple[list[str], list[Problem]]:
    """Markdown lines of the table, and the warnings it found (deletes of absent keys)."""
    lines = [
        "| Environment | Secret | Key | Change | Before | After | Version | Tier | Policy |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    warnings: list[Problem] = []
    for change in sorted(changes, key=lambda c: (c.environment, c.secret, c.source)):
        was, now = before.get(change.path), after.get(change.path)
        tier = cell(tier_text(change, decision, tier_moves))
        version = cell(version_text(was, now))
        names = (policies_of or {}).get(change.path)
        policy = ", ".join(cell(n) for n in names) if names else "—"
        rows = key_rows(
            change,
            fingerprints=fingerprints,
            before=was,
            after=now,
            code=code,
            store_known=store_known,
            restored=(restores or {}).get(change.path),
        )
        for row in rows:
            operation = row.operation
            if row.warning is not None:
                operation += " :warning: not in the secret"
                warnings.append(row.warning)
            lines.append(
                f"| {cell(change.environment)} | {cell(change.secret)} | {code(row.key)} "
                f"| {cell(operation)} | {row.before} | {row.after} | {version} | {tier} "
                f"| {policy} |"
            )
    lines.append("")
    legend = (
        "_Before_ is the store's fingerprint of the value it holds; _after_ is the new "
        "value's fingerprint as this pull request shows it: bound to the pull request, so "
        "it says nothing about any value shown elsewhere."
    )
    return [*lines, legend, ""], warnings
