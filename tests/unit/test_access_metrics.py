"""Access metrics in the Prometheus text format: live grants per environment, opens,
refusals by reason class and grant outcomes. Labels are bounded: an unknown reason or
outcome counts as ``other``, and no secret path, grant id or requester ever becomes a label."""

from __future__ import annotations

import pytest

from controller.reconciler import NullObserver, Observer
from controller.reconciler.ports import ACCESS_REFUSALS, GRANT_OUTCOMES
from controller.run import Metrics


def test_every_access_metric_in_the_exposition_text() -> None:
    metrics = Metrics()
    metrics.grants_active("production", 3)
    metrics.grants_active("staging", 1)
    metrics.grants_active("staging", 0)
    metrics.access_opened("production")
    metrics.access_opened("production")
    for reason in ACCESS_REFUSALS:
        metrics.access_refused(reason)
    for outcome in GRANT_OUTCOMES:
        metrics.grant_event(outcome)
    text = metrics.render().decode()
    for line in (
        "# TYPE sealgate_access_grants_active gauge",
        'sealgate_access_grants_active{environment="production"} 3.0',
        'sealgate_access_grants_active{environment="staging"} 0.0',
        "# TYPE sealgate_access_opens_total counter",
        'sealgate_access_opens_total{environment="production"} 2.0',
        "# TYPE sealgate_access_refusals_total counter",
        *(f'sealgate_access_refusals_total{{reason="{r}"}} 1.0' for r in ACCESS_REFUSALS),
        "# TYPE sealgate_access_grants_total counter",
        *(f'sealgate_access_grants_total{{outcome="{o}"}} 1.0' for o in GRANT_OUTCOMES),
    ):
        assert line in text, line


def test_a_reason_outside_the_set_is_counted_as_other() -> None:
    metrics = Metrics()
    # What a careless caller might pass: a message naming the secret and the requester.
    metrics.access_refused("no grant for dev1 on production/payments/stripe")
    metrics.grant_event("production-pr-7-incident-4711")
    text = metrics.render().decode()
    assert 'sealgate_access_refusals_total{reason="other"} 1.0' in text
    assert 'sealgate_access_grants_total{outcome="other"} 1.0' in text
    assert "payments/stripe" not in text
    assert "dev1" not in text
    assert "incident-4711" not in text


def test_the_reason_and_outcome_classes_are_fixed() -> None:
    assert set(ACCESS_REFUSALS) == {
        "no-grant",
        "not-approved",
        "not-open-delivery",
        "key-not-granted",
        "key-not-found",
        "lapsed",
        "ended",
        "revoked",
        "rate-limited",
        "unauthenticated",
    }
    assert set(GRANT_OUTCOMES) == {"granted", "ended", "lapsed", "revoked"}


@pytest.mark.parametrize("observer", [NullObserver(), Metrics()])
def test_both_observers_take_the_access_calls(observer: Observer) -> None:
    observer.grants_active("production", 1)
    observer.access_opened("production")
    observer.access_refused("lapsed")
    observer.grant_event("granted")
