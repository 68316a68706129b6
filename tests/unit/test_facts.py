"""FACTS.json of ``sealgate plan``: strict parsing, every problem named by file and field."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from controller.documents.facts import parse_facts
from controller.errors import DocumentError, Problem
from controller.model import Commit, ReviewState, Tier

SOURCE = "facts.json"
EXAMPLE: dict[str, Any] = {
    "number": 7,
    "author": "dev1",
    "head_sha": "c2",
    "created_at": "2026-11-20T10:00:00Z",
    "now": "2026-11-21T10:00:00Z",
    "commits": [{"sha": "c1", "author": "dev1", "committer": None}],
    "reviews": [
        {
            "user": "alice",
            "state": "APPROVED",
            "commit_id": "c2",
            "submitted_at": "2026-11-20T11:00:00Z",
        }
    ],
    "teams": {"acme/sre": ["alice", "bob"]},
    "comments": [
        {
            "user": "dev1",
            "body": "/sealgate bypass db down",
            "created_at": "2026-11-20T12:00:00+01:00",
        }
    ],
    "current_tiers": {"production/payments/stripe": "critical"},
    "changed_files": ["changes/production/rotate.yaml"],
}


def encode(document: object) -> bytes:
    return json.dumps(document).encode()


def problems_of(data: bytes) -> list[str]:
    with pytest.raises(DocumentError) as caught:
        parse_facts(SOURCE, data)
    return [str(problem) for problem in caught.value.problems]


def test_example_from_the_issue_parses() -> None:
    facts = parse_facts(SOURCE, encode(EXAMPLE))
    assert facts.number == 7
    assert facts.author == "dev1"
    assert facts.created_at == datetime(2026, 11, 20, 10, tzinfo=UTC)
    assert facts.now == datetime(2026, 11, 21, 10, tzinfo=UTC)
    assert facts.commits == (Commit("c1", "dev1", None),)
    assert facts.reviews[0].state is ReviewState.APPROVED
    assert facts.reviews[0].id == 0
    assert facts.teams == {"acme/sre": frozenset({"alice", "bob"})}
    assert facts.comments[0].created_at == datetime(2026, 11, 20, 11, tzinfo=UTC)
    assert facts.current_tiers == {"production/payments/stripe": Tier.CRITICAL}
    assert facts.changed_files == ("changes/production/rotate.yaml",)


def test_a_dismissed_review_carries_who_dismissed_it_and_what_it_was() -> None:
    dismissed = {
        **EXAMPLE["reviews"][0],
        "state": "DISMISSED",
        "dismissed_by": "dev1",
        "dismissed_state": "CHANGES_REQUESTED",
    }
    (review,) = parse_facts(SOURCE, with_field(("reviews",), [dismissed])).reviews
    assert review.state is ReviewState.DISMISSED
    assert review.dismissed_by == "dev1"
    assert review.dismissed_state is ReviewState.CHANGES_REQUESTED
    unknown = {**EXAMPLE["reviews"][0], "state": "DISMISSED"}
    (review,) = parse_facts(SOURCE, with_field(("reviews",), [unknown])).reviews
    assert (review.dismissed_by, review.dismissed_state) == (None, None)


def test_minimal_facts_with_default_clock() -> None:
    minimal = {k: EXAMPLE[k] for k in ("number", "author", "head_sha", "created_at")}
    clock = datetime(2026, 11, 22, tzinfo=UTC)
    facts = parse_facts(SOURCE, encode(minimal), default_now=clock)
    assert facts.now == clock
    assert facts.reviews == ()


def with_field(path: tuple[str | int, ...], value: object) -> bytes:
    document = json.loads(json.dumps(EXAMPLE))
    target = document
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return encode(document)


def without(key: str) -> bytes:
    return encode({k: v for k, v in EXAMPLE.items() if k != key})


MALFORMED = [
    ("number as text", with_field(("number",), "7"), "facts.json: number: must be an integer"),
    ("number as bool", with_field(("number",), True), "facts.json: number: must be an integer"),
    ("missing author", without("author"), "facts.json: author: required field is missing"),
    (
        "empty head",
        with_field(("head_sha",), ""),
        "facts.json: head_sha: must be a non-empty string",
    ),
    ("missing now", without("now"), "facts.json: now: required field is missing"),
    (
        "naive time",
        with_field(("created_at",), "2026-11-20T10:00:00"),
        "created_at: must include a time zone",
    ),
    (
        "garbage time",
        with_field(("created_at",), "yesterday"),
        "created_at: must be an RFC 3339 time",
    ),
    ("unknown field", with_field(("review",), []), "facts.json: review: unknown field"),
    ("reviews not a list", with_field(("reviews",), {}), "facts.json: reviews: must be a list"),
    ("review not an object", with_field(("reviews", 0), "alice"), "reviews[0]: must be an object"),
    (
        "bad review state",
        with_field(("reviews", 0, "state"), "approved"),
        "reviews[0].state: must be one of APPROVED",
    ),
    (
        "review without user",
        with_field(("reviews", 0, "user"), None),
        "reviews[0].user: must be a non-empty string",
    ),
    (
        "review unknown key",
        with_field(("reviews", 0, "body"), "x"),
        "reviews[0].body: unknown field",
    ),
    (
        "review id as text",
        with_field(("reviews", 0, "id"), "9"),
        "reviews[0].id: must be an integer",
    ),
    (
        "dismisser of a review that is not dismissed",
        with_field(("reviews", 0, "dismissed_by"), "dev1"),
        "reviews[0].dismissed_by: only a review whose state is DISMISSED",
    ),
    (
        "dismisser not a login",
        with_field(
            ("reviews", 0), {**EXAMPLE["reviews"][0], "state": "DISMISSED", "dismissed_by": 3}
        ),
        "reviews[0].dismissed_by: must be a GitHub login or null",
    ),
    (
        "bad dismissed state",
        with_field(
            ("reviews", 0), {**EXAMPLE["reviews"][0], "state": "DISMISSED", "dismissed_state": "x"}
        ),
        "reviews[0].dismissed_state: must be one of APPROVED",
    ),
    (
        "commit author number",
        with_field(("commits", 0, "author"), 5),
        "commits[0].author: must be a GitHub login or null",
    ),
    (
        "comment body missing",
        with_field(("comments", 0, "body"), None),
        "comments[0].body: must be a string",
    ),
    (
        "team without org",
        with_field(("teams",), {"sre": ["a"]}),
        "teams.sre: team must be written as <org>/<team slug>",
    ),
    (
        "team members not list",
        with_field(("teams", "acme/sre"), "alice"),
        "teams.acme/sre: must be a list of GitHub logins",
    ),
    (
        "unknown tier",
        with_field(("current_tiers", "production/payments/stripe"), "secret"),
        "must be one of standard",
    ),
    (
        "tier path shape",
        with_field(("current_tiers",), {"payments/stripe": "critical"}),
        "key must be <environment>/<namespace>/<name>",
    ),
    (
        "changed file empty",
        with_field(("changed_files",), [""]),
        "changed_files[0]: must be a non-empty repository path",
    ),
    ("not json", b"{number: 7", "facts.json:1: not valid JSON"),
    ("not an object", b"[]", "facts.json: must be a JSON object"),
    ("not utf-8", b"\xff\xfe{", "facts.json: file is not UTF-8 text"),
    ("duplicate key", b'{"number": 1, "number": 2}', "facts.json: number: key appears twice"),
    ("NaN", b'{"number": NaN}', "facts.json: not valid JSON"),
    ("deep nesting", b"[" * 100_000 + b"]" * 100_000, "facts.json: not valid JSON"),
]


@pytest.mark.parametrize(
    ("data", "message"), [m[1:] for m in MALFORMED], ids=[m[0] for m in MALFORMED]
)
def test_malformed_facts_name_file_and_field(data: bytes, message: str) -> None:
    assert any(message in problem for problem in problems_of(data)), problems_of(data)


def test_every_problem_is_reported_at_once() -> None:
    document = dict(EXAMPLE, number="x", author=3, reviews=[{"user": "a"}])
    problems = problems_of(encode(document))
    assert len(problems) >= 5
    assert all(problem.startswith("facts.json") for problem in problems)


def test_oversized_file_is_refused() -> None:
    assert problems_of(b" " * (16 * 1024 * 1024 + 1)) == ["facts.json: file is larger than 16 MiB"]


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)


def mutated_example(path: list[str | int], value: object) -> bytes:
    document: Any = json.loads(json.dumps(EXAMPLE))
    target = document
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return encode(document)


FIELDS = st.sampled_from(
    [
        ["number"],
        ["author"],
        ["created_at"],
        ["commits", 0],
        ["commits", 0, "author"],
        ["reviews", 0],
        ["reviews", 0, "state"],
        ["reviews", 0, "submitted_at"],
        ["teams"],
        ["teams", "acme/sre"],
        ["comments", 0, "body"],
        ["current_tiers"],
        ["changed_files"],
        ["extra"],
    ]
)


def problems_or_none(data: bytes) -> tuple[Problem, ...] | None:
    """The problems a refused file has, or None when it parses."""
    try:
        parse_facts(SOURCE, data)
    except DocumentError as exc:
        return exc.problems
    return None


@settings(max_examples=600, deadline=None)
@given(FIELDS, JSON_VALUES)
def test_fuzzed_fields_parse_or_name_the_file(path: list[str | int], value: object) -> None:
    problems = problems_or_none(mutated_example(path, value))
    assert problems is None or (problems and all(str(p).startswith(SOURCE) for p in problems))


@settings(max_examples=600, deadline=None)
@given(st.binary(max_size=200) | JSON_VALUES.map(lambda v: json.dumps(v).encode()))
def test_fuzzed_files_parse_or_name_the_file(data: bytes) -> None:
    problems = problems_or_none(data)
    assert problems is None or (problems and all(str(p).startswith(SOURCE) for p in problems))


def test_a_missing_field_is_one_problem() -> None:
    assert problems_of(without("author")) == ["facts.json: author: required field is missing"]


def test_pushes_co_authors_verification_and_edits_parse_and_bad_ones_name_the_field() -> None:
    document = {
        **EXAMPLE,
        "commits": [
            {
                "sha": "c1",
                "author": "dev1",
                "committer": "dev1",
                "co_authors": ["alice"],
                "unlinked_co_authors": ["Mallory"],
                "verified": True,
            }
        ],
        "comments": [
            {
                "user": "dev1",
                "body": "/sealgate merge",
                "created_at": "2026-11-20T11:00:00Z",
                "updated_at": "2026-11-20T11:05:00Z",
            }
        ],
        "pushes": [{"sha": "c1", "pusher": "dev1", "pushed_at": "2026-11-20T10:00:00Z"}],
    }
    facts = parse_facts(SOURCE, encode(document))
    assert facts.commits[0].co_authors == ("alice",)
    assert facts.commits[0].unlinked_co_authors == ("Mallory",)
    assert facts.commits[0].verified is True
    assert facts.comments[0].edited
    assert facts.pushes[0].pusher == "dev1"

    bad = {
        **document,
        "commits": [{"sha": "c1", "author": None, "committer": None, "verified": "yes"}],
        "pushes": [{"sha": "c1", "pushed_at": "yesterday"}],
    }
    found = "\n".join(problems_of(encode(bad)))
    assert "commits[0].verified: must be true or false" in found
    assert "pushes[0].pusher: required field is missing" in found
    assert "pushes[0].pushed_at: must be an RFC 3339 time" in found
