"""How to reach the mail server and how hard to try: configuration, separate from targets.

Targets (webhook URLs, addresses) come from each policy's ``notify``; the SMTP connection
and the retry budget are the controller's own configuration. The SMTP password is passed
in by the caller (from an environment variable in production) and is kept out of ``repr``
so a logged settings object never shows it.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True, kw_only=True)
class SmtpSettings:
    host: str
    sender: str
    """The ``From`` address, e.g. ``sealgate <sealgate@example.com>``."""
    port: int = 587
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    starttls: bool = True
    """Upgrade the connection with STARTTLS before anything else; refuse servers without it."""
    timeout_s: float = 10.0
    ca_file: str | None = None
    """A PEM bundle to trust instead of the system's, for a relay with a private CA."""

    def __post_init__(self) -> None:
        if (self.username is None) != (self.password is None):
            raise ValueError("SMTP username and password must be given together")
        # Authenticating without TLS would send the password in clear on the wire.
        if self.username is not None and not self.starttls:
            raise ValueError("SMTP authentication requires starttls")
        if self.timeout_s <= 0:
            raise ValueError("SMTP timeout_s must be positive")


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryPolicy:
    """Bounded retries with exponential back-off and full jitter."""

    attempts: int = 5
    """Total tries per target, including the first."""
    initial_s: float = 1.0
    max_backoff_s: float = 60.0
    max_retry_after_s: float = 300.0
    """A server's ``Retry-After`` is honoured up to this; longer waits give up instead."""
    http_timeout_s: float = 10.0

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("RetryPolicy.attempts must be at least 1")
        if self.initial_s < 0 or self.max_backoff_s < 0 or self.max_retry_after_s < 0:
            raise ValueError("RetryPolicy waits must not be negative")
        if self.http_timeout_s <= 0:
            raise ValueError("RetryPolicy.http_timeout_s must be positive")
