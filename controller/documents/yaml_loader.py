"""A safe, strict YAML loader for files written by people in pull requests.

PyYAML parses; this module only refuses what a sealgate document never needs and an
attacker could use: aliases and anchors (billion laughs), duplicate keys (two readers may
disagree on which wins), non-string keys, unknown tags, deep nesting (recursion), huge
files and huge document counts. Every node keeps its line so messages can point at it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from controller.documents.locations import FieldPath, LineMap, render_path
from controller.errors import DocumentError, Problem

MAX_FILE_BYTES = 256 * 1024
MAX_DOCUMENTS = 64
MAX_DEPTH = 32
MAX_NODES = 20_000
"""Values (scalars, lists, mappings) per file: thousands of keys fit; a flood does not."""

_TOO_DEEP = (
    f"nesting is deeper than {MAX_DEPTH} levels: no sealgate document needs that; "
    "check the indentation"
)
# libyaml 0.2.6 (bundled in PyYAML's wheels since 6.0.3) refuses nesting past 1000 levels
# itself ("exceeded maximum nesting depth", a ScannerError or ParserError). Its scanner
# looks ahead over flow collections, so that refusal can come before this loader has seen
# depth 33: the same document must get the same message whichever library refuses first.
_DEPTH_WORDS = ("nesting depth", "max depth", "maximum depth", "nest level")

_STR = "tag:yaml.org,2002:str"
_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"
# Scalars a sealgate document can hold; timestamps, binary and custom tags are refused so
# that a value's type never depends on how a YAML library resolves it.
_SCALAR_TAGS = frozenset(
    {_STR, "tag:yaml.org,2002:int", "tag:yaml.org,2002:float", "tag:yaml.org,2002:bool"}
    | {"tag:yaml.org,2002:null"}
)


@dataclass(frozen=True, slots=True)
class LoadedDocument:
    index: int
    """Position in the file's YAML stream, counting from 0."""
    value: object
    """Plain data: dict with str keys, list, str, int, float, bool or None."""
    lines: LineMap


class _Refused(Exception):
    """A construct this loader does not accept, with the line YAML reported."""

    def __init__(self, message: str, line: int | None, path: FieldPath = ()) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.path = path


# libyaml's event parser when PyYAML was built with it (about ten times faster on large
# files, which matters when every file of a pull request is parsed); the pure-Python one
# otherwise. Only events are taken from it: composing them is done below, so no alias is
# ever expanded and no recursion is unbounded.
_EventSource: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_NON_PRINTABLE = yaml.reader.Reader.NON_PRINTABLE


def _line(event: Any) -> int | None:
    mark = getattr(event, "start_mark", None)
    return None if mark is None else int(mark.line) + 1


def load_documents(source: str, data: bytes) -> tuple[LoadedDocument, ...]:
    """Parse every non-empty document of one file, or raise DocumentError naming ``source``."""
    if len(data) > MAX_FILE_BYTES:
        raise DocumentError(
            [
                Problem(
                    source,
                    "",
                    f"file is {len(data)} bytes, over the {MAX_FILE_BYTES} byte limit: "
                    "split it into several files",
                )
            ]
        )
    text = _decode(source, data)
    try:
        return _compose_all(text)
    except _Refused as exc:
        raise DocumentError(
            [Problem(source, render_path(exc.path), exc.message, exc.line)]
        ) from exc
    except yaml.MarkedYAMLError as exc:
        if _is_depth_refusal(exc):
            raise DocumentError([Problem(source, "", _TOO_DEEP, _mark_line(exc))]) from exc
        raise DocumentError([_yaml_problem(source, exc)]) from exc
    except yaml.YAMLError as exc:
        raise DocumentError([Problem(source, "", f"not valid YAML: {type(exc).__name__}")]) from exc


def _compose_all(text: str) -> tuple[LoadedDocument, ...]:
    composer = _Composer(_EventSource(text))
    try:
        return composer.documents()
    finally:
        composer.events.dispose()


def _refuse_reuse(event: Any, path: FieldPath) -> None:
    if isinstance(event, yaml.AliasEvent):
        raise _Refused(
            "YAML aliases (*name) are not allowed: write the value out in full",
            _line(event),
            path,
        )
    if getattr(event, "anchor", None) is not None:
        raise _Refused(
            "YAML anchors (&name) are not allowed: write every value out in full",
            _line(event),
            path,
        )


