"""GitHub's schema (the vendored subset), built once per process on first use."""

from __future__ import annotations

import threading
from pathlib import Path

from graphql import GraphQLSchema, build_schema

SDL = Path(__file__).with_name("schema.graphql")

_lock = threading.Lock()
_built: GraphQLSchema | None = None


def schema() -> GraphQLSchema:
    """The schema; the first caller builds it while concurrent callers wait for it."""
    global _built  # noqa: PLW0603 - one schema per process, built lazily
    if _built is None:
        with _lock:
            if _built is None:
                # GitHub's SDL defines one field twice; the subset keeps GitHub's text as is.
                _built = build_schema(SDL.read_text(encoding="utf-8"), assume_valid_sdl=True)
    return _built
