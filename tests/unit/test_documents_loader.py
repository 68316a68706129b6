"""The strict loader's limits: each malformed input yields one clear, located problem."""

from __future__ import annotations

import pytest

from controller.documents import (
    MAX_DEPTH,
    MAX_DOCUMENTS,
    MAX_FILE_BYTES,
    MAX_NODES,
    parse_changes,
    parse_document_file,
)
from controller.documents.yaml_loader import load_documents
from controller.errors import DocumentError, Problem
from tests.unit.test_documents import CHANGE, dump

BILLION_LAUGHS = b"""\
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""

NOT_PLAIN_KEYS = "keys must be plain strings"

CASES: list[tuple[str, bytes, str, str, int | None]] = [
    # name, data, field, message fragment, line
    ("anchor", b"a: &x 1\nb: 2\n", "a", "YAML anchors (&name) are not allowed", 1),
    ("alias", b"a: 1\nb: *x\n", "b", "YAML aliases (*name) are not allowed", 2),
    ("billion-laughs", BILLION_LAUGHS, "a", "YAML anchors (&name) are not allowed", 1),
    ("anchor-on-later-line", b"a: 1\nb:\n  c: &x [1]\n", "b.c", "anchors", 3),
    ("merge-key", b"a: 1\n<<: {b: 2}\n", "", NOT_PLAIN_KEYS, 2),
    ("duplicate-key", b"a: 1\nb: 2\na: 3\n", "a", "duplicate key (first on line 1): keep one", 3),
    (
        "nested-duplicate",
        b"spec:\n  set:\n    K: x\n    K: y\n",
        "spec.set.K",
        "duplicate key (first on line 3)",
        4,
    ),
    ("int-key", b"1: a\n", "", NOT_PLAIN_KEYS, 1),
    ("bool-key", b"spec:\n  true: a\n", "spec", NOT_PLAIN_KEYS, 2),
    ("null-key", b"~: a\n", "", NOT_PLAIN_KEYS, 1),
    ("float-key", b"a:\n  3.5: x\n", "a", NOT_PLAIN_KEYS, 2),
    ("list-key", b"? [a]\n: b\n", "", NOT_PLAIN_KEYS, 1),
    ("mapping-key", b"? {a: 1}\n: b\n", "", NOT_PLAIN_KEYS, 1),
    ("too-big", b"#" * (MAX_FILE_BYTES + 1), "", f"over the {MAX_FILE_BYTES} byte limit", None),
    (
        "too-many-documents",
        b"---\na: 1\n" * (MAX_DOCUMENTS + 1),
        "",
        f"more than {MAX_DOCUMENTS} documents",
        2 * MAX_DOCUMENTS + 1,
    ),
    (
        "too-deep-lists",
        b"a: " + b"[" * (MAX_DEPTH + 5) + b"]" * (MAX_DEPTH + 5),
        "",
        f"deeper than {MAX_DEPTH} levels",
        1,
    ),
    ("too-deep-flow-bomb", b"[" * 50_000, "", f"deeper than {MAX_DEPTH} levels", 1),
    (
        "too-deep-mappings",
        "".join(f"{'  ' * i}k{i}:\n" for i in range(MAX_DEPTH + 2)).encode(),
        "",
        f"deeper than {MAX_DEPTH} levels",
        MAX_DEPTH + 1,
    ),
    (
        "too-many-values",
        b"a:\n" + b"- 1\n" * MAX_NODES,
        f"a[{MAX_NODES - 2}]",
        f"more than {MAX_NODES} values in one file",
        MAX_NODES,
    ),
    ("not-utf8", b"a: 1\nb: \xff\xfe\xfd\n", "", "file is not UTF-8 text: save it as UTF-8", 2),
    ("utf16", "a: 1\n".encode("utf-16"), "", "not UTF-8", 1),
    ("binary-garbage", bytes(range(256)), "", "not UTF-8", 2),
    ("nul-byte", b"a: 1\nb: x\x00y\n", "", "control character #x0000 is not allowed", 2),
    (
        "python-tag",
        b"a: !!python/object/apply:os.system [echo]\n",
        "a",
        "YAML tag !!python/object/apply:os.system is not allowed",
        1,
    ),
    ("custom-tag", b"a: !Ref x\n", "a", "YAML type !Ref is not allowed: quote the value", 1),
    ("binary-tag", b"a: !!binary aGk=\n", "a", "YAML type !!binary is not allowed", 1),
    (
        "date",
        b"a:\n  b: 2026-11-21\n",
        "a.b",
        "YAML type !!timestamp is not allowed: quote the value",
        2,
    ),
    ("set-tag", b"a: !!set {x, y}\n", "a", "YAML tag !!set is not allowed here", 1),
    ("omap-tag", b"a: !!omap [x: 1]\n", "a", "YAML tag !!omap is not allowed here", 1),
    ("huge-number", b"a: " + b"9" * 5000 + b"\n", "a", "number is too large", 1),
    (
        "unterminated-quote",
        b'a: 1\nb: "abc\n',
        "",
        "not valid YAML: while scanning a quoted scalar, found unexpected end of stream",
        3,
    ),
    ("tab-indent", b"a:\n\tb: 1\n", "", "not valid YAML", 2),
    ("bad-indent", b"a:\n  b: 1\n c: 2\n", "", "not valid YAML", 3),
    ("colon-in-plain-value", b"a: b: c\n", "", "not valid YAML", 1),
    (
        "list-document",
        b"- a\n- b\n",
        "",
        "a document must be a mapping with apiVersion, kind, metadata and spec",
        1,
    ),
    ("scalar-document", b"just text\n", "", "a document must be a mapping", 1),
    ("scalar-second-document", dump(CHANGE) + b"---\n42\n", "", "a document must be a mapping", 12),
]


@pytest.mark.parametrize(
    ("data", "field", "message", "line"),
    [
        pytest.param(data, field, message, line, id=name)
        for name, data, field, message, line in CASES
    ],
)
def test_loader_refuses(data: bytes, field: str, message: str, line: int | None) -> None:
    with pytest.raises(DocumentError) as caught:
        parse_document_file("changes/production/x.yaml", data)
    (problem,) = caught.value.problems
    assert problem.file == "changes/production/x.yaml"
    assert problem.field == field
    assert message in problem.message
    assert problem.line == line


def test_limits_are_inclusive() -> None:
    document = dump(CHANGE)
    padding = b"#" * (MAX_FILE_BYTES - len(document) - 1) + b"\n"
    (change,) = parse_changes("c.yaml", document + padding)
    assert len(document + padding) == MAX_FILE_BYTES
    assert change.name == "rotate-stripe"
    many = b"".join(b"---\n" + dump(CHANGE) for _ in range(MAX_DOCUMENTS))
    assert len(parse_changes("c.yaml", many)) == MAX_DOCUMENTS


def test_value_limit_is_per_file_and_inclusive() -> None:
    # Each document is a mapping, a list and its items: half the budget exactly.
    half = MAX_NODES // 2
    document = b"a:\n" + b"- 1\n" * (half - 2)
    loaded = load_documents("x.yaml", document + b"---\n" + document)
    assert [document.value for document in loaded] == [{"a": [1] * (half - 2)}] * 2
    with pytest.raises(DocumentError, match=f"more than {MAX_NODES} values"):
        load_documents("x.yaml", document + b"---\n" + document + b"- 1\n")


def test_utf8_byte_order_mark_is_accepted() -> None:
    (change,) = parse_changes("c.yaml", b"\xef\xbb\xbf" + dump(CHANGE))
    assert change.secret == "payments/stripe"


@pytest.mark.parametrize(
    "data",
    [
        b'spec:\n  set:\n    DB: "hunter2-canary\n',
        b"spec:\n  set:\n    DB: hunter2-canary: x\n",
        b"spec:\n  set:\n    DB: hunter2-canary\n   bad: indent\n",
        b"spec:\n  set:\n    DB: 'hunter2-canary\n\x00",
        b"spec:\n  set:\n    DB: !secret hunter2-canary\n",
        b"spec:\n  set:\n    DB: &a hunter2-canary\n",
        b"spec:\n  set:\n    hunter2-canary\n  x: y\n",
    ],
)
def test_yaml_errors_do_not_quote_the_line(data: bytes) -> None:
    with pytest.raises(DocumentError) as caught:
        parse_document_file("c.yaml", data)
    problems: tuple[Problem, ...] = caught.value.problems
    assert problems
    assert "hunter2" not in str(caught.value)
    assert all(p.line is not None for p in problems)


@pytest.mark.parametrize(
    ("data", "line"),
    [
        pytest.param(b"a: " + b"[" * (MAX_DEPTH + 5), 1, id="refused-by-sealgate"),
        pytest.param(b"[" * 50_000, 1, id="flow-bomb"),
        pytest.param(b"kind: x\nspec:\n  a: " + b"{b: " * 5_000, 3, id="flow-bomb-line-3"),
    ],
)
def test_depth_message_is_sealgate_s_whoever_refuses_first(data: bytes, line: int) -> None:
    # libyaml 0.2.6 refuses past 1000 levels before sealgate's own check is reached; the
    # message must not depend on which of the two speaks.
    with pytest.raises(DocumentError) as caught:
        parse_document_file("changes/production/x.yaml", data)
    (problem,) = caught.value.problems
    assert problem.message == (
        f"nesting is deeper than {MAX_DEPTH} levels: no sealgate document needs that; "
        "check the indentation"
    )
    assert (problem.file, problem.field, problem.line) == ("changes/production/x.yaml", "", line)
