"""``api``: the controller's optional HTTP API for people (``POST /v1/open``) and for
agents (``/v1/access-requests``).

Off by default: an installation that delivers access only through Kubernetes RBAC should not
expose an endpoint that hands out values.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

DEFAULT_OPEN_RATE_PER_MINUTE = 30
ADDRESS_RATE_FACTOR = 4
"""Several people may share one address (an office NAT, an ingress that does not forward
the client's): the per-address bucket is this many times the per-login one by default."""


@dataclass(frozen=True, slots=True)
class OpenApiSettings:
    enabled: bool = False
    rate_per_minute: int = DEFAULT_OPEN_RATE_PER_MINUTE
    """Opens allowed per caller (GitHub login): a token bucket refilled at this rate,
    holding at most this many."""
    address_rate_per_minute: int = DEFAULT_OPEN_RATE_PER_MINUTE * ADDRESS_RATE_FACTOR
    """Requests allowed per client address, counted before authentication."""
    identity_cache_s: float = 60.0
    """How long a token GitHub vouched for is trusted without asking again."""


DEFAULT_AGENT_AUDIENCE = "sealgate"
DEFAULT_MAX_WAIT_S = 60.0
_UNITS = {"s": 1, "m": 60, "h": 3600}


@dataclass(frozen=True, slots=True)
class AgentsApiSettings:
    enabled: bool = False
    audience: str = DEFAULT_AGENT_AUDIENCE
    """The audience agents' projected ServiceAccount tokens must carry (TokenReview)."""
    rate_per_minute: int = DEFAULT_OPEN_RATE_PER_MINUTE
    """Calls allowed per agent (requester) per minute."""
    address_rate_per_minute: int = DEFAULT_OPEN_RATE_PER_MINUTE * ADDRESS_RATE_FACTOR
    """Calls allowed per client address, counted before the token is reviewed."""
    max_wait_s: float = DEFAULT_MAX_WAIT_S
    """The longest ``?wait=`` a status long-poll is held."""


@dataclass(frozen=True, slots=True)
class ApiSettings:
    open: OpenApiSettings = field(default_factory=OpenApiSettings)
    agents: AgentsApiSettings = field(default_factory=AgentsApiSettings)


def _seconds(text: str) -> float:
    return float(int(text[:-1]) * _UNITS[text[-1]])


def api_settings(section: Mapping[str, Any]) -> ApiSettings:
    """From schema-valid data (``schemas/config.schema.json`` ``api``)."""
    opened = section.get("open", {})
    rate = int(opened.get("ratePerMinute", DEFAULT_OPEN_RATE_PER_MINUTE))
    return ApiSettings(
        open=OpenApiSettings(
            enabled=bool(opened.get("enabled", False)),
            rate_per_minute=rate,
            address_rate_per_minute=int(
                opened.get("addressRatePerMinute", rate * ADDRESS_RATE_FACTOR)
            ),
            identity_cache_s=float(opened.get("identityCacheSeconds", 60)),
        ),
        agents=_agents(section.get("agents", {})),
    )


def _agents(section: Mapping[str, Any]) -> AgentsApiSettings:
    rate = int(section.get("ratePerMinute", DEFAULT_OPEN_RATE_PER_MINUTE))
    return AgentsApiSettings(
        enabled=bool(section.get("enabled", False)),
        audience=str(section.get("audience", DEFAULT_AGENT_AUDIENCE)),
        rate_per_minute=rate,
        address_rate_per_minute=int(
            section.get("addressRatePerMinute", rate * ADDRESS_RATE_FACTOR)
        ),
        max_wait_s=_seconds(str(section.get("maxWait", "60s"))),
    )
