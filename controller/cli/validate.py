"""``sealgate validate PATH...``: check document files before they reach a pull request.

Each PATH is a file, a directory of files, or the root of a requests repository (it holds
``environments/`` and ``policies/``): then the rules are parsed together and every change
under ``changes/`` is checked against them too. Every problem is printed, one per line as
``file:line: field: message``, then a summary; the exit status is 0 when all is valid,
5 (``ExitCode.INVALID``) when there is any problem.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import click

from controller.cli._files import (
    RULES_AREAS,
    ReadFiles,
    is_repository_root,
    read_paths,
    read_repository,
)
from controller.cli.exit_codes import ExitCode, epilog
from controller.cli.keys import open_keyring
from controller.cli.output import Format, dump, output_option, print_text
from controller.crypto import check_sealed_values
from controller.documents import (
    DOCUMENT_KINDS,
    Located,
    Rules,
    check_changes,
    parse_located,
    parse_rules,
)
from controller.documents.locations import line_of
from controller.errors import DocumentError, IntegrityError, Problem
from controller.model import Enforcement, Policy, SecretChange, Tier, ValueRule
from controller.policy.tiers import current_tier, new_tier

SealedValueCheck = Callable[[SecretChange, Rules | None], Iterable[Problem]]
"""Opens every sealed value of a change (``--key-dir``, with the crypto module) and reports
those that do not open with their binding and, when the rules are known (a repository), those
too weak for the tier the change would be judged at without the store (its asked tier,
default tier or floor); validation calls it for each valid change."""


@dataclass
class ValidationReport:
    files: int = 0
    documents: int = 0
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    """Valid but probably not meant; they do not change the exit status."""

    @property
    def valid(self) -> bool:
        return not self.problems

    def as_json(self) -> dict[str, object]:
        body: dict[str, object] = {
            "valid": self.valid,
            "files": self.files,
            "documents": self.documents,
            "problems": [
                {"file": p.file, "line": p.line, "field": p.field, "message": p.message}
                for p in self.problems
            ],
        }
        if self.warnings:  # only when there are some: the object stays as it was otherwise
            body["warnings"] = [
                {"file": p.file, "line": p.line, "field": p.field, "message": p.message}
                for p in self.warnings
            ]
        return body

    def summary(self) -> str:
        if self.valid:
            return f"valid: {_plural(self.files, 'file')}, {_plural(self.documents, 'document')}"
        bad_files = len({problem.file for problem in self.problems})
        return (
            f"invalid: {_plural(len(self.problems), 'problem')} in "
            f"{_plural(bad_files, 'file')} ({_plural(self.files, 'file')} read)"
        )


def _sealed_value_check(key_dir: Path | None) -> SealedValueCheck | None:
    if key_dir is None:
        return None
    if not key_dir.is_dir():
        raise click.UsageError(f"--key-dir {key_dir}: no such directory")
    try:
        _, keyring = open_keyring(key_dir)
    except IntegrityError as exc:
        raise click.UsageError(f"--key-dir {key_dir}: {exc}") from exc
    return lambda change, rules: check_sealed_values(
        [change], keyring, value_rules=_value_rules(change, rules)
    )


def _value_rules(
    change: SecretChange, rules: Rules | None
) -> dict[str, tuple[Tier, ValueRule]] | None:
    environment = rules.environments.get(change.environment) if rules else None
    if environment is None:
        return None
    tier = Tier.highest(current_tier(change, environment, {}), new_tier(change, environment, {}))
    rule = environment.value_policy.get(tier)
    return {change.path: (tier, rule)} if rule else None


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def validate_paths(
    paths: Sequence[Path], *, check_sealed: SealedValueCheck | None = None
) -> ValidationReport:
    """Validate every file under ``paths``; ``check_sealed`` also opens the sealed values."""
    report = ValidationReport()
    for path in paths:
        if path.is_dir() and is_repository_root(path):
            _validate_repository(path, report, check_sealed)
        else:
            read = read_paths([path])
            report.problems.extend(read.problems)
            report.files += len(read.files)
            for name in sorted(read.files):
                _record(report, _parse(name, read.files[name], report), check_sealed)
    # File order, then line order: the output reads like a walk through the files.
    report.problems.sort(key=lambda problem: (problem.file, problem.line or 0))
    return report


def _validate_repository(
    root: Path, report: ValidationReport, check_sealed: SealedValueCheck | None
) -> None:
    read: ReadFiles = read_repository(root)
    report.problems.extend(read.problems)
    report.files += len(read.files)
    rules_files = {
        name: data for name, data in read.files.items() if name.split("/", 1)[0] in RULES_AREAS
    }
    for name in sorted(rules_files):
        if name.startswith("policies/"):
            try:
                located = parse_located(name, rules_files[name], ("ApprovalPolicy",))
            except DocumentError:
                continue  # parse_rules below reports it
            report.warnings.extend(w for item in located for w in _policy_warnings(item))
    rules: Rules | None = None
    try:
        rules = parse_rules(rules_files)
        report.documents += len(rules.environments) + len(rules.policies)
    except DocumentError as exc:
        report.problems.extend(exc.problems)
    changes: list[Located] = []
    for name in sorted(set(read.files) - set(rules_files)):
        changes.extend(_parse(name, read.files[name], report, kinds=("SecretChange",)))
    _record(report, changes, check_sealed, rules)
    if rules is not None:
        typed = [c.document for c in changes if isinstance(c.document, SecretChange)]
        lines = {
            (c.document.source, c.document.document_index): c.lines
            for c in changes
            if isinstance(c.document, SecretChange)
        }
        report.problems.extend(check_changes(typed, rules, lines=lines))


def _parse(
    name: str, data: bytes, report: ValidationReport, kinds: Sequence[str] = DOCUMENT_KINDS
) -> tuple[Located, ...]:
    try:
        return parse_located(name, data, kinds)
    except DocumentError as exc:
        report.problems.extend(exc.problems)
        return ()


def _record(
    report: ValidationReport,
    located: Sequence[Located],
    check_sealed: SealedValueCheck | None,
    rules: Rules | None = None,
) -> None:
    report.documents += len(located)
    report.warnings.extend(w for item in located for w in _policy_warnings(item))
    if check_sealed is None:
        return
    for item in located:
        if isinstance(item.document, SecretChange):
            report.problems.extend(
                _with_line(problem, item) for problem in check_sealed(item.document, rules)
            )


def _policy_warnings(item: Located) -> list[Problem]:
    policy = item.document
    if not isinstance(policy, Policy) or policy.enforcement is not Enforcement.SOFT:
        return []
    if policy.bypassers.users or policy.bypassers.teams:
        return []
    return [
        Problem(
            policy.source,
            "spec.enforcement",
            "soft, but the policy lists no bypassers: nobody can bypass it; list "
            "spec.bypassers (users or teams) or set enforcement: hard",
            line_of(item.lines, ("spec", "enforcement")),
        )
    ]


def _with_line(problem: Problem, item: Located) -> Problem:
    """The opener knows the field (``spec.set.<key>``), the parse knows where it is."""
    section, _, key = problem.field.removeprefix("spec.").partition(".")
    if problem.line is not None or section not in ("set", "generate") or not key:
        return problem
    return dataclasses.replace(problem, line=line_of(item.lines, ("spec", section, key)))


@click.command(
    "validate",
    epilog=epilog(
        (ExitCode.OK, "every file is valid"),
        (ExitCode.INVALID, "at least one problem (each is printed)"),
    ),
)
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path, dir_okay=True))
@output_option(
    help="table: one problem per line and a summary; json or yaml: one document for programs "
    "(schemas/cli/validate.schema.json)."
)
@click.option(
    "--key-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Also open every sealed value with the controller's keys in DIR (values are never "
    "shown) and report each that fails its binding or names an unknown key id.",
)
def validate(paths: tuple[Path, ...], output: Format, key_dir: Path | None) -> None:
    """Check environment, policy and change files (or a whole requests repository).

    Prints every problem as FILE:LINE: FIELD: MESSAGE and exits 5 when there is any.
    """
    report = validate_paths(paths, check_sealed=_sealed_value_check(key_dir))
    print_report(report, output)
    raise SystemExit(ExitCode.OK if report.valid else ExitCode.INVALID)


def print_report(report: ValidationReport, output: Format) -> None:
    if output.is_table:
        for problem in report.problems:
            print_text(str(problem))
        for warning in report.warnings:
            click.echo(f"warning: {warning}", err=True)
        click.echo(report.summary())
    else:
        click.echo(dump(report.as_json(), output))
