"""``EndReports``: which merged access pull requests must be reported again after an end."""

from __future__ import annotations

from datetime import timedelta

from controller.model import Grant
from controller.reconciler.grant_reports import RECENT, EndReports
from tests.unit.access_fakes import T0, grant

NOW = T0 + timedelta(days=3)


def _reports(*stored: Grant) -> tuple[EndReports, list[int]]:
    reads: list[int] = []

    def every() -> list[Grant]:
        reads.append(1)
        return list(stored)

    reports = EndReports(lambda: NOW)
    reports.due("acme/requests", every)
    return reports, reads


def test_an_end_is_due_until_a_pass_reports_it_ended() -> None:
    reports, _ = _reports()
    ended = grant(7, first_used_at=T0, ended_recorded=True)
    reports.ended(ended)
    assert reports.due("Acme/Requests", list) == {7}
    assert reports.due("acme/other", list) == set()
    # A pass that read the grant before its end was recorded does not clear the mark.
    reports.reported("acme/requests", 7, [grant(7, first_used_at=T0)])
    assert reports.due("acme/requests", list) == {7}
    reports.reported("acme/requests", 7, [ended])
    assert reports.due("acme/requests", list) == set()


def test_a_restart_takes_recent_ends_as_due_and_reads_the_store_once() -> None:
    recent = grant(7, first_used_at=NOW - timedelta(hours=2), ended_recorded=True)
    old = grant(8, first_used_at=NOW - RECENT - timedelta(days=1), ended_recorded=True)
    live = grant(9, first_used_at=NOW - timedelta(minutes=5))
    reports, reads = _reports(recent, old, live)
    assert reports.due("acme/requests", list) == {7}
    assert reads == [1]
