"""Read the FACTS.json of ``sealgate plan`` into a ``PullRequestFacts`` snapshot.

The file is what an adapter would have fetched from GitHub: the pull request, its commits,
reviews, comments, team memberships, the current tiers of the touched secrets and the
clock. Parsing is strict: an unknown field is refused (a misspelt ``reviews`` would
otherwise silently judge a pull request without its reviews), duplicate keys are refused,
times must carry a time zone, and every problem names the file and the field. The format is
published as ``schemas/facts.schema.json`` and every file is checked against it too
(``facts_schema``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, TypeVar

from controller.documents.facts_schema import facts_schema_problems
from controller.errors import DocumentError, Problem
from controller.model import (
    Comment,
    Commit,
    PullRequestFacts,
    Push,
    Review,
    ReviewState,
    Tier,
    frozen_map,
)

MAX_FACTS_BYTES = 16 * 1024 * 1024
_FIELDS = (
    "$schema",
    "number",
    "author",
    "head_sha",
    "created_at",
    "now",
    "commits",
    "reviews",
    "teams",
    "comments",
    "current_tiers",
    "changed_files",
    "base_sha",
    "pushes",
)
_EXAMPLE_TIME = "2026-11-20T10:00:00Z"

T = TypeVar("T")


class _DuplicateKeyError(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def parse_facts(
    source: str, data: bytes, *, default_now: datetime | None = None
) -> PullRequestFacts:
    """Parse FACTS.json. ``default_now`` stands in for a missing ``now`` (the caller's clock).

    Raises ``DocumentError`` carrying every problem found.
    """
    document = _load_json(source, data)
    reader = _Reader(source)
    known = set(_FIELDS)
    for key in sorted(set(document) - known):
        reader.problem(key, f"unknown field; expected one of {', '.join(sorted(known))}")

    number = reader.integer(document, "number", "number")
    author = reader.text(document, "author", "author")
    head_sha = reader.text(document, "head_sha", "head_sha")
    created_at = reader.time(document, "created_at", "created_at")
    if "now" in document or default_now is None:
        now = reader.time(document, "now", "now")
    else:
        now = default_now
    commits = reader.items(document, "commits", reader.commit)
    reviews = reader.items(document, "reviews", reader.review)
    comments = reader.items(document, "comments", reader.comment)
    teams = reader.teams(document.get("teams", {}))
    current_tiers = reader.tiers(document.get("current_tiers", {}))
    changed_files = reader.items(document, "changed_files", reader.path)
    base_sha = reader.text(document, "base_sha", "base_sha", required=False)
    pushes = reader.items(document, "pushes", reader.push)
    explained = {problem.field for problem in reader.problems}
    reader.problems.extend(
        problem
        for problem in facts_schema_problems(source, document)
        if problem.field not in explained
    )
    if (
        reader.problems
        or number is None
        or author is None
        or head_sha is None
        or created_at is None
        or now is None
    ):
        raise DocumentError(reader.problems)
    return PullRequestFacts(
        number=number,
        author=author,
        head_sha=head_sha,
        created_at=created_at,
        now=now,
        commits=commits,
        reviews=reviews,
        comments=comments,
        teams=frozen_map(teams),
        current_tiers=frozen_map(current_tiers),
        changed_files=changed_files,
        base_sha=base_sha or "",
        pushes=pushes,
    )


def _load_json(source: str, data: bytes) -> dict[str, Any]:
    if len(data) > MAX_FACTS_BYTES:
        raise DocumentError(
            [Problem(source, "", f"file is larger than {MAX_FACTS_BYTES // (1024 * 1024)} MiB")]
        )
    try:
        document = json.loads(
            data.decode("utf-8"),
            object_pairs_hook=_refuse_duplicates,
            parse_constant=_refuse_constant,
        )
    except UnicodeDecodeError as exc:
        raise DocumentError([Problem(source, "", "file is not UTF-8 text")]) from exc
    except _DuplicateKeyError as exc:
        raise DocumentError([Problem(source, exc.key[:64], "key appears twice; keep one")]) from exc
    except json.JSONDecodeError as exc:
        raise DocumentError(
            [Problem(source, "", f"not valid JSON: {exc.msg} (column {exc.colno})", exc.lineno)]
        ) from exc
    except (ValueError, RecursionError) as exc:
        raise DocumentError(
            [Problem(source, "", "not valid JSON: nested too deeply or NaN/Infinity")]
        ) from exc
    if not isinstance(document, dict):
        raise DocumentError([Problem(source, "", "must be a JSON object of pull-request facts")])
    return document


def _refuse_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicateKeyError(key)
        result[key] = value
    return result


def _refuse_constant(name: str) -> Any:
    raise ValueError(name)


class _Reader:
    """Typed field readers that record a Problem instead of raising, to report them all."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.problems: list[Problem] = []

    def problem(self, field: str, message: str) -> None:
        self.problems.append(Problem(self.source, field, message))

    def text(
        self, obj: Mapping[str, Any], key: str, field: str, *, required: bool = True
    ) -> str | None:
        if key not in obj or (obj[key] is None and not required):
            if required:
                self.problem(field, "required field is missing")
            return None
        value = obj[key]
        if not isinstance(value, str) or not value.strip():
            self.problem(field, "must be a non-empty string")
            return None
        return value

    def optional_login(self, obj: Mapping[str, Any], key: str, field: str) -> str | None:
        value = obj.get(key)
        if value is None:
            return None
        if not isinstance(value, str) or not value.strip():
            self.problem(field, "must be a GitHub login or null")
            return None
        return value

    def integer(
        self, obj: Mapping[str, Any], key: str, field: str, *, default: int | None = None
    ) -> int | None:
        if key not in obj:
            if default is None:
                self.problem(field, "required field is missing")
            return default
        value = obj[key]
        # bool is an int in Python; true is never a pull-request number.
        if not isinstance(value, int) or isinstance(value, bool):
            self.problem(field, "must be an integer")
            return default
        return value

    def time(self, obj: Mapping[str, Any], key: str, field: str) -> datetime | None:
        if key not in obj:
            self.problem(
                field, f"required field is missing: an RFC 3339 time such as {_EXAMPLE_TIME}"
            )
            return None
        value = obj[key]
        if not isinstance(value, str):
            self.problem(field, f"must be an RFC 3339 time such as {_EXAMPLE_TIME}")
            return None
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            self.problem(field, f"must be an RFC 3339 time such as {_EXAMPLE_TIME}")
            return None
        if moment.tzinfo is None:
            self.problem(field, f"must include a time zone, e.g. {_EXAMPLE_TIME}")
            return None
        return moment

    def keys(self, obj: Mapping[str, Any], field: str, allowed: tuple[str, ...]) -> None:
        for key in sorted(set(obj) - set(allowed)):
            self.problem(
                f"{field}.{key[:64]}", f"unknown field; expected one of {', '.join(allowed)}"
            )

    def items(
        self,
        document: Mapping[str, Any],
        key: str,
        parse: Callable[[Any, str], T | None],
        *,
        prefix: str = "",
    ) -> tuple[T, ...]:
        name = f"{prefix}.{key}" if prefix else key
        value = document.get(key, [])
        if not isinstance(value, list):
            self.problem(name, "must be a list")
            return ()
        parsed = (parse(item, f"{name}[{index}]") for index, item in enumerate(value))
        return tuple(item for item in parsed if item is not None)

    def _object(self, value: Any, field: str, allowed: tuple[str, ...]) -> dict[str, Any] | None:
        if not isinstance(value, dict):
            self.problem(field, "must be an object")
            return None
        self.keys(value, field, allowed)
        return value

    def commit(self, value: Any, field: str) -> Commit | None:
        obj = self._object(
            value,
            field,
            ("sha", "author", "committer", "co_authors", "unlinked_co_authors", "verified"),
        )
        if obj is None:
            return None
        sha = self.text(obj, "sha", f"{field}.sha")
        author = self.optional_login(obj, "author", f"{field}.author")
        committer = self.optional_login(obj, "committer", f"{field}.committer")
        co_authors = self.items(obj, "co_authors", self.login, prefix=field)
        unlinked = self.items(obj, "unlinked_co_authors", self.login, prefix=field)
        verified = obj.get("verified", False)
        if not isinstance(verified, bool):
            self.problem(f"{field}.verified", "must be true or false")
            verified = False
        if sha is None:
            return None
        return Commit(
            sha=sha,
            author=author,
            committer=committer,
            co_authors=co_authors,
            unlinked_co_authors=unlinked,
            verified=verified,
        )

    def login(self, value: Any, field: str) -> str | None:
        if not isinstance(value, str) or not value.strip():
            self.problem(field, "must be a non-empty string")
            return None
        return value

    def push(self, value: Any, field: str) -> Push | None:
        obj = self._object(value, field, ("sha", "pusher", "pushed_at"))
        if obj is None:
            return None
        sha = self.text(obj, "sha", f"{field}.sha")
        pusher = self.text(obj, "pusher", f"{field}.pusher")
        pushed_at = self.time(obj, "pushed_at", f"{field}.pushed_at")
        if sha is None or pusher is None or pushed_at is None:
            return None
        return Push(sha=sha, pusher=pusher, pushed_at=pushed_at)

    def review(self, value: Any, field: str) -> Review | None:
        obj = self._object(
            value,
            field,
            (
                "id",
                "user",
                "state",
                "commit_id",
                "submitted_at",
                "dismissed_by",
                "dismissed_state",
            ),
        )
        if obj is None:
            return None
        user = self.text(obj, "user", f"{field}.user")
        state = self._state(obj.get("state"), f"{field}.state")
        commit_id = self.text(obj, "commit_id", f"{field}.commit_id")
        submitted_at = self.time(obj, "submitted_at", f"{field}.submitted_at")
        review_id = self.integer(obj, "id", f"{field}.id", default=0)
        dismissed_by = self.optional_login(obj, "dismissed_by", f"{field}.dismissed_by")
        dismissed_state = None
        if obj.get("dismissed_state") is not None:
            dismissed_state = self._state(obj["dismissed_state"], f"{field}.dismissed_state")
        if state is not ReviewState.DISMISSED and (dismissed_by or dismissed_state):
            self.problem(
                f"{field}.dismissed_by",
                "only a review whose state is DISMISSED has a dismissed_by or dismissed_state;"
                " remove them or set state to DISMISSED",
            )
        if user is None or state is None or commit_id is None or submitted_at is None:
            return None
        return Review(
            user=user,
            state=state,
            commit_id=commit_id,
            submitted_at=submitted_at,
            id=review_id or 0,
            dismissed_by=dismissed_by,
            dismissed_state=dismissed_state,
        )

    def _state(self, value: Any, field: str) -> ReviewState | None:
        try:
            return ReviewState(value)
        except ValueError:
            allowed = ", ".join(state.value for state in ReviewState)
            self.problem(field, f"must be one of {allowed}")
            return None

    def comment(self, value: Any, field: str) -> Comment | None:
        obj = self._object(value, field, ("id", "user", "body", "created_at", "updated_at"))
        if obj is None:
            return None
        user = self.text(obj, "user", f"{field}.user")
        body = obj.get("body")
        if not isinstance(body, str):
            self.problem(f"{field}.body", "must be a string")
        created_at = self.time(obj, "created_at", f"{field}.created_at")
        comment_id = self.integer(obj, "id", f"{field}.id", default=0)
        updated_at = None
        if obj.get("updated_at") is not None:
            updated_at = self.time(obj, "updated_at", f"{field}.updated_at")
        if user is None or not isinstance(body, str) or created_at is None:
            return None
        return Comment(
            user=user,
            body=body,
            created_at=created_at,
            id=comment_id or 0,
            updated_at=updated_at,
        )

    def path(self, value: Any, field: str) -> str | None:
        if not isinstance(value, str) or not value:
            self.problem(field, "must be a non-empty repository path")
            return None
        return value

    def teams(self, value: Any) -> dict[str, frozenset[str]]:
        if not isinstance(value, dict):
            self.problem("teams", 'must be an object such as {"acme/sre": ["alice", "bob"]}')
            return {}
        teams: dict[str, frozenset[str]] = {}
        for team, members in sorted(value.items()):
            field = f"teams.{team[:64]}"
            org, _, slug = team.partition("/")
            if not org or not slug or "/" in slug:
                self.problem(field, "team must be written as <org>/<team slug>")
                continue
            if not isinstance(members, list) or not all(
                isinstance(m, str) and m.strip() for m in members
            ):
                self.problem(field, "must be a list of GitHub logins")
                continue
            teams[team] = frozenset(members)
        return teams

    def tiers(self, value: Any) -> dict[str, Tier]:
        if not isinstance(value, dict):
            self.problem("current_tiers", "must be an object of <env>/<namespace>/<name> to tier")
            return {}
        tiers: dict[str, Tier] = {}
        allowed = ", ".join(tier.value for tier in Tier)
        for path, tier in sorted(value.items()):
            field = f"current_tiers.{path[:64]}"
            if path.count("/") != 2 or not all(path.split("/")):
                self.problem(field, "key must be <environment>/<namespace>/<name>")
                continue
            try:
                tiers[path] = Tier(tier)
            except ValueError:
                self.problem(field, f"must be one of {allowed}")
        return tiers
