"""What ``sealgate open`` prints: shell lines that ``eval`` back to the exact values, .env
lines, JSON; and values it cannot print safely in a format are refused, not mangled."""

from __future__ import annotations

import json
import shutil
import subprocess

import click
import pytest

from controller.cli.open import render
from controller.cli.open_client import OpenFailed, Values, target

AWKWARD = 'it\'s $HOME `id` "q" \\ back\nslash\ttab ünï'


def _values(data: dict[str, bytes]) -> Values:
    return Values(
        grant="production-pr-7-incident",
        ends_at="2026-03-01T10:00:00Z",
        environment="production",
        secret="payments/stripe",
        data=data,
    )


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_env_lines_eval_back_to_the_exact_value() -> None:
    text = render(_values({"API_KEY": AWKWARD.encode()}), "env")
    assert text.startswith("export API_KEY='")
    done = subprocess.run(
        ["bash", "-c", 'eval "$(cat)"; printf %s "$API_KEY"'],
        input=text.encode(),
        capture_output=True,
        check=True,
    )
    assert done.stdout.decode() == AWKWARD


def test_dotenv_escapes_quotes_newlines_and_dollars() -> None:
    text = render(_values({"A": b'x"y$z\nw\\'}), "dotenv")
    assert text == 'A="x\\"y\\$z\\nw\\\\"\n'


def test_env_refuses_a_key_that_is_no_shell_name() -> None:
    with pytest.raises(OpenFailed, match="-o dotenv or -o json"):
        render(_values({"tls.crt": b"x"}), "env")
    assert render(_values({"tls.crt": b"x"}), "dotenv") == 'tls.crt="x"\n'


def test_binary_values_only_as_json_base64() -> None:
    values = _values({"CERT": b"\xff\xfe", "NAME": b"text"})
    for output in ("env", "dotenv"):
        with pytest.raises(OpenFailed, match="-o json"):
            render(values, output)
    document = json.loads(render(values, "json"))
    assert document["values"] == {"NAME": "text"}
    assert document["valuesBase64"] == {"CERT": "//4="}


def test_values_are_sorted_by_key() -> None:
    text = render(_values({"B": b"2", "A": b"1"}), "env")
    assert text == "export A='1'\nexport B='2'\n"


@pytest.mark.parametrize(
    "path",
    ["production", "production/stripe", "Production/payments/stripe", "a/b/c/d", "x/../y", ""],
)
def test_a_bad_target_is_a_usage_error(path: str) -> None:
    with pytest.raises(click.UsageError):
        target(path)


def test_a_target_splits_into_environment_and_secret() -> None:
    assert target("production/payments/stripe") == ("production", "payments/stripe")


@pytest.mark.parametrize(
    "key", ["PATH", "LD_PRELOAD", "DYLD_INSERT_LIBRARIES", "BASH_ENV", "PYTHONPATH"]
)
def test_a_key_that_decides_which_code_runs_is_refused_for_eval(key: str) -> None:
    values = _values({key: b"/tmp/evil", "API_KEY": b"v"})
    with pytest.raises(OpenFailed, match="decide which code runs"):
        render(values, "env")
    assert key in render(values, "json")  # as data for a program it is harmless
