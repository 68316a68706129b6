"""Which edits of a report go in the GraphQL mutation, and how its answer is read."""

from __future__ import annotations

import pytest

from controller.github.report_graph import (
    GraphEdits,
    plan_edits,
    read_answer,
    sealgate_label_ids,
)

PULL = "PR_kwDOAAABc84"
IDS = {"sealgate:approved": "LA_approved", "sealgate:pending": "LA_pending"}
BODY = "<!-- sealgate:summary -->\n## sealgate: approved\nCANARY-BODY-LINE-91c4e0\n"


def test_everything_with_an_id_goes_in_one_mutation() -> None:
    edits, rest_add, rest_remove = plan_edits(
        comment=("IC_1", BODY),
        pull=PULL,
        add=["sealgate:approved"],
        remove=["sealgate:pending"],
        label_ids=IDS,
    )
    assert (rest_add, rest_remove) == ([], [])
    assert edits == GraphEdits(
        ("IC_1", BODY),
        PULL,
        {"sealgate:approved": "LA_approved"},
        {"sealgate:pending": "LA_pending"},
    )
    mutation = edits.mutation()
    assert mutation is not None
    assert mutation.aliases == ("comment", "add", "remove")
    assert mutation.variables["addIds"] == ["LA_approved"]
    assert mutation.variables["removeIds"] == ["LA_pending"]
    assert mutation.variables["labelable"] == PULL
    # Values travel as variables only, never in the document.
    assert BODY not in mutation.document


def test_a_label_without_an_id_goes_over_rest() -> None:
    edits, rest_add, rest_remove = plan_edits(
        comment=None,
        pull=PULL,
        add=["sealgate:rejected"],
        remove=["sealgate:pending"],
        label_ids=IDS,
    )
    assert rest_add == ["sealgate:rejected"]
    assert rest_remove == []
    assert edits is not None
    assert edits.comment is None
    assert dict(edits.remove) == {"sealgate:pending": "LA_pending"}


def test_without_the_pull_requests_id_labels_go_over_rest() -> None:
    edits, rest_add, rest_remove = plan_edits(
        comment=("IC_1", BODY),
        pull="",
        add=["sealgate:approved"],
        remove=["sealgate:pending"],
        label_ids=IDS,
    )
    assert (rest_add, rest_remove) == (["sealgate:approved"], ["sealgate:pending"])
    assert edits is not None
    assert edits.mutation() is not None
    assert edits.add == {}
    assert edits.remove == {}


def test_nothing_for_the_mutation_means_no_mutation() -> None:
    assert plan_edits(
        comment=None, pull=PULL, add=["sealgate:rejected"], remove=[], label_ids=IDS
    ) == (None, ["sealgate:rejected"], [])
    assert plan_edits(comment=None, pull=PULL, add=[], remove=[], label_ids={}) == (None, [], [])


def test_label_ids_come_only_from_sealgate_labels_with_ids() -> None:
    labels = [
        {"name": "sealgate:approved", "node_id": "LA_approved"},
        {"name": "bug", "node_id": "LA_bug"},
        {"name": "sealgate:pending", "node_id": ""},
        {"name": "sealgate:rejected"},
        "sealgate:bypassed",
        {"name": 7, "node_id": "LA_x"},
    ]
    assert sealgate_label_ids(labels) == {"sealgate:approved": "LA_approved"}
    assert sealgate_label_ids(None) == {}
    assert sealgate_label_ids({"name": "sealgate:approved", "node_id": "x"}) == {}


ALIASES = ("comment", "add", "remove")
DONE = {
    "comment": {"issueComment": {"id": "IC_1"}},
    "add": {"labelable": {"__typename": "PullRequest"}},
    "remove": {"labelable": {"__typename": "PullRequest"}},
}


def test_every_alias_done() -> None:
    answer = read_answer(ALIASES, {"data": DONE})
    assert answer.done == frozenset(ALIASES)
    assert answer.failed == {}


def test_a_failed_alias_is_told_apart_from_the_done_ones() -> None:
    answer = read_answer(
        ALIASES,
        {
            "data": {**DONE, "comment": None},
            "errors": [
                {
                    "type": "NOT_FOUND",
                    "path": ["comment"],
                    "message": "Could not resolve to a node with the global id of 'IC_1'",
                }
            ],
        },
    )
    assert answer.done == {"add", "remove"}
    failure = answer.failed["comment"]
    assert failure.kind == "NOT_FOUND"
    assert "IC_1" in failure.message
    assert failure.retryable
    assert failure.own


def test_an_error_naming_an_alias_fails_it_even_with_data() -> None:
    answer = read_answer(
        ALIASES,
        {"data": DONE, "errors": [{"type": "FORBIDDEN", "path": ["add", "labelable"]}]},
    )
    assert answer.done == {"comment", "remove"}
    assert answer.failed["add"].kind == "FORBIDDEN"
    assert not answer.failed["add"].retryable


def test_a_refused_document_fails_every_alias() -> None:
    answer = read_answer(
        ALIASES, {"errors": [{"message": 'Parse error on "}" (RCURLY) at [3, 1]'}]}
    )
    assert answer.done == frozenset()
    assert set(answer.failed) == set(ALIASES)
    assert all(f.kind == "" and "Parse error" in f.message for f in answer.failed.values())


@pytest.mark.parametrize("answer", [None, "oops", [], {"data": None}, {"data": {"comment": 1}}])
def test_an_answer_of_the_wrong_shape_shows_nothing_done(answer: object) -> None:
    result = read_answer(("comment",), answer)
    assert result.done == frozenset()
    assert result.failed["comment"].describe() == "comment: an error"


@pytest.mark.parametrize(
    "message",
    [
        f"Body is invalid: {BODY}",
        "Body is invalid near CANARY-BODY-LINE-91c4e0 (line 3)",
    ],
)
def test_a_message_that_quotes_the_body_is_left_out(message: str) -> None:
    answer = read_answer(
        ("comment",),
        {
            "data": {"comment": None},
            "errors": [{"type": "UNPROCESSABLE", "path": ["comment"], "message": message}],
        },
        sent=(BODY,),
    )
    failure = answer.failed["comment"]
    assert failure.message == ""
    assert "CANARY" not in failure.describe()
    assert failure.describe() == "comment: UNPROCESSABLE"


def test_a_long_message_is_cut() -> None:
    answer = read_answer(
        ("add",),
        {"errors": [{"type": "INTERNAL", "path": ["add"], "message": "x" * 5000}]},
    )
    assert len(answer.failed["add"].message) <= 200


def test_a_refusal_of_the_whole_document_names_no_alias() -> None:
    answer = read_answer(
        ALIASES,
        {"errors": [{"type": "RATE_LIMITED", "message": "API rate limit exceeded for app"}]},
    )
    assert answer.done == frozenset()
    for failure in answer.failed.values():
        assert failure.kind == "RATE_LIMITED"
        assert failure.retryable
        # So a pathless NOT_FOUND is never taken for a deleted comment.
        assert not failure.own
