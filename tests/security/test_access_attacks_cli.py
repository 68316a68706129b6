"""Attacks through the values themselves: whoever may propose a change can set a value they
cannot read (it is sealed, so approvers never see it either). That value must not run as a
command on the machine of the person who later opens it with ``sealgate open`` and feeds the
output to a shell (``eval "$(sealgate open ...)"``, ``set -a; . ./.env``).

The value goes in through a real change pull request, out through ``POST /v1/open`` over
loopback HTTP and the ``sealgate open`` command, and into a real ``sh``.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from controller.cli import main
from tests.integration.test_reconciler_world import ENV
from tests.security.access_attack_support import (
    PATH,
    AccessWorld,
    access_yaml,
    build_access_world,
)
from tests.security.test_access_attacks_open import _change

PAYLOADS = (
    "a`touch PWNED-backtick`b",
    "a$(touch PWNED-dollar)b",
    "a'; touch PWNED-quote; echo '",
    'a"; touch PWNED-dquote; echo "',
    "a\\`touch PWNED-escaped`\\",
    "line one\n`touch PWNED-newline`\nline three",
    "${HOME}$PATH!!",
)


@pytest.fixture
def aw(tmp_path: Path) -> Iterator[AccessWorld]:
    for built in build_access_world(tmp_path):
        _change(built, PATH, {f"V{n}": p.encode() for n, p in enumerate(PAYLOADS)})
        built.grant_for(
            {f"access/{ENV}/debug.yaml": access_yaml(secrets=f"    - {{secret: {PATH}}}\n")}
        )
        yield built


def _open(aw: AccessWorld, output: str) -> str:
    env = {"SEALGATE_API": aw.opener.url, "GITHUB_TOKEN": aw.token("alice")}
    result = CliRunner(env=env).invoke(main, ["open", f"{ENV}/{PATH}", "-o", output])
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.mark.parametrize(
    ("output", "script"),
    [
        ("env", 'eval "$(cat values)"'),
        ("dotenv", "set -a; . ./values; set +a"),
    ],
)
def test_a_planted_value_never_runs_in_the_shell_that_reads_it(
    aw: AccessWorld, tmp_path: Path, output: str, script: str
) -> None:
    work = tmp_path / f"shell-{output}"
    work.mkdir()
    (work / "values").write_text(_open(aw, output))
    shown = "".join(f'printf "%s\\0" "$V{n}"; ' for n in range(len(PAYLOADS)))
    done = subprocess.run(
        ["sh", "-c", f"{script}; {shown}"],
        cwd=work,
        capture_output=True,
        check=False,
        timeout=30,
        env={"PATH": "/usr/bin:/bin", "HOME": str(work)},
    )
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in work.iterdir()) == ["values"]  # nothing was run
    seen = done.stdout.decode().split("\0")[:-1]
    # The shell sees every value exactly as stored (a .env file spells a newline "\n",
    # which a shell leaves as it is).
    for value, got in zip(PAYLOADS, seen, strict=True):
        if output == "env" or "\n" not in value:
            assert got == value
