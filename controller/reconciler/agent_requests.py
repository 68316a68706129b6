"""An agent's access request: validated as its file would be, recorded, then a pull request.

:meth:`AgentRequestFlow.submit` builds the ``AccessRequest`` file the agent's body describes
and judges it exactly as the reconciler will (``judge_documents`` with the rules at the
default branch's tip, the store's secrets and keys, the policy engine's scope), then writes
the intent durably (the store's agent-request record) before it acts. Only then does it
open the pull request and hand it to the reconciler at once, so a request needing no
approval is merged and granted before the answer goes back. A crash after the record and
before the pull request is finished by :meth:`finish_pending` (the next pass) or by a retry
with the same idempotency key.

:meth:`after_pass` is the reconciler's hook: a change request by an eligible approver or a
close without merging denies the request, the pull request's expiry expires it. Waiters
(the long-poll) are woken whenever an agent request may have changed.
"""

from __future__ import annotations

import base64
import json
import logging
import secrets
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from controller.crashpoint import crashpoint
from controller.documents import parse_rules
from controller.documents.access_rules import access_store_problems
from controller.documents.rules import ACCESS_DIR
from controller.errors import DocumentError, GitHubError, SealgateError
from controller.model import (
    AgentIdentity,
    DecisionState,
    PullRequestFacts,
    ReviewState,
    SecretAccess,
    Tier,
    frozen_map,
)
from controller.policy.access_scope import scope_access
from controller.policy.agents import agent_allowed
from controller.reconciler.agent_ports import AgentPullsPort, AgentRecordsPort
from controller.reconciler.judging import judge_documents
from controller.reconciler.ports import GitHubPort, Snapshot, StorePort
from controller.reconciler.status import RequestStatus, Status
from controller.store.agent_records import AgentRequestRecord, idempotency_digest

log = logging.getLogger("sealgate.agents")

AGENT_LABEL = "sealgate:agent"
RECORDED_CRASHPOINT = "agent-request:recorded"
"""After the durable record, before the pull request: a retry must finish the request."""


@dataclass(frozen=True, slots=True)
class AgentAsk:
    """The body of ``POST /v1/access-requests``, already shaped (not yet judged)."""

    environment: str
    secrets: tuple[SecretAccess, ...]
    reason: str
    duration: str
    activate_within: str


class AgentNotAllowed(SealgateError):
    """The environment's ``spec.agents`` does not let this ServiceAccount ask (403)."""


