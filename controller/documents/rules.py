"""The rules of a requests repository (environments and policies) and checks across files.

``parse_rules`` reads the base commit's ``environments/`` and ``policies/``; a policy naming
an environment that does not exist is an error, not a warning: a misspelt name would
silently leave that environment to weaker policies, so the rules are refused until the
name is fixed (``*`` and ``governance`` always exist).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import TypeVar

from controller.documents.locations import FieldPath, LineMap, line_of, render_path
from controller.documents.parse import Located, parse_located
from controller.documents.sealed import sealed_key_id
from controller.errors import DocumentError, Problem
from controller.model import GOVERNANCE, Environment, Policy, SecretChange, frozen_map

_T = TypeVar("_T", Environment, Policy)

YAML_SUFFIXES = (".yaml", ".yml")
ENVIRONMENTS_DIR = "environments"
POLICIES_DIR = "policies"
CHANGES_DIR = "changes"
ACCESS_DIR = "access"
REQUEST_DIRS = (CHANGES_DIR, ACCESS_DIR)
"""Directories of request files (changes and access requests); anything else is governance."""

SYSTEM_NAMESPACES = frozenset({"kube-system", "kube-public", "kube-node-lease", "default"})
"""Refused unless an environment lists them by exact name: a Secret written there reaches
cluster components (kube-system), every reader of the cluster (kube-public), or whatever
runs without a namespace of its own (default)."""
CONTROLLER_NAMESPACE = "sealgate"
"""Where the controller runs unless its configuration says otherwise: a change there could
replace the controller's own credentials, so it is reserved like the system namespaces."""

ChangeLines = Mapping[tuple[str, int], LineMap]
"""``(source, document_index)`` → the lines of that change's fields."""


@dataclass(frozen=True)
class Rules:
    """Every environment (by name) and policy (sorted by name) of a requests repository."""

    environments: Mapping[str, Environment] = field(default_factory=frozen_map)
    policies: tuple[Policy, ...] = ()


def parse_rules(files: Mapping[str, bytes]) -> Rules:
    """``environments/<env>.yaml`` and ``policies/**.yaml`` → Rules, or one DocumentError
    with every problem of every file. Files that are not YAML are ignored (a README)."""
    problems: list[Problem] = []
    environments: dict[str, Located] = {}
    environment_stems: set[str] = set()
    policies: dict[str, Located] = {}
    for name in sorted(files):
        path = PurePosixPath(name)
        if path.suffix not in YAML_SUFFIXES:
            continue
        if path.parts[:1] == (ENVIRONMENTS_DIR,) and len(path.parts) == 2:
            environment_stems.add(path.stem)
            _add_environment(name, files[name], environments, problems)
        elif path.parts[:1] == (POLICIES_DIR,) and len(path.parts) >= 2:
            _add_policy(name, files[name], policies, problems)
        else:
            problems.append(
                Problem(
                    name,
                    "",
                    "not a rules file: environments live in environments/<name>.yaml and "
                    "policies under policies/",
                )
            )
    known = set(environment_stems) | {located.document.name for located in environments.values()}
    for located in policies.values():
        problems.extend(_unknown_environments(located, known))
    if problems:
        raise DocumentError(problems)
    return Rules(
        environments=frozen_map(
            {name: _as(located, Environment) for name, located in environments.items()}
        ),
        policies=tuple(_as(policies[name], Policy) for name in sorted(policies)),
    )


def _as(located: Located, kind: type[_T]) -> _T:
    assert isinstance(located.document, kind)
    return located.document


def _parse(name: str, data: bytes, kind: str, problems: list[Problem]) -> Located | None:
    try:
        located = parse_located(name, data, (kind,))
    except DocumentError as exc:
        problems.extend(exc.problems)
        return None
    if len(located) > 1:
        problems.append(
            Problem(
                name,
                "",
                f"holds {len(located)} documents; a {kind} file holds exactly one: split it",
                located[1].lines.get(()),
            )
        )
        return None
    return located[0]


