"""Attacks on tiers and fingerprints, carried out through the loopback GitHub.

Each test plays the attacker over HTTP (pushes, pull requests, reviews) and asserts from what
GitHub shows and what the store holds.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from controller.keyring import KEK_FILE_NAME, Keyring, LocalKekFile
from controller.model import Tier
from controller.reconciler import Status
from tests.integration.test_reconciler_world import (
    ENV,
    FULL,
    NAMESPACE,
    OWNER,
    REPO,
    Controller,
    World,
    build_world,
    environment_yaml,
)
from tests.integration.test_reconciler_world import controller as controller  # noqa: PLC0414
from tests.integration.test_reconciler_world import world as world  # noqa: PLC0414

REAL_VALUE = b"Summer2024!"
STRONG = b"xK9#mQ2$vL8@nR4!-t7Wp"
WEAK_CANARY = b"Winter2025!canary"
GUESSES = 300
# The "after" column of a set key: the new value's fingerprint as the pull request shows it.
_FINGERPRINT = re.compile(r"\| (?:new key|changed value) \| [^|]* \| `([0-9a-f]{12})` \|")


def _published(world: World, number: int) -> str:
    """Everything the bot showed on a pull request: comments and check runs."""
    texts = [c["body"] for c in world.hub.comments(OWNER, REPO, number)]
    for run in world.hub.check_runs(OWNER, REPO, world.head(number)):
        output = run.get("output") or {}
        texts += [str(output.get("title") or ""), str(output.get("summary") or "")]
        texts.append(str(output.get("text") or ""))
    return "\n".join(texts)


def _guess_document(world: World, secret: str, guesses: Mapping[str, bytes]) -> bytes:
    lines = [
        "apiVersion: sealgate.dev/v1",
        "kind: SecretChange",
        "metadata:\n  name: guesses",
        "spec:",
        f"  environment: {ENV}",
        f"  secret: {secret}",
        "  reason: just testing a few values",
        "  set:",
    ]
    for key, value in guesses.items():
        lines.append(f"    {key}: {world.seal(value, key=key, secret=secret)}")
    return ("\n".join(lines) + "\n").encode()


def _open(world: World, files: Mapping[str, bytes], *, author: str = "alice") -> int:
    branch = f"attack-{next(world.branches)}"
    world.hub.push(OWNER, REPO, branch, dict(files), message="try", author=author, base="main")
    return world.hub.open_pull_request(OWNER, REPO, head=branch, title=branch, author=author)


def _wordlist() -> Iterator[bytes]:
    for year in range(2000, 2030):
        for season in (b"Spring", b"Summer", b"Autumn", b"Winter", b"Fall"):
            for suffix in (b"", b"!"):
                yield season + str(year).encode() + suffix


def test_sealed_guesses_under_a_throwaway_secret_reveal_nothing(
    world: World, controller: Controller
) -> None:
    real = world.open_pull(REAL_VALUE)
    assert controller.reconciler.handle(FULL, real).status is Status.PENDING
    shown_for_real = set(_FINGERPRINT.findall(_published(world, real)))
    assert len(shown_for_real) == 1

    words = list(_wordlist())[:GUESSES]
    assert REAL_VALUE in words
    assert len(words) == GUESSES
    # Same key name as the real secret too: only the secret differs.
    guesses = {f"password{i}" if i else "password": w for i, w in enumerate(words)}
    attack = _open(
        world,
        {f"changes/{ENV}/guesses.yaml": _guess_document(world, f"{NAMESPACE}/scratch", guesses)},
    )
    assert controller.reconciler.handle(FULL, attack).status is Status.PENDING
    shown_for_guesses = set(_FINGERPRINT.findall(_published(world, attack)))
    # The bot did show fingerprints for the guesses (else this test could not fail) ...
    assert len(shown_for_guesses - shown_for_real) >= GUESSES - 1
    # ... and none of them matches the real secret's.
    assert not shown_for_real & shown_for_guesses
    assert world.secret() is None


def test_a_guess_for_the_real_place_matches_nothing_the_real_pull_request_showed(
    world: World, controller: Controller
) -> None:
    """One guess per pull request, sealed for the real secret and key, tells nothing.

    Were the fingerprint bound to the place only, the guess's fingerprint would equal the one
    the real value showed in the pull request that set it; it is bound to the pull request too.
    """
    real = world.open_pull(REAL_VALUE)
    guess = world.open_pull(REAL_VALUE)  # the attacker's right guess, in a pull request of theirs
    for number in (real, guess):
        assert controller.reconciler.handle(FULL, number).status is Status.PENDING
    shown_real = set(_FINGERPRINT.findall(_published(world, real)))
    shown_guess = set(_FINGERPRINT.findall(_published(world, guess)))
    assert shown_real
    assert shown_guess
    assert not shown_real & shown_guess
    # The same pull request shows the same fingerprint on every pass.
    controller.reconciler.handle(FULL, guess)
    assert set(_FINGERPRINT.findall(_published(world, guess))) == shown_guess


TIERED_POLICIES = b"""\
apiVersion: sealgate.dev/v1
kind: ApprovalPolicy
metadata:
  name: everyday
