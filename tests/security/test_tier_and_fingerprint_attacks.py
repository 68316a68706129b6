"""Attacks on tiers and fingerprints, carried out through the loopback GitHub.

Each test plays the attacker over HTTP (pushes, pull requests, reviews) and asserts from what
GitHub shows and what the store holds.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping

from controller.reconciler import Status
from tests.integration.test_reconciler_world import (
    ENV,
    FULL,
    NAMESPACE,
    OWNER,
    REPO,
    Controller,
    World,
)
from tests.integration.test_reconciler_world import controller as controller  # noqa: PLC0414
from tests.integration.test_reconciler_world import world as world  # noqa: PLC0414

REAL_VALUE = b"Summer2024!"
GUESSES = 300
_FINGERPRINT = re.compile(r"\| set \| [^|]* \| `([0-9a-f]{12})` \|")


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


def test_the_same_value_under_the_same_secret_and_key_keeps_its_fingerprint(
    world: World, controller: Controller
) -> None:
    """Reviewers can still tell a re-proposed value: same place, same value, same fingerprint."""
    first = world.open_pull(REAL_VALUE)
    second = world.open_pull(REAL_VALUE)
    for number in (first, second):
        assert controller.reconciler.handle(FULL, number).status is Status.PENDING
    assert set(_FINGERPRINT.findall(_published(world, first))) == set(
        _FINGERPRINT.findall(_published(world, second))
    )
