"""The value-strength estimate and its per-tier checks (pure)."""

from __future__ import annotations

import secrets

from controller.crypto.strength import estimate_bits, generate_problem, value_problem
from controller.model import DEFAULT_VALUE_POLICY, Alphabet, GenerateSpec, Tier, ValueRule

CRITICAL = DEFAULT_VALUE_POLICY[Tier.CRITICAL]


def test_words_years_repeats_and_runs_count_as_cheap() -> None:
    assert estimate_bits(b"Summer2024!") < 32
    assert estimate_bits(b"a" * 40) < 50
    assert estimate_bits(b"abcdefghijklmnopqrstuvwxyz") < 40
    assert estimate_bits(secrets.token_urlsafe(24).encode()) > 100
    assert estimate_bits(b"") == 0


def test_messages_name_the_rule_and_never_the_value() -> None:
    value = b"Password2024!!!!!!"
    message = value_problem(value, Tier.CRITICAL, CRITICAL)
    assert message is not None
    assert "minEntropyBits" in message
    assert value.decode() not in message
    short = value_problem(b"tiny", Tier.CRITICAL, CRITICAL)
    assert short is not None
    assert "minLength" in short
    assert "tiny" not in short
    assert value_problem(secrets.token_hex(16).encode(), Tier.CRITICAL, CRITICAL) is None
    assert value_problem(b"v", Tier.STANDARD, DEFAULT_VALUE_POLICY[Tier.STANDARD]) is None


def test_generate_specs_are_checked_by_length_and_alphabet() -> None:
    assert generate_problem(GenerateSpec(12, Alphabet.HEX), Tier.CRITICAL, CRITICAL)
    assert (
        generate_problem(GenerateSpec(32, Alphabet.ALPHANUMERIC), Tier.CRITICAL, CRITICAL) is None
    )
    strict = ValueRule(min_length=40, min_entropy_bits=0)
    assert generate_problem(GenerateSpec(32, Alphabet.ASCII_PRINTABLE), Tier.CRITICAL, strict)
