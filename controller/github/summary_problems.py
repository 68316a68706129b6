"""Problems, most urgent first: a plaintext value in git comes before anything else, and every
problem with a file becomes a check-run annotation GitHub shows on the diff.

Problems never carry values (``controller.errors.Problem``), so neither do annotations.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from controller.documents import PLAINTEXT_MESSAGE
from controller.errors import Problem

MAX_ANNOTATION_TITLE = 255
MAX_ANNOTATION_MESSAGE = 4000
"""GitHub allows 64 KB; a problem is one sentence, and a runaway one should not cost more."""
ANNOTATED_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True, slots=True)
class Annotation:
    """One ``output.annotations`` item of a check run."""

    path: str
    start_line: int
    end_line: int
    level: str
    """``failure`` or ``warning``."""
    message: str
    title: str

    def as_json(self) -> dict[str, str | int]:
        return {
            "path": self.path,
            "start_line": self.start_line,
            "end_line": self.end_line,
            "annotation_level": self.level,
            "message": self.message,
            "title": self.title,
        }


def is_plaintext(problem: Problem) -> bool:
    """A value that is not sealed: it may be a secret, now in git history."""
    return PLAINTEXT_MESSAGE in problem.message


def caution_lines(problems: Sequence[Problem], code: Callable[[str], str]) -> list[str]:
    """A GitHub ``[!CAUTION]`` alert naming every place a plaintext value was pushed."""
    leaked = [p for p in problems if is_plaintext(p)]
    if not leaked:
        return []
    lines = [
        "> [!CAUTION]",
        "> **A value in this pull request is not sealed and may be a plaintext secret.** It "
        "is in git history now, even if you push a fix: treat it as leaked. Rotate it at its "
        "source, seal the new value with `sealgate seal`, and push only the sealed value.",
    ]
    for p in leaked:
        where = p.file if p.line is None else f"{p.file}:{p.line}"
        lines.append(f"> - {code(where)}: {code(p.field)}")
    return [*lines, ""]


def _annotation(problem: Problem, level: str) -> Annotation | None:
    path = problem.file
    if not path.endswith(ANNOTATED_SUFFIXES) or path.startswith("/"):
        return None
    line = problem.line if problem.line is not None and problem.line > 0 else 1
    if is_plaintext(problem):
        title = "Plaintext value: rotate this secret"
    elif problem.field:
        title = f"sealgate: {problem.field}"
    else:
        title = "sealgate"
    message = f"{problem.field}: {problem.message}" if problem.field else problem.message
    return Annotation(
        path=path,
        start_line=line,
        end_line=line,
        level=level,
        message=message[:MAX_ANNOTATION_MESSAGE],
        title=title[:MAX_ANNOTATION_TITLE],
    )


def annotations_for(
    problems: Sequence[Problem], warnings: Sequence[Problem] = ()
) -> tuple[Annotation, ...]:
    """Failures for problems, warnings for ``warnings``; plaintext first, one per place."""
    ordered = sorted(problems, key=lambda p: not is_plaintext(p))
    found: list[Annotation] = []
    seen: set[tuple[str, int, str]] = set()
    for problem, level in [*((p, "failure") for p in ordered), *((w, "warning") for w in warnings)]:
        annotation = _annotation(problem, level)
        if annotation is None:
            continue
        marker = (annotation.path, annotation.start_line, annotation.message)
        if marker not in seen:
            seen.add(marker)
            found.append(annotation)
    return tuple(found)