class AgentRequestInvalid(SealgateError):
    """Invalid as the AccessRequest file would be (422); ``problems`` as for files."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = tuple(problems)


def new_request_id() -> str:
    return "agent-" + base64.b32encode(secrets.token_bytes(10)).decode().lower()[:12]


def request_file(request_id: str, requester: str, ask: AgentAsk) -> bytes:
    """The AccessRequest document; every scalar is a JSON string, which YAML reads as is."""
    q = json.dumps
    lines = [
        "apiVersion: sealgate.dev/v1",
        "kind: AccessRequest",
        "metadata:",
        f"  name: {request_id}",
        "spec:",
        f"  environment: {q(ask.environment)}",
        "  secrets:",
    ]
    for item in ask.secrets:
        lines.append(f"    - secret: {q(item.secret)}")
        if item.keys:
            lines.append(f"      keys: [{', '.join(q(k) for k in item.keys)}]")
    lines += [
        f"  requester: {q(requester)}",
        f"  reason: {q(ask.reason)}",
        f"  duration: {q(ask.duration)}",
        f"  activateWithin: {q(ask.activate_within)}",
    ]
    return ("\n".join(lines) + "\n").encode()


class AgentRequestFlow:
    """Thread-safe: the store serialises writes; the reconciler serialises passes."""

    def __init__(
        self,
        *,
        repo: str,
        github: GitHubPort,
        pulls: AgentPullsPort,
        records: AgentRecordsPort,
        store: StorePort,
        handle: Callable[[str, int], RequestStatus],
        clock: Callable[[], datetime],
        controller_namespace: str | None = None,
        new_id: Callable[[], str] = new_request_id,
    ) -> None:
        self._repo = repo
        self._github = github
        self._pulls = pulls
        self._records = records
        self._store = store
        self._handle = handle
        self._clock = clock
        self._namespace = controller_namespace
        self._new_id = new_id
        self.changed = threading.Condition()
        """Notified whenever an agent request may have changed (long-polls wait on it)."""
        self._version = 0
        self._submitting_lock = threading.Lock()
        self._submitting: dict[str, threading.Lock] = {}
        """One lock per requester (agents are few: the environments list them)."""

    # ------------------------------------------------------------------ asking

    def submit(
        self, identity: AgentIdentity, ask: AgentAsk, idempotency_key: str | None = None
    ) -> AgentRequestRecord:
        """Judge, record, open and handle; the same key from the same agent returns the
        request it made first (finishing it if a crash interrupted it)."""
        requester = identity.requester
        idempotency = idempotency_digest(requester, idempotency_key) if idempotency_key else None
        with self._submitting_lock:
            lock = self._submitting.setdefault(requester, threading.Lock())
        with lock:
            # Two calls racing with one key must not both miss the lookup and record twice;
            # other agents are not held up meanwhile.
            found = self._find(requester, idempotency)
            if found is None:
                found = self._record(identity, ask, idempotency)
        return self.finish(found)

    def _find(self, requester: str, idempotency: str | None) -> AgentRequestRecord | None:
        if idempotency is None:
            return None
        for found in self._records.agent_requests():
            if found.requester == requester and found.idempotency == idempotency:
                return found
        return None

    def _record(
        self, identity: AgentIdentity, ask: AgentAsk, idempotency: str | None
    ) -> AgentRequestRecord:
        requester = identity.requester
        rules_at = self._github.current_rules(self._repo)
        try:
            rules = parse_rules(rules_at.files)
        except DocumentError as exc:
            raise GitHubError(
                f"{self._repo}: the rules at the default branch do not parse"
                f" ({len(exc.problems)} problems): no request can be judged until they are fixed",
                retryable=True,
            ) from exc
        environment = rules.environments.get(ask.environment)
        if environment is None:
            # The same answer as for an environment that exists but lists no agent: an agent
            # learns nothing about environments it may not use.
            raise AgentNotAllowed(
                f"environments/{ask.environment}.yaml: spec.agents: {requester} may not ask"
                f" for access in environment {ask.environment}: a governance change must"
                " list it in spec.agents"
            )
        for item in ask.secrets:
            refused = agent_allowed(
                environment, identity.namespace, identity.name, identity.cluster, item.secret
            )
            if refused is not None:
                raise AgentNotAllowed(refused)
        request_id = self._new_id()
        path = f"{ACCESS_DIR}/{ask.environment}/{request_id}.yaml"
        content = request_file(request_id, requester, ask)
        tier = self._judge(path, content, requester, rules_at.files)
        record = AgentRequestRecord(
            id=request_id,
            environment=ask.environment,
            requester=requester,
            path=path,
            content=content,
            created_at=self._clock(),
            idempotency=idempotency,
            tier=tier,
        )
        record = self._records.record_agent_request(record, actor=requester)
        log.info("agent request %s recorded for %s in %s", request_id, requester, ask.environment)
        crashpoint(RECORDED_CRASHPOINT)
        return record

    def _judge(
        self, path: str, content: bytes, requester: str, rule_files: Mapping[str, bytes]
    ) -> str:
        """The highest tier asked for; AgentRequestInvalid with every problem otherwise."""
        judged = judge_documents(rule_files, {path: content}, controller_namespace=self._namespace)
        problems = [str(p) for p in judged.problems]
        requests = judged.access_requests
        current = {info.path: info for info in self._store.list_secrets()}
        problems += [
            str(p)
            for p in access_store_problems(
                requests, {p: frozenset(info.keys) for p, info in current.items()}
            )
        ]
        tiers: dict[str, Tier] = {}
        if requests and judged.rules_parsed:
            bot = self._github.login()
            facts = PullRequestFacts(
                number=0,
                author=bot,
                head_sha="",
                created_at=self._clock(),
                now=self._clock(),
                current_tiers={p: info.tier for p, info in current.items()},
                changed_files=(path,),
                bot_login=bot,
                agent_requests=frozen_map({path: requester}),
            )
            scope = scope_access(judged.rules.environments, judged.rules.policies, requests, facts)
            problems += scope.invalid
            tiers = scope.tiers
        if problems:
            raise AgentRequestInvalid(problems)
        return str(Tier.highest(*tiers.values())) if tiers else ""

    def finish(self, record: AgentRequestRecord) -> AgentRequestRecord:
        """Open the pull request if it is not yet, then run a pass over it."""
        if record.pull_number is None:
            opened = self._pulls.open_request_pull(
                self._repo,
                environment=record.environment,
                request_id=record.id,
                path=record.path,
                content=record.content,
                title=f"Access for {record.requester} in {record.environment} ({record.id})",
                body=(
                    f"{record.requester} asked for access through the agents API"
                    f" (request {record.id}). Review the file; the controller wrote it and"
                    " keeps it as it was asked."
                ),
                labels=(AGENT_LABEL,),
            )
            record = self._records.agent_request_opened(
                record.id, opened.number, opened.url, actor=self._github.login()
            )
            log.info("agent request %s: pull request #%d", record.id, opened.number)
        if record.state is None and record.pull_number is not None:
            self._handle(self._repo, record.pull_number)
        self.notify()
        return self._records.agent_request(record.id) or record

    def finish_pending(self) -> list[str]:
        """Requests recorded whose pull request was never opened (a crash): open them now."""
        finished = []
        for record in self._records.agent_requests():
            if record.pull_number is None and record.state is None:
                try:
                    self.finish(record)
                    finished.append(record.id)
                except SealgateError as exc:
                    log.warning("agent request %s: could not finish it yet: %s", record.id, exc)
        return finished

    # ------------------------------------------------------------------ outcomes

    def vouched(self, snapshot: Snapshot) -> dict[str, str]:
        """``facts.agent_requests`` for ``snapshot``: path -> requester of the unresolved
        record whose path and bytes are exactly the pull request's only file."""
        files = snapshot.change_files
        if len(files) != 1:
            return {}
        ((path, content),) = files.items()
        number = snapshot.facts.number
        for record in self._records.agent_requests():
            if record.path != path or record.content != content:
                continue
            # A denied or expired request stays so (a reopened pull request grants
            # nothing), and a record vouches only for the pull request opened for it (None:
            # the crash window before the number was recorded).
            if record.state is None and record.pull_number in (None, number):
                return {path: record.requester}
        return {}

    def after_pass(self, snapshot: Snapshot, status: RequestStatus) -> None:
        """The reconciler's hook after every pass: resolve a refused or expired request."""
        if snapshot.repo != self._repo:
            return
        number = snapshot.facts.number
        record = next((r for r in self._records.agent_requests() if r.pull_number == number), None)
        if record is None:
            return
        try:
            if record.state is None:
                self._resolve(record, snapshot, status)
        finally:
            self.notify()

    def _resolve(
        self, record: AgentRequestRecord, snapshot: Snapshot, status: RequestStatus
    ) -> None:
        now = self._clock()
        actor = self._github.login()
        if status.status is Status.CLOSED:
            closer = self._pulls.closed_by(self._repo, record.pull_number or 0)
            reason = f"closed by {closer}" if closer else "closed without merging"
            self._records.resolve_agent_request(record.id, "denied", reason, at=now, actor=actor)
        elif status.status is Status.EXPIRED:
            self._records.resolve_agent_request(
                record.id,
                "expired",
                "the pull request expired before it was approved",
                at=now,
                actor=actor,
            )
        elif status.decision == DecisionState.REJECTED.value:
            reason = self._change_request(snapshot, status)
            self._records.resolve_agent_request(record.id, "denied", reason, at=now, actor=actor)

    def _change_request(self, snapshot: Snapshot, status: RequestStatus) -> str:
        eligible = {
            login.lower() for step in status.steps for login in (*step.approved_by, *step.eligible)
        }
        asked = [
            r
            for r in snapshot.facts.reviews
            if r.state is ReviewState.CHANGES_REQUESTED and r.user.lower() in eligible
        ]
        if not asked:
            asked = [r for r in snapshot.facts.reviews if r.state is ReviewState.CHANGES_REQUESTED]
        if not asked:
            return "changes requested"
        latest = max(asked, key=lambda r: (r.submitted_at, r.id))
        text = self._pulls.review_text(self._repo, snapshot.facts.number, latest.id)
        first = next((line.strip() for line in text.splitlines() if line.strip()), "")
        return f"changes requested by {latest.user}" + (f": {first[:500]}" if first else "")

    # ------------------------------------------------------------------ waiting

    def notify(self) -> None:
        with self.changed:
            self._version += 1
            self.changed.notify_all()

    def wait_changed(self, seen: int, timeout: float) -> int:
        """Block until the version passes ``seen`` or ``timeout`` seconds pass; the version."""
        with self.changed:
            self.changed.wait_for(lambda: self._version != seen, timeout=timeout)
            return self._version

    @property
    def version(self) -> int:
        with self.changed:
            return self._version