def _add_environment(
    name: str, data: bytes, environments: dict[str, Located], problems: list[Problem]
) -> None:
    located = _parse(name, data, "Environment", problems)
    if located is None:
        return
    environment = located.document
    stem = PurePosixPath(name).stem
    where = located.lines.get(("metadata", "name"))
    if environment.name != stem:
        problems.append(
            Problem(
                name,
                "metadata.name",
                f"must equal the file name '{stem}': rename the file to "
                f"environments/{environment.name}.yaml or fix the name",
                where,
            )
        )
    elif environment.name in environments:
        first = environments[environment.name].document.source
        problems.append(
            Problem(
                name,
                "metadata.name",
                f"environment is already defined by {first}: keep one file",
                where,
            )
        )
    else:
        environments[environment.name] = located


def _add_policy(
    name: str, data: bytes, policies: dict[str, Located], problems: list[Problem]
) -> None:
    located = _parse(name, data, "ApprovalPolicy", problems)
    if located is None:
        return
    policy = located.document
    if policy.name in policies:
        first = policies[policy.name].document.source
        problems.append(
            Problem(
                name,
                "metadata.name",
                f"policy name is already used by {first}: give every policy its own name",
                located.lines.get(("metadata", "name")),
            )
        )
        return
    policies[policy.name] = located


def _unknown_environments(located: Located, known: set[str]) -> Iterator[Problem]:
    policy = located.document
    assert isinstance(policy, Policy)
    for position, environment in enumerate(policy.environments):
        if environment in ("*", GOVERNANCE) or environment in known:
            continue
        path: FieldPath = ("spec", "environments", position)
        listed = ", ".join(sorted(known)) or "none"
        yield Problem(
            policy.source,
            render_path(path),
            f"no environment named '{environment}' in environments/ (there are: {listed}): "
            "fix the name, or use '*' or 'governance'",
            line_of(located.lines, path),
        )


def check_changes(
    changes: Sequence[SecretChange],
    rules: Rules | None,
    *,
    lines: ChangeLines | None = None,
    controller_namespace: str = CONTROLLER_NAMESPACE,
) -> list[Problem]:
    """Problems that need the whole pull request and its rules to see.

    A change must live under ``changes/<spec.environment>/``, name an existing environment,
    write a namespace that environment lists, carry values sealed to one of its keys, and
    touch a key of a secret that no other document of the pull request touches. ``lines``
    (from ``parse_located``) adds line numbers to the messages. Without ``rules`` (a file
    checked where no ``environments/`` can be found) only what needs none is checked: the
    directory, and keys changed twice.
    """
    problems: list[Problem] = []
    owners: dict[tuple[str, str], SecretChange] = {}
    for change in changes:
        at = _Locator(change, (lines or {}).get((change.source, change.document_index), {}))
        expected_dir = f"{CHANGES_DIR}/{change.environment}/"
        if not change.source.startswith(expected_dir):
            problems.append(
                at(
                    ("spec", "environment"),
                    f"a change to environment '{change.environment}' must live under "
                    f"{expected_dir}: move the file or fix spec.environment",
                )
            )
        environment = rules.environments.get(change.environment) if rules is not None else None
        if rules is not None and environment is None:
            listed = ", ".join(sorted(rules.environments)) or "none"
            problems.append(
                at(
                    ("spec", "environment"),
                    f"no environment named '{change.environment}' (there are: {listed})",
                )
            )
        elif environment is not None:
            problems.extend(_namespace_problems(change, environment, at, controller_namespace))
            problems.extend(_key_id_problems(change, environment, at))
        for path, key in _touched(change):
            other = owners.setdefault((change.path, key), change)
            if other is not change:
                problems.append(
                    at(
                        path,
                        f"key of {change.path} is also changed by {other.source} (document "
                        f"{other.document_index + 1}): change each key in one document only",
                    )
                )
    problems.extend(_whole_restore_problems(changes))
    return problems


