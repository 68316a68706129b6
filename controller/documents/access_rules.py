"""Checks of access requests that need the whole pull request and the rules.

Like ``rules.check_changes`` for changes: the file's place (``access/<env>/<id>.yaml``, the
directory naming ``spec.environment``), the environment existing and the namespaces being
ones the environment may hold. Whether each secret and key exists needs the store and is
checked by the caller that has it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from pathlib import PurePosixPath

from controller.documents.locations import FieldPath, LineMap, line_of, render_path
from controller.documents.rules import (
    ACCESS_DIR,
    CONTROLLER_NAMESPACE,
    YAML_SUFFIXES,
    Rules,
    namespace_allowed,
)
from controller.errors import Problem
from controller.model import AccessRequest

AccessLines = Mapping[str, LineMap]
"""``source`` -> the lines of that request's fields."""


def check_access_requests(
    requests: Sequence[AccessRequest],
    rules: Rules | None,
    *,
    lines: AccessLines | None = None,
    controller_namespace: str = CONTROLLER_NAMESPACE,
) -> list[Problem]:
    """Problems of ``requests`` against their place and ``rules`` (None: only the place)."""
    problems: list[Problem] = []
    for request in requests:
        at = lines.get(request.source, {}) if lines else {}
        problems.extend(_place_problems(request, at))
        problems.extend(_environment_problems(request, rules, at, controller_namespace))
    return problems


def _environment_problems(
    request: AccessRequest, rules: Rules | None, lines: LineMap, controller_namespace: str
) -> Iterator[Problem]:
    def problem(path: FieldPath, message: str) -> Problem:
        return Problem(request.source, render_path(path), message, line_of(lines, path))

    if rules is None:
        return
    environment = rules.environments.get(request.environment)
    if environment is None:
        listed = ", ".join(sorted(rules.environments)) or "none"
        yield problem(
            ("spec", "environment"),
            f"no environment named '{request.environment}' (there are: {listed})",
        )
        return
    for position, item in enumerate(request.secrets):
        namespace = item.secret.split("/", 1)[0]
        if not namespace_allowed(environment, namespace, controller_namespace):
            yield problem(
                ("spec", "secrets", position, "secret"),
                f"namespace '{namespace}' is not a namespace environment"
                f" '{environment.name}' may hold, so no such secret exists: fix the secret",
            )


def _place_problems(request: AccessRequest, lines: LineMap) -> Iterator[Problem]:
    path = PurePosixPath(request.source)
    expected = f"{ACCESS_DIR}/{request.environment}/"
    field: FieldPath = ("spec", "environment")
    if not request.source.startswith(expected):
        yield Problem(
            request.source,
            render_path(field),
            f"an access request for environment '{request.environment}' must live under"
            f" {expected}: move the file or fix spec.environment",
            line_of(lines, field),
        )
    elif len(path.parts) != 3 or path.suffix not in YAML_SUFFIXES:
        yield Problem(
            request.source,
            "",
            f"an access request file is {expected}<id>.yaml, directly in that directory: move"
            " it there",
        )


def access_store_problems(
    requests: Sequence[AccessRequest], stored_keys: Mapping[str, frozenset[str]]
) -> list[Problem]:
    """Secrets the store does not hold and keys they do not have (``stored_keys``: path ->
    key names). Access to nothing is refused now, not granted and found empty later."""
    problems: list[Problem] = []
    for request in requests:
        for position, item in enumerate(request.secrets):
            path = f"{request.environment}/{item.secret}"
            keys = stored_keys.get(path)
            if keys is None:
                problems.append(
                    Problem(
                        request.source,
                        f"spec.secrets[{position}].secret",
                        f"the store holds no secret {path}: fix the name (`sealgate store ls`"
                        " lists the secrets)",
                    )
                )
                continue
            missing = [key for key in item.keys if key not in keys]
            if missing:
                problems.append(
                    Problem(
                        request.source,
                        f"spec.secrets[{position}].keys",
                        f"{path} has no key {', '.join(missing)} in the store: fix the key"
                        " names, or leave out spec.secrets[].keys to ask for every key",
                    )
                )
    return problems
