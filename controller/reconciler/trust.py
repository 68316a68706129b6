"""Which rule sets may judge pull requests: the ones the store records as trusted.

The rules are read from the tip of the base branch, and anyone who can push there directly
(an admin, a missing branch protection, a leaked token, a merge around sealgate) could
otherwise loosen them for every later pull request. A rule set is trusted on first use (no
trusted set at all yet), when sealgate merges an approved governance pull request, or by an
operator (``sealgate rules trust``); each is an audited store write, so it survives restarts.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping

from controller.documents import rules_digest
from controller.errors import Problem
from controller.reconciler.ports import StorePort
from controller.store.types import PullRequestOrigin

log = logging.getLogger(__name__)

FIRST_USE = "first-use"
GOVERNANCE_MERGE = "governance-pull-request"
OPERATOR = "operator"


def untrusted_message(branch: str, sha: str) -> str:
    return (
        f"the rules at {branch}@{sha[:12]} changed outside an approved governance pull "
        "request, so sealgate judges nothing by them: nothing is merged or applied. Revert "
        f"the commits that changed environments/ or policies/ on {branch} (the rules last "
        "trusted are trusted again), or review the change and run `sealgate rules trust "
        f"--config <config> --sha {sha[:12]} --reason <why>`"
    )


class RulesTrust:
    """Checks rule sets against the store's trusted digests; records new trust."""

    def __init__(self, store: StorePort, *, actor: str) -> None:
        self._store = store
        self._actor = actor
        # Two first passes in parallel must not each trust a different rule set on first use.
        self._first_use = threading.Lock()
        self._known: frozenset[str] = frozenset()
        """Digests seen trusted: trust is never withdrawn, so only a miss reads the store
        again (an operator may have trusted more from another process)."""

    def _trusted(self, digest: str) -> frozenset[str]:
        if digest not in self._known:
            self._known = self._store.trusted_rules()
        return self._known

    def problem(
        self, repo: str, branch: str, sha: str, files: Mapping[str, bytes]
    ) -> Problem | None:
        """None when the rules ``files`` (read at ``branch@sha``) are trusted; trusts them
        first when nothing is trusted yet."""
        digest = rules_digest(files)
        with self._first_use:
            trusted = self._trusted(digest)
            if not trusted:
                log.warning(
                    "%s: no rule set is trusted yet: trusting the rules at %s@%s (%s) on first"
                    " use; review them, every later change must come through an approved"
                    " governance pull request",
                    repo,
                    branch,
                    sha[:12],
                    digest,
                )
                self._store.trust_rules(
                    digest,
                    how=FIRST_USE,
                    repo=repo,
                    ref=branch,
                    sha=sha,
                    actor=self._actor,
                    reason="no rule set was trusted yet (trust on first use)",
                )
                self._known = frozenset({digest})
                return None
        if digest in trusted:
            return None
        log.warning("%s: the rules at %s@%s (%s) are not trusted", repo, branch, sha[:12], digest)
        return Problem(f"{branch}@{sha[:12]}", "rules", untrusted_message(branch, sha))

    def trust_merge(
        self,
        repo: str,
        number: int,
        branch: str,
        sha: str,
        files: Mapping[str, bytes],
        *,
        origin: PullRequestOrigin | None = None,
    ) -> str:
        """Trust the rules at the merge commit ``sha`` of the approved governance pull
        request ``number``; returns their digest."""
        digest = rules_digest(files)
        with self._first_use:
            if digest in self._trusted(digest):
                return digest
            self._store.trust_rules(
                digest,
                how=GOVERNANCE_MERGE,
                repo=repo,
                ref=branch,
                sha=sha,
                actor=self._actor,
                reason=f"approved governance pull request #{number} merged",
                origin=origin,
            )
            self._known = self._known | {digest}
        return digest