def _whole_restore_problems(changes: Sequence[SecretChange]) -> Iterator[Problem]:
    """A whole-secret restore decides every key: no other document may touch the secret."""
    for change in changes:
        if not change.restores_whole:
            continue
        for other in changes:
            if other is not change and other.path == change.path:
                yield Problem(
                    change.source,
                    "spec.restore.version",
                    f"restores all of {change.path}, which {other.source} (document "
                    f"{other.document_index + 1}) also changes: restore in a pull request "
                    "of its own, or restore single keys with spec.restore.keys",
                )


@dataclass(frozen=True, slots=True)
class _Locator:
    """Builds problems about one change, with lines when the caller knows them."""

    change: SecretChange
    lines: LineMap

    def __call__(self, path: FieldPath, message: str) -> Problem:
        return Problem(self.change.source, render_path(path), message, line_of(self.lines, path))


def reserved_namespaces(controller_namespace: str = CONTROLLER_NAMESPACE) -> frozenset[str]:
    return SYSTEM_NAMESPACES | {controller_namespace}


def namespace_allowed(
    environment: Environment, namespace: str, controller_namespace: str = CONTROLLER_NAMESPACE
) -> bool:
    """Listed exactly, or matched by a glob when the namespace is not reserved."""
    listed = environment.namespaces or ()
    if namespace in listed:
        return True
    if namespace in reserved_namespaces(controller_namespace):
        return False
    return any(_namespace_glob(glob).fullmatch(namespace) for glob in listed if "*" in glob)


def _namespace_glob(glob: str) -> re.Pattern[str]:
    return re.compile(".*".join(re.escape(part) for part in glob.split("*")))


def _namespace_problems(
    change: SecretChange, environment: Environment, at: _Locator, controller_namespace: str
) -> Iterator[Problem]:
    namespace = change.secret.split("/", 1)[0]
    if namespace_allowed(environment, namespace, controller_namespace):
        return
    where = environment.source or f"environments/{environment.name}.yaml"
    if environment.namespaces is None:
        yield at(
            ("spec", "secret"),
            f"environment '{environment.name}' declares no spec.namespaces, so it may write "
            f"no namespace: list '{namespace}' (or a glob covering it) in spec.namespaces of "
            f"{where} in a governance pull request first",
        )
    elif namespace in reserved_namespaces(controller_namespace):
        yield at(
            ("spec", "secret"),
            f"namespace '{namespace}' is reserved (system or controller namespace) and "
            f"{where} does not list it by its exact name in spec.namespaces: choose your "
            "application's namespace",
        )
    else:
        yield at(
            ("spec", "secret"),
            f"namespace '{namespace}' is not among the namespaces environment "
            f"'{environment.name}' may write ({', '.join(environment.namespaces)}): fix the "
            f"namespace, or add it to spec.namespaces of {where} in a governance pull request",
        )


def _key_id_problems(
    change: SecretChange, environment: Environment, at: _Locator
) -> Iterator[Problem]:
    key_ids = [key.id for key in environment.sealing_keys]
    for key, value in change.set.items():
        key_id = sealed_key_id(value)
        if key_id is None or key_id in key_ids:
            continue
        yield at(
            ("spec", "set", key),
            f"is sealed to key id '{key_id}', which is not among environment "
            f"'{environment.name}' sealing keys ({', '.join(key_ids)}): seal the value "
            f"again with `sealgate seal` for {environment.name}",
        )


def _touched(change: SecretChange) -> Iterator[tuple[FieldPath, str]]:
    for key in change.set:
        yield ("spec", "set", key), key
    for key in change.generate:
        yield ("spec", "generate", key), key
    for position, key in enumerate(change.delete):
        yield ("spec", "delete", position), key
    for key in change.restore_keys:
        yield ("spec", "restore", "keys", key), key
