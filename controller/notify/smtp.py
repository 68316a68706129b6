"""Send one email over SMTP with ``smtplib``: STARTTLS first, then authentication.

The password goes to ``smtplib.SMTP.login`` and nowhere else: never into a message, a log
line or an exception text.
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage

from controller.notify.retry import DeliveryError
from controller.notify.settings import SmtpSettings


def _transient(code: int) -> bool:
    # SMTP 4yz replies are "try again later"; 5yz are final (RFC 5321 §4.2.1).
    return 400 <= code < 500


def _server_text(raw: bytes | str) -> str:
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    return " ".join(text.split())[:120]


def _tls_context(settings: SmtpSettings) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=settings.ca_file)


def send_email(settings: SmtpSettings, message: EmailMessage, recipients: tuple[str, ...]) -> None:
    """Deliver ``message`` to ``recipients``; raise :class:`DeliveryError` on failure."""
    where = f"mail server {settings.host}:{settings.port}"
    try:
        with smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout_s) as smtp:
            smtp.ehlo()
            if settings.starttls:
                if not smtp.has_extn("starttls"):
                    raise DeliveryError(
                        f"{where} does not offer STARTTLS; refusing to send in clear",
                        retryable=False,
                    )
                smtp.starttls(context=_tls_context(settings))
                smtp.ehlo()
            if settings.username is not None and settings.password is not None:
                smtp.login(settings.username, settings.password)
            refused = smtp.send_message(message, to_addrs=list(recipients))
    except smtplib.SMTPAuthenticationError as exc:
        raise DeliveryError(
            f"{where} refused the SMTP credentials ({exc.smtp_code}); check the "
            "configured username and password",
            retryable=False,
        ) from exc
    except smtplib.SMTPNotSupportedError as exc:
        raise DeliveryError(
            f"{where} does not offer AUTH with a mechanism sealgate supports",
            retryable=False,
        ) from exc
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _ in exc.recipients.values()]
        raise DeliveryError(
            f"{where} refused every recipient ({', '.join(sorted(exc.recipients))})",
            retryable=all(_transient(code) for code in codes),
        ) from exc
    except smtplib.SMTPResponseException as exc:
        raise DeliveryError(
            f"{where} answered {exc.smtp_code} {_server_text(exc.smtp_error)}",
            retryable=_transient(exc.smtp_code),
        ) from exc
    except smtplib.SMTPServerDisconnected as exc:
        raise DeliveryError(f"{where} closed the connection", retryable=True) from exc
    except ssl.SSLCertVerificationError as exc:
        raise DeliveryError(
            f"{where}: TLS certificate could not be verified ({exc.verify_message})",
            retryable=False,
        ) from exc
    except smtplib.SMTPException as exc:
        raise DeliveryError(
            f"{where}: SMTP failed ({type(exc).__name__})", retryable=False
        ) from exc
    except OSError as exc:
        raise DeliveryError(
            f"could not reach {where} ({type(exc).__name__})", retryable=True
        ) from exc
    if refused:
        total = len(recipients)
        raise DeliveryError(
            f"{where} delivered to {total - len(refused)} of {total} recipients; refused: "
            f"{', '.join(sorted(refused))}",
            retryable=False,
        )
