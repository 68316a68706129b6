"""Credentials pasted into ``spec.reason``: refused like plaintext under ``spec.set``.

A reason is shown to reviewers, kept whole in the audit log and repeated in the store's
commit trailers, so it must never hold a credential. Only shapes that are credentials by
construction are looked for (issuers' token prefixes, private-key armour, passwords inside
URLs, signed JWTs): a reason naming a commit SHA, a ticket or a host must not be refused.
The store also withholds any reason that quotes a value the change writes (see
``controller.store.trailers``). Nothing here returns or formats the matched text.
"""

from __future__ import annotations

import re

_SHAPES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("a private key", re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----")),
    ("a GitHub token", re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_\w{50,})")),
    ("an AWS access key id", re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b")),
    ("a Slack token", re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}")),
    ("a Stripe key", re.compile(r"\b[rs]k_(?:live|test)_[A-Za-z0-9]{16,}")),
    ("a Google API key", re.compile(r"\bAIza[0-9A-Za-z_-]{35}")),
    (
        "a JSON Web Token",
        re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{16,}"),
    ),
    ("a password in a URL", re.compile(r"\b[a-z][a-z0-9+.-]*://[^/\s:@]+:[^/\s@]+@")),
)

REASON_CREDENTIAL_MESSAGE = (
    "looks like it holds {kind}, which is not shown here; a reason is shown to reviewers "
    "and kept in the audit log and the store's commits, so it must not hold a credential: "
    "remove it, and rotate that credential, which is in git history now"
)


def credential_in(text: str) -> str | None:
    """What kind of credential ``text`` seems to hold (``a GitHub token``), or None."""
    for kind, shape in _SHAPES:
        if shape.search(text):
            return kind
    return None