class _Composer:
    """Turns parser events into plain data, refusing as it goes (so a refused file costs
    no more than reading up to the refusal)."""

    def __init__(self, events: Any) -> None:
        self.events = events
        self.nodes = 0

    def documents(self) -> tuple[LoadedDocument, ...]:
        events = self.events
        documents: list[LoadedDocument] = []
        events.get_event()  # stream start
        index = 0
        while not events.check_event(yaml.StreamEndEvent):
            if index >= MAX_DOCUMENTS:
                raise _Refused(
                    f"more than {MAX_DOCUMENTS} documents in one file: split it",
                    _line(events.peek_event()),
                )
            events.get_event()  # document start
            lines: dict[FieldPath, int] = {}
            value = self.node((), lines, 1)
            events.get_event()  # document end
            # `---` with nothing after it is an empty document, not a null one.
            if value is not None:
                documents.append(LoadedDocument(index, value, lines))
            index += 1
        return tuple(documents)

    def node(self, path: FieldPath, lines: dict[FieldPath, int], depth: int) -> object:
        events = self.events
        event = events.get_event()
        _refuse_reuse(event, path)
        line = _line(event) or 1
        lines.setdefault(path, line)
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise _Refused(
                f"more than {MAX_NODES} values in one file: split it into several files",
                line,
                path,
            )
        if depth > MAX_DEPTH:
            raise _Refused(_TOO_DEEP, line)
        if isinstance(event, yaml.ScalarEvent):
            return _scalar(events, event, path)
        if isinstance(event, yaml.SequenceStartEvent):
            _expect_tag(events, event, SequenceNode, _SEQ, path)
            items: list[object] = []
            while not events.check_event(yaml.SequenceEndEvent):
                items.append(self.node((*path, len(items)), lines, depth + 1))
            events.get_event()
            return items
        _expect_tag(events, event, MappingNode, _MAP, path)
        mapping: dict[str, object] = {}
        while not events.check_event(yaml.MappingEndEvent):
            key, key_line = self.key(path, line)
            child = (*path, key)
            if key in mapping:
                raise _Refused(
                    f"duplicate key (first on line {lines[child]}): keep one of them",
                    key_line,
                    child,
                )
            lines[child] = key_line
            mapping[key] = self.node(child, lines, depth + 1)
        events.get_event()
        return mapping

    def key(self, path: FieldPath, mapping_line: int) -> tuple[str, int]:
        event = self.events.get_event()
        _refuse_reuse(event, path)
        line = _line(event) or mapping_line
        if (
            not isinstance(event, yaml.ScalarEvent)
            or _resolve(self.events, event, ScalarNode) != _STR
        ):
            raise _Refused(
                "keys must be plain strings (a number, list or `<<` merge key is not "
                "allowed): quote the key",
                line,
                path,
            )
        return str(event.value), line


def _resolve(events: Any, event: Any, kind: type[Node]) -> str:
    tag = event.tag
    if tag is None or tag == "!":
        value = event.value if kind is ScalarNode else None
        tag = events.resolve(kind, value, event.implicit)
    return str(tag)


def _expect_tag(events: Any, event: Any, kind: type[Node], expected: str, path: FieldPath) -> None:
    tag = _resolve(events, event, kind)
    if tag != expected:
        raise _Refused(
            f"YAML tag {_tag_name(tag)} is not allowed here: remove it", _line(event), path
        )


def _scalar(events: Any, event: Any, path: FieldPath) -> object:
    tag = _resolve(events, event, ScalarNode)
    if tag not in _SCALAR_TAGS:
        raise _Refused(
            f"YAML type {_tag_name(tag)} is not allowed: quote the value to make it a string",
            _line(event),
            path,
        )
    if tag == _STR:
        return str(event.value)
    node = ScalarNode(tag, event.value, event.start_mark, event.end_mark, event.style)
    try:
        return events.construct_object(node, deep=True)
    except ValueError as exc:
        # int() refuses numbers with thousands of digits.
        raise _Refused("number is too large", _line(event), path) from exc


def _decode(source: str, data: bytes) -> str:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise DocumentError(
            [Problem(source, "", "file is not UTF-8 text: save it as UTF-8", line)]
        ) from exc
    text = text.removeprefix("\ufeff")
    # The YAML reader refuses these too, but without a line; say where it is.
    control = _NON_PRINTABLE.search(text)
    if control is not None:
        raise DocumentError(
            [
                Problem(
                    source,
                    "",
                    f"control character #x{ord(control.group()):04x} is not allowed in YAML "
                    "text: remove it",
                    text.count("\n", 0, control.start()) + 1,
                )
            ]
        )
    return text


def _tag_name(tag: str) -> str:
    if tag.startswith("tag:yaml.org,2002:"):
        return "!!" + tag.removeprefix("tag:yaml.org,2002:")
    return tag


def _is_depth_refusal(exc: yaml.MarkedYAMLError) -> bool:
    problem = (exc.problem or "").lower()
    return any(words in problem for words in _DEPTH_WORDS)


def _mark_line(exc: yaml.MarkedYAMLError) -> int | None:
    mark = exc.problem_mark or exc.context_mark
    return None if mark is None else int(mark.line) + 1


def _yaml_problem(source: str, exc: yaml.MarkedYAMLError) -> Problem:
    # str(exc) would quote the offending line, which may hold a plaintext value; keep the
    # problem and context, which name at most a character or a token.
    parts = [part for part in (exc.context, exc.problem) if part]
    return Problem(source, "", "not valid YAML: " + ", ".join(parts), _mark_line(exc))
