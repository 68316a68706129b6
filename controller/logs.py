"""Logging for the long-running controller: JSON lines or text, with request context.

``logging.format: json`` writes one JSON object per line: ``time`` (UTC, ISO 8601),
``level``, ``logger``, ``message``, and ``repo``, ``pr``, ``env``, ``change_id`` when the
record carries them (``extra={...}``) or the thread set them with :func:`log_context`.

Client libraries are capped at INFO whatever the configured level: at DEBUG ``urllib3`` logs
request paths (a Slack or Teams webhook path is its credential), PyGithub logs URLs and
headers, and the Kubernetes client logs request and response bodies, which for a Secret are
its values.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import sys
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from types import MappingProxyType
from typing import IO, Any

CONTEXT_FIELDS = ("repo", "pr", "env", "change_id")
CAPPED_LOGGERS = ("urllib3", "github", "kubernetes", "git")
LEVELS: Mapping[str, int] = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}

_context: contextvars.ContextVar[Mapping[str, object]] = contextvars.ContextVar(
    "sealgate_log_context", default=MappingProxyType({})
)


@contextlib.contextmanager
def log_context(**fields: object) -> Iterator[None]:
    """Attach ``repo``, ``pr``, ``env`` or ``change_id`` to every record logged inside."""
    token = _context.set({**_context.get(), **fields})
    try:
        yield
    finally:
        _context.reset(token)


def _fields(record: logging.LogRecord) -> dict[str, object]:
    found: dict[str, object] = {}
    context = _context.get()
    for name in CONTEXT_FIELDS:
        value = getattr(record, name, None)
        if value is None:
            value = context.get(name)
        if value is not None:
            found[name] = value
    return found


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        body: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        body.update(_fields(record))
        if record.exc_info and record.exc_info[0] is not None:
            body["error"] = record.exc_info[0].__name__
            body["traceback"] = self.formatException(record.exc_info)
        return json.dumps(body, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        fields = _fields(record)
        if fields:
            text += " " + " ".join(f"{k}={v}" for k, v in fields.items())
        return text


def setup_logging(level: str = "info", fmt: str = "json", stream: IO[str] | None = None) -> None:
    """Configure the root logger once for the process (replacing earlier handlers)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    numeric = LEVELS.get(level, logging.INFO)
    root.setLevel(numeric)
    for name in CAPPED_LOGGERS:
        logging.getLogger(name).setLevel(max(numeric, logging.INFO))
