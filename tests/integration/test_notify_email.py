"""Email over a real SMTP server on loopback: STARTTLS with a certificate made in the test,
AUTH with a password, transient and final failures, and break-glass mail to every approver."""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

import pytest

from controller.model import NotifyTargets
from controller.notify import Channel, NotificationKind, Notifier, RetryPolicy, SmtpSettings
from tests.integration.test_notify_loopback import (
    SMTP_PASSWORD,
    SMTP_USER,
    Certificate,
    MailServer,
    certificate,
    closed_port,
    mail_server,
    make_certificate,
)
from tests.unit.test_notify_render import sample

# Imported fixtures are found by name; listing them marks the import as intended.
__all__ = ["certificate", "mail_server"]

SENDER = "sealgate <sealgate@example.com>"
OPS = NotifyTargets(email=("ops@example.com",))


def settings(
    server: MailServer | None,
    cert: Certificate | None,
    *,
    password: str = SMTP_PASSWORD,
    port: int | None = None,
) -> SmtpSettings:
    return SmtpSettings(
        host="127.0.0.1",
        port=port if port is not None else (server.port if server else 25),
        sender=SENDER,
        username=SMTP_USER,
        password=password,
        timeout_s=5.0,
        ca_file=str(cert.cert_file) if cert else None,
    )


def notifier(
    smtp: SmtpSettings, sleeps: list[float], approver_emails: dict[str, str] | None = None
) -> Notifier:
    retry = RetryPolicy(attempts=3, initial_s=0.5, max_backoff_s=2.0)
    return Notifier(smtp=smtp, retry=retry, sleep=sleeps.append, approver_emails=approver_emails)


@pytest.mark.parametrize("kind", list(NotificationKind))
def test_each_kind_is_mailed_over_starttls_with_auth(
    kind: NotificationKind, mail_server: MailServer, certificate: Certificate
) -> None:
    n = sample(kind)
    with notifier(settings(mail_server, certificate), []) as sender:
        [outcome] = sender.deliver(n, OPS)
    assert (outcome.channel, outcome.delivered, outcome.attempts) == (Channel.EMAIL, True, 1)
    assert outcome.target == f"email to 1 recipient via 127.0.0.1:{mail_server.port}"
    [mail] = mail_server.mails
    assert (mail.tls, mail.authenticated) == (True, True)
    assert mail.sender == "sealgate@example.com"
    assert mail.recipients == ("ops@example.com",)
    assert mail.message["From"] == SENDER
    assert "acme/secrets#42" in mail.message["Subject"]
    body = mail.message.get_content()
    assert n.url in body
    assert "production/payments/stripe" in body


def test_bypass_is_mailed_to_every_approver_with_a_known_address(
    mail_server: MailServer, certificate: Certificate, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    n = replace(sample(NotificationKind.BYPASSED), approvers_needed=("alice", "bob", "carol"))
    emails = {"alice": "alice@example.com", "bob": "bob@example.com"}
    with notifier(settings(mail_server, certificate), [], approver_emails=emails) as sender:
        [outcome] = sender.deliver(n, OPS)
    assert outcome.delivered
    [mail] = mail_server.mails
    assert mail.recipients == ("ops@example.com", "alice@example.com", "bob@example.com")
    assert "merge WITHOUT approval" in mail.message["Subject"]
    assert any(
        "no email address known for approver(s) carol" in r.getMessage() for r in caplog.records
    )


def test_bypass_reaches_approvers_even_when_the_policy_lists_no_address(
    mail_server: MailServer, certificate: Certificate
) -> None:
    n = sample(NotificationKind.BYPASSED)
    emails = {"alice": "alice@example.com", "bob": "bob@example.com"}
    with notifier(settings(mail_server, certificate), [], approver_emails=emails) as sender:
        [outcome] = sender.deliver(n, NotifyTargets())
    assert outcome.delivered
    assert mail_server.mails[0].recipients == ("alice@example.com", "bob@example.com")


def test_a_wrong_password_fails_once_is_logged_and_never_shown(
    mail_server: MailServer, certificate: Certificate, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="controller.notify")
    wrong = "wrong-password-CANARY"
    sleeps: list[float] = []
    with notifier(settings(mail_server, certificate, password=wrong), sleeps) as sender:
        [outcome] = sender.deliver(sample(NotificationKind.APPROVED), OPS)
    assert (outcome.delivered, outcome.attempts, sleeps) == (False, 1, [])
    assert outcome.error is not None
    assert "refused the SMTP credentials (535)" in outcome.error
    assert mail_server.mails == []
    assert any("giving up" in r.getMessage() for r in caplog.records)
    assert "CANARY" not in caplog.text
    assert SMTP_PASSWORD not in caplog.text


def test_a_transient_refusal_is_retried(mail_server: MailServer, certificate: Certificate) -> None:
    mail_server.fail_transiently(1)
    sleeps: list[float] = []
    with notifier(settings(mail_server, certificate), sleeps) as sender:
        [outcome] = sender.deliver(sample(NotificationKind.FAILED), OPS)
    assert (outcome.delivered, outcome.attempts, len(sleeps)) == (True, 2, 1)
    assert len(mail_server.mails) == 1


def test_an_untrusted_certificate_is_refused(mail_server: MailServer, tmp_path: Path) -> None:
    stranger = tmp_path / "other"
    stranger.mkdir()
    other_ca = make_certificate(stranger)
    with notifier(settings(mail_server, other_ca), []) as sender:
        [outcome] = sender.deliver(sample(NotificationKind.APPROVED), OPS)
    assert (outcome.delivered, outcome.attempts) == (False, 1)
    assert outcome.error is not None
    assert "certificate" in outcome.error
    assert mail_server.mails == []


def test_a_server_without_starttls_gets_no_password(certificate: Certificate) -> None:
    with MailServer(None) as plain:
        with notifier(settings(plain, certificate), []) as sender:
            [outcome] = sender.deliver(sample(NotificationKind.APPROVED), OPS)
        assert plain.mails == []
    assert (outcome.delivered, outcome.attempts) == (False, 1)
    assert outcome.error is not None
    assert "does not offer STARTTLS" in outcome.error


def test_an_unreachable_mail_server_is_retried_then_reported(certificate: Certificate) -> None:
    sleeps: list[float] = []
    smtp = settings(None, certificate, port=closed_port())
    with notifier(smtp, sleeps) as sender:
        [outcome] = sender.deliver(sample(NotificationKind.EXPIRED), OPS)
    assert (outcome.delivered, outcome.attempts, len(sleeps)) == (False, 3, 2)
    assert outcome.error is not None
    assert "could not reach mail server" in outcome.error


def test_email_targets_without_smtp_settings_are_reported_not_raised() -> None:
    with Notifier() as sender:
        [outcome] = sender.deliver(sample(NotificationKind.WAITING), OPS)
    assert (outcome.delivered, outcome.attempts) == (False, 0)
    assert outcome.error == "no SMTP server is configured"
