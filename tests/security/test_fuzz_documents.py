"""Malformed documents never crash the loader, the parsers or ``sealgate validate``.

Every case either parses or yields a DocumentError whose every problem names the file;
through the command line, every case exits 0 or 1 with no traceback. Plaintext planted
where a sealed value belongs never appears in any message.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from controller.cli import main
from controller.cli.exit_codes import ExitCode
from controller.documents import parse_document_file, parse_rules
from controller.errors import DocumentError, Problem
from tests.unit.test_documents import (
    CHANGE,
    ENVIRONMENT,
    FULL_CHANGE,
    POLICY,
    STEPS_POLICY,
    dump,
    fresh,
)

pytestmark = pytest.mark.slow

SOURCE = "changes/production/fuzz.yaml"
CANARY = "canary-plaintext-93e1"
SEEDS = [
    dump(ENVIRONMENT),
    dump(POLICY),
    dump(STEPS_POLICY),
    dump(FULL_CHANGE),
    dump(CHANGE, CHANGE),
]
YAML_SIGNS = [
    b":",
    b"-",
    b"- ",
    b"&a ",
    b"*a",
    b"!!",
    b"!x ",
    b"[",
    b"]",
    b"{",
    b"}",
    b'"',
    b"'",
    b"\n",
    b"\t",
    b"#",
    b"? ",
    b"|",
    b">",
    b"%",
    b"@",
    b"`",
    b",",
    b"---\n",
    b"...\n",
    b"<<: ",
    b"\x00",
    b"\xff",
    b"\xef\xbb\xbf",
    b"  ",
    b"~",
    b"0x1",
    b"1e999",
    b"\\",
]


def fuzz_settings(examples: int) -> settings:
    return settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


@st.composite
def mutated_documents(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 6))):
        position = draw(st.integers(0, len(data)))
        operation = draw(st.sampled_from(["insert", "delete", "replace", "random", "repeat"]))
        if operation == "insert":
            data[position:position] = draw(st.sampled_from(YAML_SIGNS))
        elif operation == "delete":
            del data[position : position + draw(st.integers(1, 16))]
        elif operation == "replace":
            data[position : position + 1] = draw(st.sampled_from(YAML_SIGNS))
        elif operation == "random":
            data[position:position] = draw(st.binary(min_size=1, max_size=8))
        else:
            line_start = data.rfind(b"\n", 0, position) + 1
            data[line_start:line_start] = data[line_start:position] + b"\n"
    return bytes(data)


JSON_LIKE = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)


@st.composite
def reshaped_documents(draw: st.DrawFn) -> bytes:
    """A valid document with one field (at any depth) replaced by arbitrary data."""
    document = fresh(draw(st.sampled_from([ENVIRONMENT, POLICY, STEPS_POLICY, FULL_CHANGE])))
    parent: Any = document
    while True:
        keys = list(parent) if isinstance(parent, dict) else list(range(len(parent)))
        key = draw(st.sampled_from(keys))
        child = parent[key]
        if not isinstance(child, dict | list) or not child or draw(st.booleans()):
            break
        parent = child
    parent[key] = draw(JSON_LIKE)
    return yaml.safe_dump(document, allow_unicode=draw(st.booleans())).encode()


def problems_of(data: bytes) -> tuple[Problem, ...] | None:
    """None when ``data`` parses; the problems when it is refused the expected way."""
    try:
        parse_document_file(SOURCE, data)
    except DocumentError as exc:
        return exc.problems
    return None


def assert_parses_or_names_the_file(data: bytes) -> None:
    problems = problems_of(data)
    if problems is None:
        return
    assert problems
    for problem in problems:
        assert problem.file == SOURCE
        assert str(problem).startswith(SOURCE)
        assert problem.message


@fuzz_settings(2000)
@given(mutated_documents())
def test_mutated_documents(data: bytes) -> None:
    assert_parses_or_names_the_file(data)


@fuzz_settings(400)
@given(reshaped_documents())
def test_reshaped_documents(data: bytes) -> None:
    assert_parses_or_names_the_file(data)


@fuzz_settings(1500)
@given(st.binary(max_size=600))
def test_random_bytes(data: bytes) -> None:
    assert_parses_or_names_the_file(data)


@fuzz_settings(1000)
@given(st.lists(st.sampled_from([*YAML_SIGNS, b"a", b"b: ", b"1", b"kind", b" "]), max_size=60))
def test_yaml_punctuation_soup(parts: list[bytes]) -> None:
    assert_parses_or_names_the_file(b"".join(parts))


@fuzz_settings(300)
@given(JSON_LIKE.filter(lambda value: not (isinstance(value, str) and value.startswith("sg1:"))))
def test_plaintext_under_set_is_never_echoed(value: Any) -> None:
    planted = (
        CANARY + value
        if isinstance(value, str)
        else [CANARY, value]
        if not isinstance(value, dict)
        else {**value, "v": CANARY}
    )
    document = fresh(CHANGE)
    document["spec"]["set"]["STRIPE_KEY"] = planted
    with pytest.raises(DocumentError) as caught:
        parse_document_file(SOURCE, yaml.safe_dump(document).encode())
    assert CANARY not in str(caught.value)
    assert any("rotate this secret" in p.message for p in caught.value.problems)


@fuzz_settings(150)
@given(
    st.dictionaries(
        st.sampled_from(
            [
                "environments/production.yaml",
                "environments/x.yml",
                "policies/a.yaml",
                "policies/b/c.yaml",
                "other.yaml",
            ]
        ),
        mutated_documents(),
        max_size=4,
    )
)
def test_rules_from_mutated_files(files: dict[str, bytes]) -> None:
    problems: tuple[Problem, ...] = ()
    try:
        parse_rules(files)
    except DocumentError as exc:
        problems = exc.problems
        assert problems
    assert {problem.file for problem in problems} <= set(files)


@fuzz_settings(200)
@given(st.one_of(mutated_documents(), reshaped_documents(), st.binary(max_size=300)))
def test_validate_command_never_crashes(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        for area in ("environments", "policies", "changes/production"):
            (root / area).mkdir(parents=True)
        (root / "environments" / "production.yaml").write_bytes(dump(ENVIRONMENT))
        (root / "policies" / "p.yaml").write_bytes(dump(POLICY))
        (root / SOURCE).write_bytes(data)
        result = CliRunner().invoke(main, ["validate", str(root)])
    assert result.exit_code in (ExitCode.OK, ExitCode.INVALID), result.output
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit)
    if result.exit_code == ExitCode.INVALID:
        assert SOURCE in result.output
        assert result.output.splitlines()[-1].startswith("invalid: ")
    else:
        assert result.output.startswith("valid: ")
