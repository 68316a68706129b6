"""``sealgate validate PATH...``: check document files before they reach a pull request.

Each PATH is the root of a requests repository (it holds ``environments/`` and
``policies/``), a file or directory inside one, or a file or directory anywhere else:

- a repository is judged as the controller judges the pull request this checkout would
  open: the change files it adds or modifies against its base (``_scope``; every change
  file with ``--all`` or outside git), by the working tree's rules, read whole;
- a file inside a repository is judged as part of it: a change file by the rules found by
  walking up to the repository's root, a rules file together with all the others; a
  directory inside one, like the repository but only what lies under it;
- anything else is checked on its own: schema and fields.

The documents are judged by the controller's own code (``reconciler.judging``). Every
problem is printed as ``file:line: field: message``, then a summary; the exit status is 0
when all is valid, 5 (``ExitCode.INVALID``) when there is any problem.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import click

from controller.cli._files import (
    REPOSITORY_AREAS,
    REQUEST_AREAS,
    RULES_AREAS,
    ReadFiles,
    printable,
    read_file,
    read_named,
    read_paths,
    read_repository,
    read_tree,
    requests_root,
)
from controller.cli._scope import Scope, everything, repository_scope
from controller.cli.exit_codes import ExitCode, epilog
from controller.cli.keys import open_keyring
from controller.cli.output import Format, dump, output_option, print_text
from controller.crypto import check_sealed_values
from controller.documents import DOCUMENT_KINDS, Located, Rules, parse_located
from controller.documents.locations import FieldPath, line_of
from controller.errors import DocumentError, IntegrityError, Problem
from controller.model import Enforcement, Policy, SecretChange, Tier, ValueRule
from controller.policy.tiers import current_tier, new_tier
from controller.reconciler.judging import judge_documents

ScopeFor = Callable[[Path], Scope]
"""Which change files of the repository at this root a pull request judges."""

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
    compared: list[tuple[str, Scope]] = field(default_factory=list)
    """Per repository or directory asked for, which change files were judged and why."""
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
            "compared": [{"path": path, **scope.as_json()} for path, scope in self.compared],
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
    paths: Sequence[Path],
    *,
    check_sealed: SealedValueCheck | None = None,
    scope_for: ScopeFor | None = None,
) -> ValidationReport:
    """Validate every file under ``paths``; ``check_sealed`` also opens the sealed values.

    ``scope_for`` says which change files of a requests repository are judged (default:
    every one); the CLI passes the pull request of the checkout (``_scope``).
    """
    report = ValidationReport()
    for path in paths:
        root = requests_root(path) if path.exists() else None
        if root is None:
            _validate_loose([path], report, check_sealed)
        else:
            _validate_in_repository(root, path, report, check_sealed, scope_for)
    # File order, then line order: the output reads like a walk through the files.
    report.problems.sort(key=lambda problem: (problem.file, problem.line or 0))
    return report


def _validate_loose(
    paths: Sequence[Path], report: ValidationReport, check_sealed: SealedValueCheck | None
) -> None:
    read = read_paths(paths)
    _read_into(report, read)
    for name in sorted(read.files):
        _record(report, _parse(name, read.files[name], report), check_sealed)


def _validate_in_repository(
    root: Path,
    path: Path,
    report: ValidationReport,
    check_sealed: SealedValueCheck | None,
    scope_for: ScopeFor | None,
) -> None:
    """``path`` is ``root`` or lies under it: its change files are judged against the rules
    of ``root``, read whole, exactly as the controller judges a pull request's files."""
    where = PurePosixPath(Path(os.path.abspath(path)).relative_to(root).as_posix())
    whole = where == PurePosixPath(".")
    named = read_repository(root) if whole else _read_under(root, path, where)
    scope: Scope | None = None
    if path.is_dir():
        scope = scope_for(root) if scope_for is not None else everything("every file asked for")
        report.compared.append((printable(path.as_posix()), scope))
    if scope is not None and scope.files is not None:
        changes = read_named(root, (n for n in scope.files.judged if _under(n, where)))
        named.files = {n: d for n, d in named.files.items() if _area(n) not in REQUEST_AREAS}
        named.add(changes)
    rules_read = read_repository(root, RULES_AREAS)
    has_rules = any((root / area).is_dir() for area in RULES_AREAS)
    rule_files = rules_read.files if has_rules else None
    # Change and access request files alike: the directory tells judging which kind.
    change_files = {n: d for n, d in named.files.items() if _area(n) in REQUEST_AREAS}
    loose = {n: d for n, d in named.files.items() if _area(n) not in REPOSITORY_AREAS}
    named_rules = {n for n in named.files if _area(n) in RULES_AREAS} & set(rules_read.files)
    report.files += len(change_files) + len(loose) + len(named_rules)
    report.problems.extend(p for p in named.problems if _area(p.file) not in RULES_AREAS)
    report.problems.extend(rules_read.problems)
    # A governance pull request is also judged by the rules it leaves behind.
    pull = scope.files if scope is not None and whole else None
    governance = pull is not None and pull.touches_rules
    judged = judge_documents(
        rule_files,
        change_files,
        proposed_rule_files=rule_files if governance else None,
        with_lines=True,
    )
    report.problems.extend(judged.problems)
    sources = [e.source for e in judged.rules.environments.values()]
    sources += [p.source for p in judged.rules.policies]
    report.documents += sum(1 for source in sources if source in named_rules)
    rules = judged.rules if judged.rules_parsed else None
    report.warnings.extend(
        _soft_without_bypassers(p, rules_read.files.get(p.source, b""))
        for p in judged.rules.policies
        if p.source in named_rules and _nobody_can_bypass(p)
    )
    _record(report, (*judged.changes, *judged.access), check_sealed, rules)
    for name in sorted(loose):
        _record(report, _parse(name, loose[name], report), check_sealed)


