"""A reason quoting a value the store holds for a requested secret is withheld from the
summary, whichever of the request's secrets holds it."""

from __future__ import annotations

import dataclasses

from controller.github.summary import render_summary
from controller.github.summary_access import access_view
from controller.model import Tier
from controller.reconciler.access_reasons import reasons_quoting_values
from controller.store.types import SecretData
from tests.unit.test_github_summary_access import NOW, PENDING, REQUEST, TIERS

CANARY = b"CANARY-stored-value-9c1e"
STORE = {
    ("production", "payments/db"): SecretData(
        path="production/payments/db",
        version=2,
        tier=Tier.SENSITIVE,
        data={"password": CANARY},
        change_id="production/pr-1",
    )
}


def read(environment: str, secret: str) -> SecretData | None:
    return STORE.get((environment, secret))


def test_a_reason_quoting_a_stored_value_is_found_and_withheld() -> None:
    quoting = dataclasses.replace(REQUEST, reason=f"the old {CANARY.decode()} stopped working")
    withheld = reasons_quoting_values([quoting], read)
    assert withheld == frozenset({REQUEST.source})
    view = access_view([quoting], PENDING, TIERS, None, NOW, withheld=withheld)
    text = render_summary(PENDING, [], fingerprints={}, now=NOW, access=view).text
    assert "CANARY" not in text
    assert "withheld: it may hold a value" in text


def test_an_ordinary_reason_is_kept() -> None:
    assert reasons_quoting_values([REQUEST], read) == frozenset()
    assert reasons_quoting_values([REQUEST], None) == frozenset()
    blank = dataclasses.replace(REQUEST, reason="  ")
    assert reasons_quoting_values([blank], read) == frozenset()
