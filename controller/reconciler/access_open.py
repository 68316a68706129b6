"""``open`` delivery: hand a grant's values to its requester, sealed to their fresh key.

:meth:`AccessOpener.open` finds the caller's grants on ``<env>/<secret>``, picks a live one
that covers the keys asked for, reads the values and seals them at once (plaintext lives
only inside the call), then records the use (the first use activates the grant and starts
its duration), so a use is recorded only for an answer that is handed out. Every refusal
says why, in words the caller can act on, and is audited.

A secret the store does not hold is refused exactly like a secret the caller has no grant
for: the answer must not tell a stranger which secrets exist.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey

from controller.crypto.caller_box import seal_for_caller
from controller.errors import InputError, SealgateError
from controller.model import AccessDelivery, Grant, GrantState
from controller.reconciler.ports import GrantsPort, NullObserver, Observer
from controller.store.types import SecretData

VIA = "open"


class SecretReader(Protocol):
    """What the opener needs of the store (``controller.store.Store``)."""

    def read_secret(self, env: str, secret: str) -> SecretData | None: ...


class Refusal:
    """Reason codes, stable for scripts and metrics (a bounded label set)."""

    NO_GRANT = "no-grant"
    NOT_OPEN = "not-open-delivery"
    LAPSED = "lapsed"
    ENDED = "ended"
    REVOKED = "revoked"
    KEY_NOT_GRANTED = "key-not-granted"
    KEY_NOT_FOUND = "key-not-found"


class AccessRefused(SealgateError):
    """The caller may not open what they asked for; ``message`` says why and what to do."""

    def __init__(self, reason_code: str, message: str, *, grant_id: str | None = None) -> None:
        super().__init__(message)
        self.reason_code = reason_code
        self.message = message
        self.grant_id = grant_id


@dataclass(frozen=True, slots=True)
class Opened:
    grant_id: str
    ends_at: datetime
    keys: tuple[str, ...]
    """The keys in ``sealed``, sorted."""
    sealed: str
    """A ``controller.crypto.caller_box`` box of those keys' values."""


