"""``deploy/Dockerfile`` follows the image rules (no Docker engine here, so it is linted).

Rules: multi-stage; every base image pinned to a version tag (never ``latest``); the final
stage runs as a numeric non-root user, installs no compiler or build tool and runs no pip
(it copies the virtual environment built in an earlier stage); the entrypoint is
``sealgate run``; no credential in ``ENV``, ``ARG`` or ``LABEL``; and the files the build
stage copies exist in the repository.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "deploy/Dockerfile"
BUILD_TOOLS = re.compile(
    r"\b(gcc|g\+\+|clang|make|build-essential|cmake|libc6-dev|python3?-dev|\S+-dev|rustc|cargo"
    r"|autoconf|automake|pkg-config)\b"
)
CREDENTIAL = re.compile(r"(?i)(token|passw|secret|private|credential|api[_-]?key)")
# A full version (major.minor.patch), optionally with a variant: 3.11.11-slim-bookworm.
VERSION_TAG = re.compile(r"^\d+\.\d+\.\d+(-[a-z0-9.-]+)?$")
UID = 10001


@dataclass(frozen=True)
class Instruction:
    keyword: str
    arguments: str
    line: int


def parse(text: str) -> list[Instruction]:
    """Instructions with continuation lines joined and comments dropped."""
    instructions: list[Instruction] = []
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), 1):
        stripped = raw.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if pending and stripped.startswith("#"):
            continue
        if not pending:
            start = number
        if stripped.endswith("\\"):
            pending.append(stripped[:-1].strip())
            continue
        pending.append(stripped)
        line = " ".join(p for p in pending if p)
        pending = []
        keyword, _, arguments = line.partition(" ")
        instructions.append(Instruction(keyword.upper(), arguments.strip(), start))
    assert not pending, "the Dockerfile ends inside a continued line"
    return instructions


def stages(instructions: list[Instruction]) -> list[list[Instruction]]:
    """The instructions of each stage, each list starting with its FROM (global ARGs are
    left out)."""
    result: list[list[Instruction]] = []
    for instruction in instructions:
        if instruction.keyword == "FROM":
            result.append([])
        if result:
            result[-1].append(instruction)
    return result


def _exec_form(arguments: str) -> list[str]:
    if arguments.startswith("["):
        parsed = json.loads(arguments)
        assert isinstance(parsed, list)
        return [str(p) for p in parsed]
    return shlex.split(arguments)


def _key_values(arguments: str) -> dict[str, str]:
    pairs = shlex.split(arguments)
    if len(pairs) == 2 and "=" not in pairs[0]:
        return {pairs[0]: pairs[1]}  # the legacy "ENV KEY value" form
    return dict(p.partition("=")[::2] for p in pairs)


def lint(text: str) -> list[str]:
    """Every broken rule, as a message naming the line."""
    found: list[str] = []
    instructions = parse(text)
    all_stages = stages(instructions)
    for instruction in instructions:
        if instruction.keyword == "FROM":
            break
        if instruction.keyword != "ARG":
            found.append(f"line {instruction.line}: {instruction.keyword} before any FROM")
    if len(all_stages) < 2:
        found.append("not multi-stage: the final image would carry the build")
    stage_names: set[str] = set()
    for stage in all_stages:
        base = stage[0]
        words = [w for w in base.arguments.split() if not w.startswith("--")]
        image = words[0]
        if len(words) >= 3 and words[1].upper() == "AS":
            stage_names.add(words[2])
        if image in stage_names:
            continue
        name, _, tag = image.split("@")[0].rpartition(":")
        if not name or "/" in tag:
            found.append(f"line {base.line}: base image {image} has no tag")
        elif "latest" in tag or not VERSION_TAG.match(tag):
            found.append(f"line {base.line}: base image {image} is not pinned to a version")
        if "$" in image:
            found.append(f"line {base.line}: base image {image} comes from a build argument")
    final = all_stages[-1] if all_stages else []
    users = [i for i in final if i.keyword == "USER"]
    if not users:
        found.append("the final stage runs as root: no USER")
    else:
        user, _, group = users[-1].arguments.partition(":")
        if not user.isdigit() or int(user) == 0 or (group and not group.isdigit()):
            found.append(f"line {users[-1].line}: USER must be a numeric non-root uid[:gid]")
    for instruction in final:
        if instruction.keyword == "RUN":
            command = instruction.arguments
            if re.search(r"\bpip3?\b|python3? -m pip|\buv\b|poetry", command):
                found.append(f"line {instruction.line}: pip runs in the final stage")
            match = BUILD_TOOLS.search(command)
            if match:
                found.append(f"line {instruction.line}: installs build tool {match.group(0)}")
            if "apt-get install" in command and "--no-install-recommends" not in command:
                found.append(f"line {instruction.line}: apt-get install pulls recommends")
            if "apt-get install" in command and "rm -rf /var/lib/apt/lists" not in command:
                found.append(f"line {instruction.line}: leaves the apt lists in the image")
        if instruction.keyword in ("ADD",) and "://" in instruction.arguments:
            found.append(f"line {instruction.line}: ADD from a URL")
    entrypoints = [i for i in final if i.keyword == "ENTRYPOINT"]
    if not entrypoints:
        found.append("no ENTRYPOINT in the final stage")
    else:
        entry = entrypoints[-1]
        if not entry.arguments.startswith("["):
            found.append(f"line {entry.line}: ENTRYPOINT in shell form (signals never arrive)")
        elif _exec_form(entry.arguments)[:2] != ["sealgate", "run"]:
            found.append(f"line {entry.line}: ENTRYPOINT must run `sealgate run`")
    for instruction in instructions:
        if instruction.keyword in ("ENV", "ARG", "LABEL"):
            for key, value in _key_values(instruction.arguments).items():
                if CREDENTIAL.search(key):
                    found.append(f"line {instruction.line}: {instruction.keyword} {key}")
                if re.search(r"-----BEGIN|gh[pousr]_[A-Za-z0-9]{20}", value):
                    found.append(f"line {instruction.line}: a credential in {key}")
    return found


def test_the_dockerfile_passes_the_lint() -> None:
    assert lint(DOCKERFILE.read_text()) == []


def test_the_final_stage_copies_only_the_built_environment() -> None:
    final = stages(parse(DOCKERFILE.read_text()))[-1]
    copies = [i.arguments for i in final if i.keyword in ("COPY", "ADD")]
    assert copies == ["--from=build /opt/sealgate /opt/sealgate"]
    env = {k: v for i in final if i.keyword == "ENV" for k, v in _key_values(i.arguments).items()}
    assert env["PATH"].startswith("/opt/sealgate/bin:")


def test_the_image_user_matches_the_deployment() -> None:
    final = stages(parse(DOCKERFILE.read_text()))[-1]
    (user,) = [i.arguments for i in final if i.keyword == "USER"]
    assert user == f"{UID}:{UID}"
    deployment = (ROOT / "deploy/base/deployment.yaml").read_text()
    assert f"runAsUser: {UID}" in deployment
    assert f"runAsGroup: {UID}" in deployment


def test_both_stages_use_the_same_python() -> None:
    bases = [s[0].arguments.split()[0] for s in stages(parse(DOCKERFILE.read_text()))]
    assert len(set(bases)) == 1, "the copied virtual environment needs the same interpreter"
    assert bases[0].startswith("python:3.11.")


def test_what_the_build_copies_exists() -> None:
    for instruction in parse(DOCKERFILE.read_text()):
        if instruction.keyword == "COPY" and not instruction.arguments.startswith("--from"):
            for source in instruction.arguments.split()[:-1]:
                assert (ROOT / source).exists(), f"line {instruction.line}: {source} is missing"
    ignore = (ROOT / "deploy/Dockerfile.dockerignore").read_text().splitlines()
    for source in ("pyproject.toml", "README.md", "controller/", "schemas/", "policies/"):
        assert f"!{source}" in ignore


GOOD = """\
FROM python:3.11.11-slim-bookworm AS build
RUN python -m venv /opt/sealgate && /opt/sealgate/bin/pip install .
FROM python:3.11.11-slim-bookworm
COPY --from=build /opt/sealgate /opt/sealgate
USER 10001:10001
ENTRYPOINT ["sealgate", "run"]
"""


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda t: t.replace("FROM python:3.11.11-slim-bookworm AS build\n", "", 1), "multi"),
        (lambda t: t.replace("3.11.11-slim-bookworm\nCOPY", "latest\nCOPY"), "pinned"),
        (lambda t: t.replace("python:3.11.11-slim-bookworm\nCOPY", "python\nCOPY"), "no tag"),
        (
            lambda t: t.replace("python:3.11.11-slim-bookworm\nCOPY", "python:3.11-slim\nCOPY"),
            "pinned",
        ),
        (lambda t: t.replace("USER 10001:10001\n", ""), "USER"),
        (lambda t: t.replace("USER 10001:10001", "USER sealgate"), "numeric"),
        (lambda t: t.replace("USER 10001:10001", "USER 0"), "numeric"),
        (
            lambda t: t.replace(
                "COPY --from", "RUN apt-get update && apt-get install -y gcc\nCOPY --from"
            ),
            "gcc",
        ),
        (
            lambda t: t.replace(
                "COPY --from",
                "RUN apt-get install -y --no-install-recommends build-essential \\\n"
                "    && rm -rf /var/lib/apt/lists/*\nCOPY --from",
            ),
            "build-essential",
        ),
        (lambda t: t.replace("COPY --from", "RUN pip install wheel\nCOPY --from"), "pip"),
        (lambda t: t.replace('["sealgate", "run"]', "sealgate run"), "shell form"),
        (lambda t: t.replace('["sealgate", "run"]', '["sealgate"]'), "sealgate run"),
        (lambda t: t + "ENV GITHUB_TOKEN=abc\n", "GITHUB_TOKEN"),
        (lambda t: "ARG WEBHOOK_SECRET\n" + t, "WEBHOOK_SECRET"),
    ],
)
def test_the_lint_catches_each_broken_rule(change: Callable[[str], str], problem: str) -> None:
    assert lint(GOOD) == []
    broken = change(GOOD)
    assert broken != GOOD
    assert any(problem in message for message in lint(broken)), lint(broken)
