"""The summary's lines about what a change does to a Secret besides its data."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from controller.model import MetadataEdit, SecretChange


def shape_lines(changes: Sequence[SecretChange], code: Callable[[str], str]) -> list[str]:
    """One bullet per change that sets a type, labels or annotations (``code`` makes a safe
    code span). Annotation values are free text of any length: only their keys are listed,
    the diff shows the rest."""
    bullets: list[str] = []
    for change in sorted(changes, key=lambda c: (c.path, c.source)):
        parts: list[str] = []
        if change.type is not None:
            parts.append("type " + code(change.type))
        if change.labels:
            parts.append("labels " + _edit(change.labels, code, with_values=True))
        if change.annotations:
            parts.append("annotations " + _edit(change.annotations, code, with_values=False))
        if parts:
            bullets.append(f"- {code(change.path)}: " + "; ".join(parts))
    return ["**Secret metadata:**", *bullets, ""] if bullets else []


def _edit(edit: MetadataEdit, code: Callable[[str], str], *, with_values: bool) -> str:
    shown = [
        code(f"+{key}={value}") if with_values else code(f"+{key}")
        for key, value in sorted(edit.set.items())
    ]
    shown += [code(f"-{key}") for key in sorted(edit.remove)]
    return ", ".join(shown)
