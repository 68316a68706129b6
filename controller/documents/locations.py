"""Field paths inside a document and the YAML lines they came from."""

from __future__ import annotations

from collections.abc import Mapping

FieldPath = tuple[str | int, ...]
"""``("spec", "steps", 1, "required")``: keys of mappings and indexes of sequences."""

LineMap = Mapping[FieldPath, int]
"""1-based line of every key and sequence item of one document."""

_MAX_SEGMENT = 64


def render_path(path: FieldPath) -> str:
    """``spec.steps[1].required``: the field as a person would name it in a message."""
    text = ""
    for segment in path:
        if isinstance(segment, int):
            text += f"[{segment}]"
            continue
        # A pasted key can be kilobytes long; the start is enough to find it.
        name = segment if len(segment) <= _MAX_SEGMENT else segment[:_MAX_SEGMENT] + "..."
        text = f"{text}.{name}" if text else name
    return text


def line_of(lines: LineMap, path: FieldPath) -> int | None:
    """The line of ``path``, or of its nearest ancestor YAML gave a line for."""
    for end in range(len(path), -1, -1):
        line = lines.get(path[:end])
        if line is not None:
            return line
    return None