def _read_under(root: Path, path: Path, where: PurePosixPath) -> ReadFiles:
    if path.is_dir():
        return read_tree(path, where, root=root)
    read = ReadFiles()
    name = printable(where.as_posix())
    found = read_file(path, name)
    if isinstance(found, Problem):
        read.problems.append(found)
    else:
        read.files[name] = found
    return read


def _read_into(report: ValidationReport, read: ReadFiles) -> None:
    report.problems.extend(read.problems)
    report.files += len(read.files)


def _area(name: str) -> str:
    return name.split("/", 1)[0]


def _under(name: str, where: PurePosixPath) -> bool:
    return where == PurePosixPath(".") or PurePosixPath(name).is_relative_to(where)


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
    report.warnings.extend(
        _soft_without_bypassers(item.document, b"", item.lines)
        for item in located
        if isinstance(item.document, Policy) and _nobody_can_bypass(item.document)
    )
    if check_sealed is None:
        return
    for item in located:
        if isinstance(item.document, SecretChange):
            report.problems.extend(
                _with_line(problem, item) for problem in check_sealed(item.document, rules)
            )


def _nobody_can_bypass(policy: Policy) -> bool:
    return policy.enforcement is Enforcement.SOFT and not (
        policy.bypassers.users or policy.bypassers.teams
    )


def _soft_without_bypassers(
    policy: Policy, data: bytes, lines: Mapping[FieldPath, int] | None = None
) -> Problem:
    if lines is None:
        try:
            lines = parse_located(policy.source, data, ("ApprovalPolicy",))[0].lines
        except DocumentError:
            lines = {}
    return Problem(
        policy.source,
        "spec.enforcement",
        "soft, but the policy lists no bypassers: nobody can bypass it; list "
        "spec.bypassers (users or teams) or set enforcement: hard",
        line_of(lines, ("spec", "enforcement")),
    )


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
        (ExitCode.USAGE, "--base and --all together, or a --base that does not resolve"),
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
@click.option(
    "--base",
    metavar="REF",
    default=None,
    help="The branch or commit the pull request goes into. Default: origin/HEAD, else main, "
    "else origin/main.",
)
@click.option(
    "--all",
    "judge_all",
    is_flag=True,
    help="Judge every change file, applied ones too, not only the pull request's.",
)
def validate(
    paths: tuple[Path, ...], output: Format, key_dir: Path | None, base: str | None, judge_all: bool
) -> None:
    """Check environment, policy and change files (or a whole requests repository).

    \b
    What is compared, in a requests repository inside a git checkout:
    - change files: those the pull request from this checkout would add or modify, as the
      controller judges them: the working tree (committed, staged, unstaged and untracked
      files) against the merge-base of HEAD and --base. A change file already merged and
      applied is history: it is judged only by the pull request that adds it.
    - rules (environments/, policies/): the working tree's, read whole. The controller
      judges by the rules at the tip of the base branch, so a pull request that also
      changes rules is judged there by the rules before it.
    With --all, or outside git, every change file is judged, and the output says so.
    A single FILE is always judged, by the rules found by walking up to the repository
    root; a directory inside a repository is judged like the repository, under it only.

    Prints every problem as FILE:LINE: FIELD: MESSAGE and exits 5 when there is any.
    """
    if judge_all and base is not None:
        raise click.UsageError("--all judges every change file: give --base or --all, not both")
    report = validate_paths(
        paths,
        check_sealed=_sealed_value_check(key_dir),
        scope_for=lambda root: repository_scope(root, base=base, judge_all=judge_all),
    )
    print_report(report, output)
    raise SystemExit(ExitCode.OK if report.valid else ExitCode.INVALID)


def print_report(report: ValidationReport, output: Format) -> None:
    if not output.is_table:
        click.echo(dump(report.as_json(), output))
        return
    for path, scope in report.compared:
        # On stderr: what was compared is said, but stdout stays the problems and summary.
        print_text(f"{path}: {scope.note}", err=True)
    for problem in report.problems:
        print_text(str(problem))
    for warning in report.warnings:
        print_text(f"warning: {warning}", err=True)
    click.echo(report.summary())
