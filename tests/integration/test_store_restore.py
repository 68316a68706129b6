"""The store's restores and its stale-base refusal, on real git (see test_store for the rest)."""

from __future__ import annotations

from typing import Any

import pytest

from controller.errors import ConflictError, InputError
from controller.model import Tier
from tests.integration.test_store import World, _change, _git, _record
from tests.integration.test_store import world as world  # noqa: PLC0414

SECRET = "payments/stripe"


def _seed(world: World) -> None:
    """v1 {A: a1, B: b1}; v2 {A: a2, C: c2} (A set, B deleted, C added), by two pull requests."""
    world.store.apply(
        "production/pr-1",
        [
            _change(
                set={"A": world.seal(SECRET, "A", b"a1"), "B": world.seal(SECRET, "B", b"b1")},
                tier=Tier.CRITICAL,
            )
        ],
        _record("production/pr-1"),
    )
    world.store.apply(
        "production/pr-2",
        [
            _change(
                set={"A": world.seal(SECRET, "A", b"a2"), "C": world.seal(SECRET, "C", b"c2")},
                delete=("B",),
                base_version=1,
                tier=Tier.STANDARD,
            )
        ],
        _record("production/pr-2"),
    )


def _data(world: World) -> tuple[int, dict[str, bytes]]:
    data = world.store.read_secret("production", SECRET)
    assert data is not None
    return data.version, dict(data.data)


def test_a_whole_restore_is_a_new_version_equal_to_the_old_one(world: World) -> None:
    _seed(world)
    result = world.store.apply(
        "production/pr-3",
        [_change(restore_version=1, base_version=2, tier=Tier.CRITICAL)],
        _record("production/pr-3"),
    )
    assert dict(result.versions) == {f"production/{SECRET}": 3}
    assert _data(world) == (3, {"A": b"a1", "B": b"b1"})
    history = world.store.history("production", SECRET)
    assert [v.version for v in history] == [3, 2, 1]
    assert dict(history[0].fingerprints) == dict(history[2].fingerprints)
    (audited,) = [r for r in world.store.audit_records() if r.fields["changeId"].endswith("pr-3")]
    keys = audited.fields["secrets"][f"production/{SECRET}"]["keys"]
    assert {k: v["op"] for k, v in keys.items()} == {"A": "restore", "B": "restore", "C": "delete"}


def test_a_key_restore_leaves_the_other_keys_alone(world: World) -> None:
    _seed(world)
    world.store.apply(
        "production/pr-3", [_change(restore_keys={"A": 1})], _record("production/pr-3")
    )
    assert _data(world) == (3, {"A": b"a1", "C": b"c2"})


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"restore_version": 9}, "has no version 9"),
        ({"restore_keys": {"A": 9}}, "has no version 9"),
        ({"restore_keys": {"B": 2}}, "had no key B at version 2 \\(deleted by then"),
    ],
)
def test_a_restore_of_what_never_was_writes_nothing(
    world: World, fields: dict[str, Any], message: str
) -> None:
    _seed(world)
    head = _git(world.path, "rev-parse", "main")
    with pytest.raises(InputError, match=message):
        world.store.apply("production/pr-3", [_change(**fields)], _record("production/pr-3"))
    assert _git(world.path, "rev-parse", "main") == head
    assert _data(world) == (2, {"A": b"a2", "C": b"c2"})


def test_a_stale_base_is_refused_only_for_the_keys_changed_since(world: World) -> None:
    _seed(world)
    head = _git(world.path, "rev-parse", "main")
    for fields in (
        {"delete": ("C",), "base_version": 1},
        {"restore_version": 1, "base_version": 1},
        {"set": {"D": world.seal(SECRET, "D", b"d")}, "base_version": 0},
    ):
        with pytest.raises(
            ConflictError, match=r"pull request #2 got there first|pull request #1 created"
        ):
            world.store.apply("production/pr-9", [_change(**fields)], _record("production/pr-9"))
    assert _git(world.path, "rev-parse", "main") == head
    # A key nobody touched since the base: both changes land, neither overwrites the other.
    world.store.apply(
        "production/pr-9",
        [_change(set={"D": world.seal(SECRET, "D", b"d")}, base_version=1)],
        _record("production/pr-9"),
    )
    assert _data(world) == (3, {"A": b"a2", "C": b"c2", "D": b"d"})


def test_of_two_changes_on_one_base_the_second_apply_is_refused_whole(world: World) -> None:
    _seed(world)
    first = _change(set={"A": world.seal(SECRET, "A", b"first")}, base_version=2)
    second = [
        # Fresh on its own; one stale document refuses the whole apply.
        _change(target="payments/other", set={"K": world.seal("payments/other", "K", b"k")}),
        _change(set={"A": world.seal(SECRET, "A", b"second")}, base_version=2),
    ]
    world.store.apply("production/pr-41", [first], _record("production/pr-41"))
    head = _git(world.path, "rev-parse", "main")
    with pytest.raises(ConflictError) as caught:
        world.store.apply("production/pr-42", second, _record("production/pr-42"))
    message = str(caught.value)
    assert "pull request #41 got there first and changed key A in version 3" in message
    assert "--base-version 3" in message
    assert "nothing was applied" in message
    assert _git(world.path, "rev-parse", "main") == head
    assert world.store.read_secret("production", "payments/other") is None
    assert world.store.is_applied("production/pr-42") is None
    assert _data(world) == (3, {"A": b"first", "C": b"c2"})
