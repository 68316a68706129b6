"""Which access requests' reasons quote a value the store holds for a secret they name.

The summary withholds such a reason as it withholds a change's (``reasons_withheld``): a
requester who already knows a value (an old credential, a colleague's paste) must not get
it shown to every reader of the pull request. Values are opened only to be compared and
dropped at once; nothing here keeps or returns one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from controller.crypto.quoting import quotes_any
from controller.model import AccessRequest
from controller.store.types import SecretData


def reasons_quoting_values(
    requests: Sequence[AccessRequest],
    read: Callable[[str, str], SecretData | None] | None,
) -> frozenset[str]:
    """Sources of the requests whose reason quotes a value of a secret they ask for.
    ``read(environment, "<namespace>/<name>")`` is the store's ``read_secret``; None: no
    store to ask, nothing is withheld by this rule (the credential shapes still are)."""
    if read is None:
        return frozenset()
    withheld: set[str] = set()
    for request in requests:
        if not request.reason.strip():
            continue
        for item in request.secrets:
            held = read(request.environment, item.secret)
            quoted = held is not None and quotes_any(request.reason, held.data.values())
            del held
            if quoted:
                withheld.add(request.source)
                break
    return frozenset(withheld)
