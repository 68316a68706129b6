"""The sticky comment's record of whom sealgate asked to review, and the mention line."""

from __future__ import annotations

from controller.github.asked import Asked, parse_asked, render_asked


def test_the_record_survives_a_round_trip_and_mentions_grow_only() -> None:
    state = Asked().add("abc1", frozenset({"carol", "bob", "acme/sre"}), frozenset({"carol"}))
    state = state.add("abc1", frozenset({"bob", "acme/sre"}), frozenset({"bob", "acme/sre"}))
    text = render_asked(state)
    assert "Review requested from @carol, @bob, @acme/sre." in text
    back = parse_asked("### summary\n\n" + text)
    assert back == state
    assert back.on("abc1") == frozenset({"bob", "carol", "acme/sre"})


def test_a_new_head_starts_a_new_record_of_asks_but_keeps_the_mentions() -> None:
    state = Asked().add("abc1", frozenset({"bob"}), frozenset({"bob"}))
    moved = state.add("def2", frozenset({"carol"}), frozenset({"carol", "bob"}))
    assert moved.on("abc1") == frozenset()
    assert moved.on("def2") == frozenset({"carol"})
    assert moved.mentioned == ("bob", "carol")


def test_names_that_are_not_logins_or_teams_are_dropped() -> None:
    state = Asked().add("abc1", frozenset({"bob", "x -->", "@all"}), frozenset({"bob", "@all"}))
    assert state.mentioned == ("bob",)
    assert parse_asked("no record here") == Asked()
    assert render_asked(Asked()) == ""
