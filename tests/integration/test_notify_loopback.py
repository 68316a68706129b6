"""Loopback stand-ins for the notification channels, and tests that they behave.

``WebhookReceiver`` plays Slack and Teams incoming webhooks over real HTTP (werkzeug),
recording what arrives and answering scripted failures. ``MailServer`` is a real SMTP server
(aiosmtpd) that demands STARTTLS with a certificate made here and AUTH with a password.
Other notify test modules import these.
"""

from __future__ import annotations

import asyncio
import json
import smtplib
import socket
import ssl
import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any

import pytest
import requests
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

SMTP_USER = "sealgate"
SMTP_PASSWORD = "correct-horse-battery-staple"

# ------------------------------------------------------------------------------ webhooks


@dataclass(frozen=True)
class Received:
    path: str
    body: dict[str, Any]
    content_type: str


@dataclass
class _Answer:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: str = ""


class _QuietHandler(WSGIRequestHandler):
    """No access log: the receiver plays Slack's side, whose logs are not ours to scan."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return


class WebhookReceiver:
    """A loopback HTTP server standing in for Slack and Teams incoming webhooks."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self._script: dict[str, deque[_Answer]] = {}
        self._lock = threading.Lock()
        self.gate = threading.Event()
        """Cleared to hold every request until the test sets it again."""
        self.gate.set()
        self.arrived = threading.Semaphore(0)
        """Released once per request as it arrives (before the gate)."""
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    def answer(
        self,
        path: str,
        status: int,
        *,
        times: int = 1,
        headers: dict[str, str] | None = None,
        body: str | None = None,
    ) -> None:
        """Answer the next ``times`` requests to ``path`` with ``status`` instead of 200."""
        text = f"error {status}" if body is None else body
        with self._lock:
            queue = self._script.setdefault(path, deque())
            queue.extend(_Answer(status, headers or {}, text) for _ in range(times))

    def url(self, path: str) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_port}{path}"

    def bodies(self, path: str) -> list[dict[str, Any]]:
        with self._lock:
            return [r.body for r in self.received if r.path == path]

    def _handle(self, request: Request) -> Response:
        self.arrived.release()
        self.gate.wait()
        with self._lock:
            self.received.append(
                Received(request.path, json.loads(request.get_data()), request.content_type or "")
            )
            queue = self._script.get(request.path)
            answer = queue.popleft() if queue else _Answer(200, body="ok")
        return Response(answer.body, status=answer.status, headers=answer.headers)

    def __enter__(self) -> WebhookReceiver:
        self._server = make_server(
            "127.0.0.1",
            0,
            Request.application(self._handle),
            threaded=True,
            request_handler=_QuietHandler,
        )
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.gate.set()
        assert self._server is not None
        assert self._thread is not None
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


def closed_port() -> int:
    """A loopback port nothing listens on: a webhook receiver that is down."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as server:
        yield server


# ---------------------------------------------------------------------------------- SMTP


@dataclass(frozen=True)
class Certificate:
    cert_file: Path
    key_file: Path


def make_certificate(directory: Path) -> Certificate:
    """A self-signed certificate for 127.0.0.1, its own trust anchor."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sealgate test mail")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(IPv4Address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_file = directory / "mail.pem"
    key_file = directory / "mail.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return Certificate(cert_file, key_file)


@dataclass(frozen=True)
class Mail:
    sender: str
    recipients: tuple[str, ...]
    message: EmailMessage
    tls: bool
    authenticated: bool


class _Handler:
    def __init__(self) -> None:
        self.mails: list[Mail] = []
        self.transient_failures = 0
        self.lock = threading.Lock()

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        with self.lock:
            if self.transient_failures > 0:
                self.transient_failures -= 1
                return "451 4.3.0 try again later"
            raw = envelope.original_content or b""
            parsed = message_from_bytes(raw, policy=policy.default)
            assert isinstance(parsed, EmailMessage)
            self.mails.append(
                Mail(
                    sender=envelope.mail_from or "",
                    recipients=tuple(envelope.rcpt_tos),
                    message=parsed,
                    tls=session.ssl is not None,
                    authenticated=bool(session.authenticated),
                )
            )
        return "250 OK"


def _authenticate(
    server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
) -> AuthResult:
    ok = (
        isinstance(auth_data, LoginPassword)
        and auth_data.login == SMTP_USER.encode()
        and auth_data.password == SMTP_PASSWORD.encode()
    )
    # ``handled=False`` makes aiosmtpd answer 535 itself on failure.
    return AuthResult(success=ok, handled=False)


class _LoopbackController(Controller):
    """aiosmtpd's controller, bound to port 0: the real port is read back once listening."""

    def _trigger_server(self) -> None:
        assert isinstance(self.server, asyncio.Server)
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()  # type: ignore[no-untyped-call]


class MailServer:
    """A real SMTP server on loopback; with ``tls`` it requires STARTTLS and AUTH."""

    def __init__(self, certificate: Certificate | None) -> None:
        self.handler = _Handler()
        kwargs: dict[str, Any] = {}
        if certificate is not None:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(certificate.cert_file, certificate.key_file)
            kwargs = {
                "tls_context": context,
                "require_starttls": True,
                "authenticator": _authenticate,
                "auth_required": True,
            }
        self._controller = _LoopbackController(self.handler, hostname="127.0.0.1", port=0, **kwargs)

    @property
    def port(self) -> int:
        port: int = self._controller.port
        return port

    @property
    def mails(self) -> list[Mail]:
        with self.handler.lock:
            return list(self.handler.mails)

    def fail_transiently(self, times: int) -> None:
        with self.handler.lock:
            self.handler.transient_failures = times

    def __enter__(self) -> MailServer:
        self._controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._controller.stop()


@pytest.fixture
def certificate(tmp_path: Path) -> Certificate:
    return make_certificate(tmp_path)


@pytest.fixture
def mail_server(certificate: Certificate) -> Iterator[MailServer]:
    with MailServer(certificate) as server:
        yield server


# ------------------------------------------------------------- the stand-ins themselves


def test_receiver_records_and_answers_scripted_failures(receiver: WebhookReceiver) -> None:
    receiver.answer("/hook", 503, times=1, headers={"Retry-After": "3"})
    first = requests.post(receiver.url("/hook"), json={"n": 1}, timeout=5)
    second = requests.post(receiver.url("/hook"), json={"n": 2}, timeout=5)
    assert (first.status_code, first.headers["Retry-After"]) == (503, "3")
    assert second.status_code == 200
    assert receiver.bodies("/hook") == [{"n": 1}, {"n": 2}]


def test_mail_server_demands_starttls_and_a_password(
    mail_server: MailServer, certificate: Certificate
) -> None:
    context = ssl.create_default_context(cafile=str(certificate.cert_file))
    with smtplib.SMTP("127.0.0.1", mail_server.port, timeout=5) as client:
        client.ehlo()
        with pytest.raises(smtplib.SMTPException):
            client.login(SMTP_USER, SMTP_PASSWORD)  # no AUTH before TLS
        client.starttls(context=context)
        client.ehlo()
        with pytest.raises(smtplib.SMTPAuthenticationError):
            client.login(SMTP_USER, "wrong")
        client.login(SMTP_USER, SMTP_PASSWORD)
        client.sendmail("a@example.com", ["b@example.com"], b"Subject: hi\r\n\r\nhello\r\n")
    [mail] = mail_server.mails
    assert (mail.tls, mail.authenticated, mail.recipients) == (True, True, ("b@example.com",))
