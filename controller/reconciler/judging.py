"""The documents of one pull request, judged: what its files say against the rules.

One function for the controller (``evaluation.assess``, files read from GitHub) and for
``sealgate validate`` (files read from a checkout), so both report the same problems for the
same files. What needs the world is not here: the store (current tiers, replayed values),
the keys (sealed values opened) and the reviews (the policy decision).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from controller.documents import Located, Rules, check_changes, parse_located, parse_rules
from controller.documents.access_rules import check_access_requests
from controller.documents.rules import ACCESS_DIR, CONTROLLER_NAMESPACE
from controller.errors import DocumentError, Problem
from controller.model import AccessRequest, SecretChange
from controller.policy.tiers import tier_problems

CHANGE_KINDS = ("SecretChange",)
ACCESS_KINDS = ("AccessRequest",)


def kinds_for(path: str) -> tuple[str, ...]:
    """The document kinds a request file may hold, by its directory."""
    return ACCESS_KINDS if path.startswith(f"{ACCESS_DIR}/") else CHANGE_KINDS


@dataclass(frozen=True)
class JudgedDocuments:
    rules: Rules
    """Empty when the rule files do not parse (their problems say why)."""
    rules_parsed: bool
    changes: tuple[Located, ...]
    """Every valid change document, in file then document order, with its lines."""
    problems: tuple[Problem, ...]
    access: tuple[Located, ...] = ()
    """Every valid access request, in file order, with its lines."""

    @property
    def secret_changes(self) -> list[SecretChange]:
        return [c.document for c in self.changes if isinstance(c.document, SecretChange)]

    @property
    def access_requests(self) -> list[AccessRequest]:
        return [a.document for a in self.access if isinstance(a.document, AccessRequest)]


def judge_documents(
    rule_files: Mapping[str, bytes] | None,
    change_files: Mapping[str, bytes],
    *,
    proposed_rule_files: Mapping[str, bytes] | None = None,
    controller_namespace: str | None = None,
    with_lines: bool = False,
) -> JudgedDocuments:
    """``rule_files`` (``environments/``, ``policies/``) judge ``change_files`` (path ->
    bytes: request files; each file's documents must be SecretChanges, or one
    AccessRequest under ``access/``). Without rules (``None``: none
    could be found, or they do not parse) only what needs none is checked.
    ``proposed_rule_files``: the rules a governance pull request leaves behind.
    ``with_lines`` adds line numbers to the cross-file problems."""
    problems: list[Problem] = []
    rules = Rules()
    parsed = False
    if rule_files is not None:
        try:
            rules = parse_rules(rule_files)
            parsed = True
        except DocumentError as exc:
            problems.extend(exc.problems)
    if proposed_rule_files is not None:
        # Once is enough when the rules left behind fail as the judging ones do.
        problems.extend(p for p in proposed_rule_problems(proposed_rule_files) if p not in problems)
    located: list[Located] = []
    access: list[Located] = []
    for path, data in sorted(change_files.items()):
        kinds = kinds_for(path)
        try:
            found = parse_located(path, data, kinds)
        except DocumentError as exc:
            problems.extend(exc.problems)
            continue
        if kinds == ACCESS_KINDS:
            access.extend(_one_request(path, found, problems))
        else:
            located.extend(found)
    changes = [c.document for c in located if isinstance(c.document, SecretChange)]
    lines = (
        {(c.source, c.document_index): at.lines for c, at in zip(changes, located, strict=True)}
        if with_lines
        else None
    )
    # Rules that do not parse judge nothing (their problems already make the pull request
    # invalid): checking against none would call every environment missing.
    judged_by = rules if parsed else None
    problems.extend(
        check_changes(
            changes,
            judged_by,
            lines=lines,
            controller_namespace=controller_namespace or CONTROLLER_NAMESPACE,
        )
    )
    problems.extend(tier_problems(changes, rules.environments))
    problems.extend(
        check_access_requests(
            [a.document for a in access if isinstance(a.document, AccessRequest)],
            judged_by,
            lines={a.document.source: a.lines for a in access} if with_lines else None,
            controller_namespace=controller_namespace or CONTROLLER_NAMESPACE,
        )
    )
    return JudgedDocuments(
        rules=rules,
        rules_parsed=parsed,
        changes=tuple(located),
        problems=tuple(problems),
        access=tuple(access),
    )


def _one_request(
    path: str, found: tuple[Located, ...], problems: list[Problem]
) -> tuple[Located, ...]:
    """An access request file holds one request: its file name is the request's id."""
    if len(found) <= 1:
        return found
    problems.append(
        Problem(
            path,
            "",
            f"holds {len(found)} documents; an AccessRequest file holds exactly one (its file"
            " name is the request's id): split it into one file per request",
            found[1].lines.get(()),
        )
    )
    return ()


def proposed_rule_problems(files: Mapping[str, bytes]) -> list[Problem]:
    """What is wrong with the rules a governance pull request would leave behind.

    They are not what it is judged by (the base is), but once merged they judge everything
    after it: rules that do not parse would fail every later decision, and rules without a
    governance policy could never be changed again through a pull request.
    """
    try:
        proposed = parse_rules(files)
    except DocumentError as exc:
        return list(exc.problems)
    if not any(policy.is_governance for policy in proposed.policies):
        return [
            Problem(
                "policies/",
                "spec.environments",
                "after this pull request no policy would list the 'governance' environment, "
                "so no later change to the rules could be approved; keep one",
            )
        ]
    return []
