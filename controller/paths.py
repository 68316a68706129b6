"""Where the shipped data (schemas, example policies) lives, in a checkout or a wheel."""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def data_dir(name: str) -> Path:
    """``schemas`` or ``policies``: inside the wheel, else at the repository root."""
    for candidate in (_PACKAGE / "_data" / name, _PACKAGE.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"sealgate's {name}/ directory is missing from this installation")
