"""``sealgate plan``: dry-run the approval policy on change files and pull-request facts.

Operators and pipelines use it to see what a pull request would need before opening it,
and it drives the policy rules end to end in tests. The rules come from ``--config`` (the
``environments/`` and ``policies/`` of the base commit), the pull request from FACTS.json
(``schemas/facts.schema.json``) or, with ``--pull``, from GitHub (``plan_pull``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

import click

from controller.cli._files import RULES_AREAS, read_file, read_paths, read_repository
from controller.cli.exit_codes import ExitCode, epilog
from controller.cli.output import (
    Format,
    cell,
    dump,
    format_table,
    output_option,
    print_text,
    terminal_width,
    timestamp,
)
from controller.cli.quiet import quiet_lines
from controller.documents import Located, Rules, check_changes, parse_located, parse_rules
from controller.documents.access_rules import check_access_requests
from controller.documents.facts import MAX_FACTS_BYTES, parse_facts
from controller.errors import DocumentError, Problem
from controller.model import (
    AccessRequest,
    Decision,
    DecisionState,
    PullRequestFacts,
    SecretChange,
)
from controller.policy import evaluate
from controller.policy.text import duration
from controller.reconciler.judging import kinds_for

_REQUEST_DIRS = ("changes", "access")
TOKEN_VARIABLE = "GITHUB_TOKEN"  # noqa: S105 - the name of a variable, not a token
DEFAULT_GITHUB_URL = "https://api.github.com"


@dataclass
class _Loaded:
    """Everything read from disk, and every problem met on the way."""

    rules: Rules | None = None
    facts: PullRequestFacts | None = None
    changes: list[SecretChange] = field(default_factory=list)
    access: list[AccessRequest] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


def plan_decision(
    config_dir: Path, facts_path: Path, change_paths: Sequence[Path], *, now: datetime
) -> Decision:
    """Read rules, facts and changes, then evaluate; unreadable input makes it invalid.

    ``now`` stands in for the clock when FACTS.json has no ``now``.
    """
    loaded = _Loaded()
    _load_rules(config_dir, loaded)
    _load_facts(facts_path, loaded, now)
    _load_changes(change_paths, loaded)
    if loaded.rules is None or loaded.facts is None:
        # Without rules or facts there is nothing to evaluate: report the inputs' problems.
        return Decision(
            state=DecisionState.INVALID,
            reasons=tuple(str(problem) for problem in loaded.problems),
            head_sha=loaded.facts.head_sha if loaded.facts else "",
        )
    return evaluate(
        environments=loaded.rules.environments,
        policies=loaded.rules.policies,
        changes=loaded.changes,
        facts=loaded.facts,
        problems=loaded.problems,
        access_requests=loaded.access,
    )


def _load_rules(config_dir: Path, loaded: _Loaded) -> None:
    name = config_dir.as_posix()
    missing = [area for area in RULES_AREAS if not (config_dir / area).is_dir()]
    if missing:
        loaded.problems.append(
            Problem(
                name,
                "",
                f"--config must name a directory holding {' and '.join(RULES_AREAS)}/ of the"
                f" base commit; missing: {', '.join(f'{area}/' for area in missing)}",
            )
        )
        return
    read = read_repository(config_dir, RULES_AREAS)
    loaded.problems.extend(read.problems)
    try:
        loaded.rules = parse_rules(read.files)
    except DocumentError as exc:
        loaded.problems.extend(exc.problems)


def _load_facts(facts_path: Path, loaded: _Loaded, now: datetime) -> None:
    name = facts_path.as_posix()
    data = read_file(facts_path, name, limit=MAX_FACTS_BYTES)
    if isinstance(data, Problem):
        loaded.problems.append(data)
        return
    try:
        loaded.facts = parse_facts(name, data, default_now=now)
    except DocumentError as exc:
        loaded.problems.extend(exc.problems)


def _load_changes(change_paths: Sequence[Path], loaded: _Loaded) -> None:
    read = read_paths(change_paths)
    loaded.problems.extend(read.problems)
    located: list[Located] = []
    for path_name in sorted(read.files):
        name = repository_name(path_name)
        try:
            # By directory, as the controller reads them: access/ holds access requests.
            located.extend(parse_located(name, read.files[path_name], kinds_for(name)))
        except DocumentError as exc:
            loaded.problems.extend(exc.problems)
    loaded.changes = [item.document for item in located if isinstance(item.document, SecretChange)]
    loaded.access = [item.document for item in located if isinstance(item.document, AccessRequest)]
    loaded.problems.extend(
        check_access_requests(
            loaded.access,
            loaded.rules,
            lines={i.document.source: i.lines for i in located if i.document in loaded.access},
        )
    )
    if loaded.rules is not None:
        lines = {
            (item.document.source, item.document.document_index): item.lines
            for item in located
            if isinstance(item.document, SecretChange)
        }
        loaded.problems.extend(check_changes(loaded.changes, loaded.rules, lines=lines))


def repository_name(path_name: str) -> str:
    """``/home/me/repo/changes/production/x.yaml`` -> ``changes/production/x.yaml``.

    Request files are named as the repository (and GitHub) names them, from the last
    ``changes`` (or ``access``) directory on; a file outside both keeps its path and is
    reported as such.
    """
    parts = PurePosixPath(path_name).parts
    for index in range(len(parts) - 2, -1, -1):
        if parts[index] in _REQUEST_DIRS:
            return PurePosixPath(*parts[index:]).as_posix()
    return path_name


def exit_code(decision: Decision) -> ExitCode:
    if decision.state is DecisionState.APPROVED:
        return ExitCode.OK
    if decision.state is DecisionState.PENDING:
        return ExitCode.PENDING
    # Rejected, expired or invalid: waiting does not make it approvable, a change must.
    return ExitCode.INVALID


def as_json(decision: Decision) -> dict[str, object]:
    body: dict[str, object] = {
        "decision": decision.state.value,
        "bypassed": decision.bypassed,
        "bypassedBy": decision.bypassed_by,
        "bypassReason": decision.bypass_reason,
        "mergeRequestedBy": decision.merge_requested_by,
        "reasons": list(decision.reasons),
        "policies": [
            {
                "name": step.policy,
                "step": step.step,
                "required": step.required,
                "approvedBy": list(step.approved_by),
                "eligibleRemaining": list(step.eligible_remaining),
                "changesRequestedBy": list(step.changes_requested_by),
                "satisfied": step.satisfied,
                "waitingOnEarlierStep": step.waiting_on_earlier_step,
            }
            for step in decision.steps
        ],
        "expiresAt": timestamp(decision.expires_at),
        "governance": decision.governance,
        "autoMerge": decision.auto_merge,
        "headSha": decision.head_sha,
        "tiers": {path: tier.value for path, tier in sorted(decision.tiers.items())},
    }
    if decision.access:  # only then: a change's plan keeps the object it always had
        body["access"] = True
        if decision.granted_duration is not None:
            body["grantedDuration"] = duration(decision.granted_duration)
    return body


def render_text(decision: Decision, width: int | None) -> None:
    # print_text throughout: reasons and bypass text come from people and print as data.
    headline = f"Decision: {decision.state.value.upper()}"
    if decision.bypassed:
        headline += f" (break-glass by {decision.bypassed_by})"
    print_text(headline)
    details = [
        f"head {decision.head_sha or '-'}",
        f"expires {timestamp(decision.expires_at) or 'never'}",
    ]
    if decision.governance:
        details.append("governance change")
    if decision.access and decision.granted_duration is not None:
        details.append(f"access request, granted for {duration(decision.granted_duration)}")
    details.append("merges automatically" if decision.auto_merge else "waits for /sealgate merge")
    print_text(", ".join(details))
    if decision.steps:
        click.echo()
        click.echo(_steps_table(decision, width))
        click.echo()
    if decision.tiers:
        tiers = ", ".join(f"{path} ({tier.value})" for path, tier in sorted(decision.tiers.items()))
        print_text(f"Tiers: {tiers}")
    print_text("Reasons:")
    for reason in decision.reasons:
        print_text(f"  - {reason}")


def _steps_table(decision: Decision, width: int | None) -> str:
    rows = []
    for step in decision.steps:
        if step.satisfied:
            status = "satisfied"
        elif step.waiting_on_earlier_step:
            status = "waiting for earlier step"
        elif step.changes_requested_by:
            status = f"changes requested by {', '.join(step.changes_requested_by)}"
        else:
            status = "needs approval"
        rows.append(
            [
                step.policy,
                step.step,
                str(step.required),
                cell(list(step.approved_by)),
                cell(list(step.eligible_remaining)),
                status,
            ]
        )
    headers = ["Policy", "Step", "Required", "Approved by", "Can still approve", "Status"]
    return format_table(headers, rows, width=width)


@click.command(
    "plan",
    epilog=epilog(
        (ExitCode.OK, "approved"),
        (ExitCode.PENDING, "pending: the command worked; approvals are missing"),
        (
            ExitCode.INVALID,
            "rejected, expired or invalid (bad files or facts, refused by the rules)",
        ),
    ),
)
@click.option(
    "--config",
    "config_dir",
    required=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="Directory holding environments/ and policies/ of the base commit (with --pull: "
    "the rules to try, such as your working tree).",
)
@click.option(
    "--facts",
    "facts_path",
    default=None,
    type=click.Path(path_type=Path, dir_okay=False),
    help="FACTS.json (schemas/facts.schema.json): the pull request's author, head, commits, "
    "reviews, teams, comments.",
)
@click.option(
    "--pull",
    "pull",
    default=None,
    metavar="OWNER/REPO#N",
    help="Read the facts and change files of this pull request from GitHub instead (read "
    "only); also shows what the rules at its base branch decide, if that differs.",
)
@click.option(
    "--github-url",
    default=DEFAULT_GITHUB_URL,
    show_default=True,
    help="GitHub's API, e.g. https://github.example.com/api/v3 for GitHub Enterprise.",
)
@click.option(
    "--token-command",
    default=None,
    help=f"Command printing a GitHub token, e.g. 'gh auth token' (default: ${TOKEN_VARIABLE}).",
)
@click.option(
    "--key-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="With --pull: also open sealed values with these keys, as the controller does.",
)
@click.option(
    "--current-tier",
    "current_tiers",
    multiple=True,
    metavar="ENV/NS/NAME=TIER",
    help="With --pull: the tier the store holds for a secret (default: none, as if new).",
)
@click.option(
    "--save-facts",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="With --pull: write the facts read to this file, to plan them again with --facts.",
)
@output_option(
    help="table: the decision, a table of steps and the reasons; json or yaml: one document "
    "for programs (schemas/cli/plan.schema.json)."
)
@click.argument("change_files", nargs=-1, metavar="CHANGE_FILE...", type=click.Path(path_type=Path))
def plan(  # noqa: PLR0917 - click passes every option by keyword
    config_dir: Path,
    facts_path: Path | None,
    pull: str | None,
    github_url: str,
    token_command: str | None,
    key_dir: Path | None,
    current_tiers: tuple[str, ...],
    save_facts: Path | None,
    output: Format,
    change_files: tuple[Path, ...],
) -> None:
    """Show the decision the approval policy would make for a pull request.

    CHANGE_FILE... are the pull request's change files or access request files (files or
    directories), kept where they live in the requests repository
    (.../changes/<environment>/<file>.yaml, .../access/<environment>/<id>.yaml): they are
    named from their changes/ or access/ directory on, as GitHub names them. Without "now"
    in FACTS.json the current time is used.

    With --pull OWNER/REPO#N instead of --facts and CHANGE_FILE, the pull request is read
    from GitHub (GET requests only; the token needs read access to the repository and its
    organization's teams) and judged by the rules in --config, then by the rules at the tip
    of its base branch, which is what the controller decides now.
    """
    if (facts_path is None) == (pull is None):
        raise click.UsageError("give either --facts FACTS.json or --pull OWNER/REPO#N")
    if pull is not None:
        if change_files:
            raise click.UsageError(
                "--pull judges the pull request's own change files: drop CHANGE_FILE..."
            )
        # Imported here: it imports this module (the rendering).
        from controller.cli.plan_pull import run_pull  # noqa: PLC0415

        decision = run_pull(
            pull,
            config_dir,
            github_url=github_url,
            token_command=token_command,
            key_dir=key_dir,
            current_tiers=current_tiers,
            save_facts=save_facts,
            output=output,
        )
        raise SystemExit(exit_code(decision))
    assert facts_path is not None
    pull_only = {
        "--token-command": token_command is not None,
        "--key-dir": key_dir is not None,
        "--current-tier": bool(current_tiers),
        "--save-facts": save_facts is not None,
    }
    if any(pull_only.values()):
        given = ", ".join(name for name, present in pull_only.items() if present)
        raise click.UsageError(f"{given}: only with --pull (FACTS.json carries all of it)")
    decision = plan_decision(config_dir, facts_path, change_files, now=datetime.now(UTC))
    # Reasons name the files given; a path shaped like a value is not repeated.
    decision = dataclasses.replace(decision, reasons=quiet_lines(decision.reasons))
    print_decision(decision, output)
    raise SystemExit(exit_code(decision))


def print_decision(decision: Decision, output: Format) -> None:
    if output.is_table:
        render_text(decision, terminal_width())
    else:
        click.echo(dump(as_json(decision), output))