spec:
  environments: [production]
  secrets: ["**"]
  tiers: [standard, sensitive]
  approvals:
    required: 1
    users: [bob, carol]
"""
CRITICAL_POLICY = b"""\
apiVersion: sealgate.dev/v1
kind: ApprovalPolicy
metadata:
  name: crown-jewels
spec:
  environments: [production]
  secrets: ["**"]
  tiers: [critical]
  approvals:
    required: 2
    users: [bob, carol]
"""


@pytest.fixture
def tiered(tmp_path: Path) -> Iterator[World]:
    """defaultTier critical, a critical floor for payments/floored, two policies by tier."""
    w = build_world(tmp_path, policy=TIERED_POLICIES)
    try:
        info = Keyring(
            Path(w.spec.keys), LocalKekFile(Path(w.spec.keys) / KEK_FILE_NAME)
        ).list_keys(ENV)[0]
        document = environment_yaml(info.key_id, info.public_key).replace(
            b"defaultTier: sensitive\n",
            b"defaultTier: critical\n"
            b"  tierFloors:\n    - secrets: [payments/floored]\n      tier: critical\n",
        )
        w.hub.push(
            OWNER,
            REPO,
            "main",
            {f"environments/{ENV}.yaml": document, "policies/critical.yaml": CRITICAL_POLICY},
            message="governance: critical by default",
            author="erin",
        )
        yield w
    finally:
        w.hub.stop()
        w.kube.stop()


def _change(world: World, name: str, secret: str, value: bytes, tier: str | None) -> bytes:
    tier_line = f"  tier: {tier}\n" if tier else ""
    return (
        "apiVersion: sealgate.dev/v1\nkind: SecretChange\n"
        f"metadata:\n  name: {name}\nspec:\n  environment: {ENV}\n  secret: {secret}\n"
        f"  reason: rotate\n{tier_line}  set:\n"
        f"    password: {world.seal(value, secret=secret)}\n"
    ).encode()


def test_a_new_secret_is_stored_at_the_default_tier_so_the_next_change_needs_critical(
    tiered: World,
) -> None:
    controller = tiered.controller()
    try:
        first = tiered.open_pull(b"first-long-password-value")
        assert controller.reconciler.handle(FULL, first).status is Status.PENDING
        assert "sensitive → critical" not in _published(tiered, first)
        assert "critical → critical" in _published(tiered, first)
        tiered.approve("bob", first)
        assert controller.reconciler.handle(FULL, first).status is Status.PENDING
        tiered.approve("carol", first)
        assert controller.reconciler.handle(FULL, first).status is Status.SYNCED
        assert controller.store.current_tiers() == {f"{ENV}/{NAMESPACE}/db": Tier.CRITICAL}

        second = tiered.open_pull(b"second-long-password-value")
        tiered.approve("bob", second)
        # One approval satisfies the sensitive policy, which must no longer apply.
        assert controller.reconciler.handle(FULL, second).status is Status.PENDING
        assert "crown-jewels" in _published(tiered, second)
        assert tiered.hub.pull(OWNER, REPO, second)["merged"] is False
    finally:
        controller.close()


def test_a_plain_downgrade_says_standard_and_needs_the_critical_approvals(
    tiered: World,
) -> None:
    controller = tiered.controller()
    try:
        number = _open(
            tiered,
            {
                f"changes/{ENV}/down.yaml": _change(
                    tiered, "down", f"{NAMESPACE}/db", STRONG, "standard"
                )
            },
        )
        tiered.approve("bob", number)
        assert controller.reconciler.handle(FULL, number).status is Status.PENDING
        assert "critical → standard (judged critical)" in _published(tiered, number)
    finally:
        controller.close()


def test_two_documents_asking_for_conflicting_tiers_are_invalid(tiered: World) -> None:
    controller = tiered.controller()
    try:
        secret = f"{NAMESPACE}/db"
        number = _open(
            tiered,
            {
                f"changes/{ENV}/a.yaml": _change(tiered, "a", secret, b"one", "critical"),
                f"changes/{ENV}/b.yaml": _change(tiered, "b", secret, b"two", "standard"),
            },
        )
        assert controller.reconciler.handle(FULL, number).status is Status.INVALID
        shown = _published(tiered, number)
        assert f"changes/{ENV}/b.yaml" in shown
        assert "spec.tier" in shown
        assert "asks for different tiers" in shown
        assert controller.store.current_tiers() == {}
    finally:
        controller.close()


def test_asking_below_a_floor_is_invalid_and_names_the_floor(tiered: World) -> None:
    controller = tiered.controller()
    try:
        secret = f"{NAMESPACE}/floored"
        number = _open(
            tiered,
            {f"changes/{ENV}/low.yaml": _change(tiered, "low", secret, b"v", "sensitive")},
        )
        assert controller.reconciler.handle(FULL, number).status is Status.INVALID
        shown = _published(tiered, number)
        assert "below the floor 'critical'" in shown
        assert f"environments/{ENV}.yaml" in shown
        assert "spec.tierFloors" in shown
    finally:
        controller.close()


def test_a_weak_value_for_a_critical_secret_is_refused_and_never_shown(
    tiered: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    controller = tiered.controller()
    try:
        number = tiered.open_pull(WEAK_CANARY)
        assert controller.reconciler.handle(FULL, number).status is Status.INVALID
        shown = _published(tiered, number)
        assert "spec.set.password" in shown
        assert "too guessable for tier 'critical'" in shown
        assert "minEntropyBits" in shown
        assert WEAK_CANARY.decode() not in shown
        assert all(WEAK_CANARY not in blob for blob in tiered.store_blobs())
        assert tiered.secret() is None
        assert WEAK_CANARY.decode() not in caplog.text
    finally:
        controller.close()


def test_a_generate_spec_too_small_for_critical_is_refused(tiered: World) -> None:
    controller = tiered.controller()
    try:
        document = (
            "apiVersion: sealgate.dev/v1\nkind: SecretChange\nmetadata:\n  name: gen\n"
            f"spec:\n  environment: {ENV}\n  secret: {NAMESPACE}/db\n  reason: rotate\n"
            "  generate:\n    password:\n      length: 12\n      alphabet: hex\n"
        ).encode()
        number = _open(tiered, {f"changes/{ENV}/gen.yaml": document})
        assert controller.reconciler.handle(FULL, number).status is Status.INVALID
        shown = _published(tiered, number)
        assert "spec.generate.password" in shown
        assert "raise length" in shown
    finally:
        controller.close()
