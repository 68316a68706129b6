"""``AsyncSealgateClient``: the same client for asyncio agents.

Each call runs the blocking one in a worker thread (``asyncio.to_thread``): the calls are
few and mostly waiting on the network, and one implementation means one set of rules.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from datetime import timedelta

from controller.client.status import AccessRequestStatus
from controller.client.sync import (
    DEFAULT_TIMEOUT_S,
    MIN_POLL_INTERVAL_S,
    OpenedGrant,
    SealgateClient,
    SecretSpec,
    SecretValues,
)


class AsyncSealgateClient:
    def __init__(
        self,
        api_url: str,
        token_file: str | os.PathLike[str],
        *,
        timeout: float = DEFAULT_TIMEOUT_S,
        poll_interval: float = MIN_POLL_INTERVAL_S,
        ca_file: str | os.PathLike[str] | None = None,
    ) -> None:
        self.sync = SealgateClient(
            api_url, token_file, timeout=timeout, poll_interval=poll_interval, ca_file=ca_file
        )

    def __repr__(self) -> str:
        return f"Async{self.sync!r}"

    async def request_access(
        self,
        environment: str,
        secrets: Sequence[SecretSpec],
        reason: str,
        duration: str | timedelta,
        activate_within: str | timedelta = "1h",
        *,
        idempotency_key: str | None = None,
        cluster: str | None = None,
    ) -> AccessRequestStatus:
        return await asyncio.to_thread(
            self.sync.request_access,
            environment,
            secrets,
            reason,
            duration,
            activate_within,
            idempotency_key=idempotency_key,
            cluster=cluster,
        )

    async def status(self, request_id: str) -> AccessRequestStatus:
        return await asyncio.to_thread(self.sync.status, request_id)

    async def wait(self, request_id: str, timeout: float) -> AccessRequestStatus:
        return await asyncio.to_thread(self.sync.wait, request_id, timeout)

    async def open(
        self, request_id: str, keys: Sequence[str] | None = None, *, secret: str | None = None
    ) -> SecretValues:
        return await asyncio.to_thread(self.sync.open, request_id, keys, secret=secret)

    async def open_grant(
        self, request_id: str, keys: Sequence[str] | None = None, *, secret: str | None = None
    ) -> OpenedGrant:
        return await asyncio.to_thread(self.sync.open_grant, request_id, keys, secret=secret)

    async def access(
        self,
        environment: str,
        secret: SecretSpec,
        *,
        reason: str,
        duration: str | timedelta,
        activate_within: str | timedelta = "1h",
        idempotency_key: str | None = None,
        cluster: str | None = None,
    ) -> SecretValues:
        return await asyncio.to_thread(
            self.sync.access,
            environment,
            secret,
            reason=reason,
            duration=duration,
            activate_within=activate_within,
            idempotency_key=idempotency_key,
            cluster=cluster,
        )