def _time(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


class AccessOpener:
    def __init__(
        self,
        grants: GrantsPort,
        store: SecretReader,
        *,
        clock: Callable[[], datetime],
        observer: Observer | None = None,
    ) -> None:
        self._grants = grants
        self._store = store
        self._clock = clock
        self._observer: Observer = observer or NullObserver()

    def open(
        self,
        login: str,
        environment: str,
        secret: str,
        keys: Sequence[str],
        caller_public_key: X25519PublicKey,
        *,
        nonce: str,
        grant_id: str | None = None,
    ) -> Opened:
        """The granted values of ``keys`` (empty: every key granted), sealed to the caller;
        ``AccessRefused`` otherwise (audited). ``grant_id`` opens that grant only (an agent
        opens the grant of the request it names, not whichever of its grants covers the
        secret: uses and the clock belong to that one)."""
        now = self._clock()
        try:
            grant, chosen = self._choose(
                login, environment, secret, tuple(keys), now, grant_id=grant_id
            )
            data = self._store.read_secret(environment, secret)
            if data is None:
                # Granted but never stored (or deleted since): still "nothing for you here",
                # so the answer for a name that does not exist stays the same everywhere.
                raise self._no_grant(login, environment, secret)
            if not keys:
                # Every key granted that the secret holds now (all of them for an all-keys
                # grant); asked-for keys must all exist.
                chosen = tuple(k for k in (chosen or sorted(data.data)) if k in data.data)
                if not chosen:
                    raise AccessRefused(
                        Refusal.KEY_NOT_FOUND,
                        f"{environment}/{secret} holds none of the keys granted to you now; "
                        "the grant was not used",
                        grant_id=grant.id,
                    )
            missing = [key for key in chosen if key not in data.data]
            if missing:
                raise AccessRefused(
                    Refusal.KEY_NOT_FOUND,
                    f"{environment}/{secret} has no key {', '.join(sorted(missing))}: "
                    f"ask for one of its keys (or none, for every key granted)",
                    grant_id=grant.id,
                )
            # Sealed before the use is recorded: a use is audited (and a first use starts
            # the grant's clock) only for an answer that can be handed out.
            sealed = seal_for_caller(
                {key: data.data[key] for key in chosen},
                caller_public_key,
                grant_id=grant.id,
                environment=environment,
                secret=secret,
                nonce=nonce,
            )
            try:
                used = self._grants.record_use(
                    grant.id, at=now, actor=login, secret=secret, keys=chosen, via=VIA
                )
            except InputError as exc:
                # Ended between reading and recording (the expiry loop, a revocation).
                current = self._grants.grant(grant.id) or grant
                raise self._not_live(current, current.state(self._clock())) from exc
        except AccessRefused as refused:
            self._grants.record_refusal(
                at=now,
                actor=login,
                environment=environment,
                secret=secret,
                reason=refused.reason_code,
                grant_id=refused.grant_id,
            )
            self._observer.access_refused(refused.reason_code)
            raise
        self._observer.access_opened(environment)
        return Opened(grant_id=grant.id, ends_at=used.ends_at, keys=chosen, sealed=sealed)

    def _choose(
        self,
        login: str,
        environment: str,
        secret: str,
        keys: tuple[str, ...],
        now: datetime,
        *,
        grant_id: str | None = None,
    ) -> tuple[Grant, tuple[str, ...]]:
        """The grant to use and the keys to hand out (empty: all the secret has)."""
        mine = [
            grant
            for grant in self._grants.grants()
            if grant.requester.lower() == login.lower()
            and grant.environment == environment
            and grant.covers(secret)
            and (grant_id is None or grant.id == grant_id)
        ]
        if not mine:
            raise self._no_grant(login, environment, secret)
        openable = [grant for grant in mine if AccessDelivery.OPEN in grant.deliver]
        if not openable:
            raise AccessRefused(
                Refusal.NOT_OPEN,
                f"your grant {mine[0].id} on {environment}/{secret} is delivered through "
                "Kubernetes RBAC, not `sealgate open`: read the Secret with kubectl as its "
                "subject, or ask for `deliver: [open]`",
                grant_id=mine[0].id,
            )
        live = [grant for grant in openable if grant.state(now).live]
        if not live:
            latest = max(openable, key=lambda grant: grant.ends_at)
            raise self._not_live(latest, latest.state(now))
        fitting = [grant for grant in live if _allows(grant, secret, keys)]
        if not fitting:
            allowed = sorted({key for grant in live for key in grant.keys_of(secret) or ()})
            wanted = sorted(set(keys) - set(allowed))
            raise AccessRefused(
                Refusal.KEY_NOT_GRANTED,
                f"key {', '.join(wanted)} of {environment}/{secret} is not granted to you "
                f"(granted: {', '.join(allowed)}): drop --key or request it",
                grant_id=live[0].id,
            )
        # An active grant first: a second grant's clock must not start while one runs.
        grant = max(
            fitting,
            key=lambda g: (g.state(now) is GrantState.ACTIVE, g.ends_at, g.id),
        )
        granted = grant.keys_of(secret) or ()
        return grant, (tuple(sorted(set(keys))) if keys else tuple(sorted(granted)))

    def _no_grant(self, login: str, environment: str, secret: str) -> AccessRefused:
        return AccessRefused(
            Refusal.NO_GRANT,
            f"no grant for {login} on {environment}/{secret}: it is not approved yet, or was "
            "never asked for; open an AccessRequest pull request "
            f"(access/{environment}/<id>.yaml) and wait for its approval",
        )

    def _not_live(self, grant: Grant, state: GrantState) -> AccessRefused:
        if state is GrantState.REVOKED:
            by = f" by {grant.revoked_by}" if grant.revoked_by else ""
            why = f" ({grant.revoke_reason})" if grant.revoke_reason else ""
            at = _time(grant.revoked_at) if grant.revoked_at is not None else "?"
            return AccessRefused(
                Refusal.REVOKED,
                f"grant {grant.id} was revoked at {at}{by}{why}; ask again in a new request",
                grant_id=grant.id,
            )
        if state is GrantState.LAPSED:
            return AccessRefused(
                Refusal.LAPSED,
                f"grant {grant.id} lapsed at {_time(grant.activate_by)}: it was not used "
                "within its activation window; ask again in a new request",
                grant_id=grant.id,
            )
        return AccessRefused(
            Refusal.ENDED,
            f"grant {grant.id} ended at {_time(grant.ends_at)}; ask again in a new request",
            grant_id=grant.id,
        )


def _allows(grant: Grant, secret: str, keys: tuple[str, ...]) -> bool:
    granted = grant.keys_of(secret)
    if granted is None:
        return False
    return not granted or set(keys) <= set(granted)
