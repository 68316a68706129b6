"""The sandbox story's agents act: a ServiceAccount asks for access through the API.

Played by ``Story.play`` after the access act, on the same servers and controller. The
agent talks plain HTTP (as curl would) with the token its cluster issued for it:

1. ``dev1`` seals ``payments/feature-flags`` (tier standard); as a new secret it is judged
   at the default tier, so ``alice`` and ``bob`` approve; the store holds it;
2. ``agents/payments-bot`` asks for it (``POST /v1/access-requests``): no approval is
   needed, so the answer is already approved, with the pull request the controller opened
   and merged for it; it opens the values sealed to a fresh key of its own;
3. it asks for the critical ``payments/stripe``: pending, with an id and a pull request;
   it long-polls ``GET /v1/access-requests/<id>?wait=`` in the background;
4. ``alice`` (SRE) and ``carol`` (security) approve on GitHub: the wait returns approved,
   and the agent opens the values;
5. ``agents/other-bot``, listed in no environment's ``spec.agents``, is refused (403);
6. the audit log verifies and holds each step.

Values are compared with what was sealed, never shown.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from controller.crypto.caller_box import (
    caller_public_text,
    new_caller_key,
    new_request_nonce,
    open_for_caller,
)
from controller.model import Grant
from controller.sandbox import observe
from controller.sandbox.agent_http import AgentHttp, Answer
from controller.sandbox.observe import StoryFailed, wait_for
from controller.sandbox.people import open_change
from controller.sandbox.world import BOT, DEVELOPER, SECRET, SECURITY, SRES
from controller.sandbox.world_agents import AGENT, FLAGS, STRANGER, requester

if TYPE_CHECKING:
    from controller.sandbox.story import Story

T = TypeVar("T")
ENVIRONMENT = "production"
APPROVER = SRES[0]
WAIT = "30s"
"""One long poll; the agent polls again while the request stays pending."""
AUDITED = ("agent-request", "agent-request-opened", "agent-request-refused")


def flag_values() -> dict[str, bytes]:
    """Fresh values for the standard secret (fresh each run, so a leak is recognisable)."""
    return {
        "CHECKOUT_V2": f"on-{secrets.token_hex(8)}".encode(),
        "PAYOUTS_BATCH_SIZE": f"500-{secrets.token_hex(8)}".encode(),
    }


@dataclass
class AgentsResult:
    flags_number: int = 0
    standard_id: str = ""
    critical_id: str = ""
    critical_number: int = 0
    merge_sha: str = ""
    """main after the critical request's pull request was merged."""
    grants: dict[str, str] = field(default_factory=dict)
    """Secret -> the grant the agent opened it with."""
    polls: list[str] = field(default_factory=list)
    """The long polls' answers while waiting (``pending``, ..., ``approved``)."""
    refusal: str = ""
    events: tuple[str, ...] = ()


class AgentsAct:
    """The steps of the act; ``steps()`` hands them to ``Story.run`` in order."""

    def __init__(self, story: Story) -> None:
        self.story = story
        self.world = story.world
        self.result = AgentsResult()
        self.flags = flag_values()
        self.tokens = {name: path.read_text() for name, path in self.world.agent_tokens.items()}
        self.http = AgentHttp(self.world.controller_url, patience=story.timeout)
        self._poller: threading.Thread | None = None
        self._polled: dict[str, Any] = {}

    def steps(self) -> tuple[Callable[[], None], ...]:
        return (
            self.agents_seed,
            self.agents_standard,
            self.agents_standard_open,
            self.agents_critical,
            self.agents_approval,
            self.agents_critical_open,
            self.agents_refused,
            self.agents_audit,
        )

    def narrate(self, title: str, details: Sequence[str] = ()) -> None:
        from controller.sandbox.story import Step  # noqa: PLC0415 - story imports this module

        self.story.narrate(Step(title, tuple(details)))

    def wait(self, what: str, probe: Callable[[], T | None]) -> T:
        return wait_for(what, probe, timeout=self.story.timeout)

    def call(
        self,
        method: str,
        path: str,
        agent: str,
        body: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Answer:
        return self.http.call(method, path, self.tokens[agent], body, headers=headers)

    def ask(self, agent: str, secret: str, reason: str) -> Answer:
        body = {
            "environment": ENVIRONMENT,
            "secrets": [{"secret": secret}],
            "reason": reason,
            "duration": "15m",
            "activateWithin": "1h",
        }
        # One key per ask: asking again after a 503 must not open a second pull request.
        key = {"Idempotency-Key": secrets.token_hex(16)}
        return self.call("POST", "/v1/access-requests", agent, body, headers=key)

    def open(self, request_id: str, secret: str, expected: Mapping[str, bytes]) -> dict[str, Any]:
        """Open ``request_id`` with a fresh key; the answer, once the values are checked."""
        key, nonce = new_caller_key(), new_request_nonce()
        body = {"publicKey": caller_public_text(key), "nonce": nonce}
        answer = self.call("POST", f"/v1/access-requests/{request_id}/open", AGENT, body)
        step = f"open {secret}"
        if answer.status != 200:
            raise StoryFailed(step, f"{answer.status}: {answer.body.get('message', '')}")
        opened = answer.body
        values = open_for_caller(
            str(opened["sealed"]),
            key,
            grant_id=str(opened["grant"]),
            environment=ENVIRONMENT,
            secret=secret,
            nonce=nonce,
        )
        if values != dict(expected):
            raise StoryFailed(step, "the opened values are not the stored ones")
        grant = self.grant(str(opened["grant"]))
        if grant is None or grant.requester != requester(AGENT) or grant.uses < 1:
            raise StoryFailed(step, "the store does not record the agent's use of its grant")
        self.result.grants[secret] = grant.id
        return opened

    def grant(self, grant_id: str) -> Grant | None:
        with observe.open_store(self.world) as store:
            return store.grant(grant_id)

    def merged(self, number: int, what: str) -> dict[str, Any]:
        def done() -> dict[str, Any] | None:
            pr = observe.pull(self.world, number)
            return pr if pr.get("merged") else None

        pr = self.wait(what, done)
        if (pr.get("merged_by") or {}).get("login") != BOT:
            raise StoryFailed(what, f"#{number} was not merged by {BOT}")
        return pr

    # --------------------------------------------------------------------------- steps

    def agents_seed(self) -> None:
        proposal = open_change(
            self.world,
            self.story.people[DEVELOPER],
            self.flags,
            environment=ENVIRONMENT,
            tier="standard",
            secret=FLAGS,
            reason="turn on the new checkout for the payout agent",
        )
        self.result.flags_number = proposal.number
        # A new secret is judged at the environment's default tier (sensitive): two SREs.
        for login in SRES:
            self.story.people[login].approve(proposal.number)
        self.merged(proposal.number, f"the controller to merge {FLAGS}")

        def stored() -> bool | None:
            with observe.open_store(self.world) as store:
                found = store.read_secret(ENVIRONMENT, FLAGS)
            return True if found is not None and dict(found.data) == self.flags else None

        self.wait(f"the store to hold {FLAGS}", stored)
        self.narrate(
            f"{DEVELOPER} sealed {FLAGS} (tier standard) in pull request #{proposal.number}; "
            f"{' and '.join(SRES)} approved (a new secret is judged at the default tier, "
            f"sensitive), {BOT} merged it and the store holds it",
            (
                f"keys {', '.join(sorted(self.flags))} (values checked, not shown)",
                "from now on it is standard: no policy covers reading it",
            ),
        )

    def agents_standard(self) -> None:
        answer = self.ask(AGENT, FLAGS, "nightly payout run reads the feature flags")
        document = answer.body
        if answer.status != 202 or document.get("status") not in ("approved", "active"):
            raise StoryFailed("agent standard request", f"{answer.status}: {document}")
        if document.get("autoApproved") is not True or document["requester"] != requester(AGENT):
            raise StoryFailed("agent standard request", "it was not granted at once to the agent")
        self.result.standard_id = str(document["id"])
        with observe.open_store(self.world) as store:
            record = store.agent_request(self.result.standard_id)
        if record is None or record.requester != requester(AGENT):
            raise StoryFailed("agent standard request", "the store holds no record of it")
        number = int(document["pullRequest"]["number"])
        self.merged(number, "the controller to merge the agent's request")
        self.narrate(
            f"{requester(AGENT)} asked for {FLAGS} with its ServiceAccount token: "
            f"202 {document['status']} at once (autoApproved: no policy covers reading a "
            "standard secret)",
            (
                '$ curl -X POST "$SEALGATE_API/v1/access-requests" -H "Authorization: Bearer '
                f'$(cat $AGENT_TOKEN_FILE)" -d \'{{"environment": "{ENVIRONMENT}", '
                f'"secrets": [{{"secret": "{FLAGS}"}}], ...}}\'',
                f"request {document['id']}: {document['pullRequest']['url']} "
                f"(opened and merged by {BOT})",
            ),
        )

    def agents_standard_open(self) -> None:
        opened = self.open(self.result.standard_id, FLAGS, self.flags)
        self.narrate(
            f"the agent opened {FLAGS} sealed to a fresh X25519 key of its own: "
            f"{', '.join(opened['keys'])} (values checked, not shown)",
            (f"grant {opened['grant']}, ends at {opened['endsAt']}",),
        )

    def agents_critical(self) -> None:
        r = self.result
        answer = self.ask(AGENT, SECRET, "rotate the webhook endpoint's signing check")
        document = answer.body
        if answer.status != 202 or document.get("status") != "pending":
            raise StoryFailed("agent critical request", f"{answer.status}: {document}")
        r.critical_id = str(document["id"])
        r.critical_number = int(document["pullRequest"]["number"])
        pr = observe.pull(self.world, r.critical_number)
        if pr["user"]["login"] != BOT or pr.get("merged"):
            raise StoryFailed("agent critical request", "no open pull request by the controller")
        can = set(document["canApprove"])
        if not {APPROVER, SECURITY} <= can:
            raise StoryFailed("agent critical request", f"can approve: {sorted(can)}")
        self._poller = threading.Thread(target=self._poll, args=(answer.etag,), daemon=True)
        self._poller.start()
        self.narrate(
            f"it asked for {SECRET} (tier {document['tier']}): 202 pending, request "
            f"{r.critical_id}",
            (
                f"pull request {document['pullRequest']['url']}",
                f"needs {document['requiredApprovals']} approvals; can approve: "
                f"{', '.join(sorted(can))}",
                f'$ curl "$SEALGATE_API/v1/access-requests/{r.critical_id}?wait={WAIT}" '
                "(in the background, again while pending)",
            ),
        )

    def _poll(self, etag: str) -> None:
        """The agent's wait: long polls until the request is no longer pending."""
        path = f"/v1/access-requests/{self.result.critical_id}?wait={WAIT}"
        deadline = time.monotonic() + self.story.timeout * 3
        try:
            while time.monotonic() < deadline:
                answer = self.call("GET", path, AGENT, headers={"If-None-Match": etag})
                if answer.status == 304:
                    continue
                if answer.status != 200:
                    self._polled["error"] = f"GET answered {answer.status}"
                    return
                etag = answer.etag
                status = str(answer.body["status"])
                self.result.polls.append(status)
                if status != "pending":
                    self._polled["document"] = answer.body
                    return
        except StoryFailed as exc:
            self._polled["error"] = exc.reason

    def agents_approval(self) -> None:
        r = self.result
        for login in (APPROVER, SECURITY):
            self.story.people[login].approve(r.critical_number)
        pr = self.merged(r.critical_number, "the controller to merge the agent's critical request")
        r.merge_sha = str(pr["merge_commit_sha"])
        poller = self._poller
        if poller is not None:
            poller.join(self.story.timeout)
        document = self._polled.get("document")
        if document is None:
            why = self._polled.get("error", "the wait did not return")
            raise StoryFailed("agent wait", str(why))
        if document["status"] not in ("approved", "active") or set(document["approvers"]) != {
            APPROVER,
            SECURITY,
        }:
            raise StoryFailed("agent wait", f"it returned {document['status']}")
        self.narrate(
            f"{APPROVER} (acme/sre) and {SECURITY} (acme/security) approved on GitHub: "
            f"{BOT} merged #{r.critical_number} and the agent's wait returned "
            f"{document['status']}",
            (
                f"long polls answered: {' → '.join(r.polls)}",
                f"approvers {', '.join(document['approvers'])}; main is now {r.merge_sha[:12]}",
            ),
        )

    def agents_critical_open(self) -> None:
        opened = self.open(self.result.critical_id, SECRET, self.story.values)
        self.narrate(
            f"the agent opened {SECRET}: {', '.join(opened['keys'])} (values checked, not shown)",
            (f"grant {opened['grant']}, ends at {opened['endsAt']}",),
        )

    def agents_refused(self) -> None:
        with observe.open_store(self.world) as store:
            before = len(store.agent_requests())
        answer = self.ask(STRANGER, SECRET, "I would like the Stripe keys too")
        if answer.status != 403 or answer.body.get("reason") != "not-allowed":
            raise StoryFailed("agent refused", f"{answer.status}: {answer.body.get('reason')}")
        with observe.open_store(self.world) as store:
            if len(store.agent_requests()) != before:
                raise StoryFailed("agent refused", "a request was recorded for it anyway")
        self.result.refusal = str(answer.body["message"])
        self.narrate(
            f"{requester(STRANGER)} asked for {SECRET}: 403 not-allowed",
            (self.result.refusal,),
        )

    def agents_audit(self) -> None:
        r = self.result
        with observe.open_store(self.world) as store:
            report = store.audit_verify()
            records = list(store.audit_records())
        if not report.ok:
            raise StoryFailed("agents audit", "; ".join(report.problems))
        agents = {requester(AGENT), requester(STRANGER)}
        ids = {r.standard_id, r.critical_id}
        mine = [
            x
            for x in records
            if x.fields.get("actor") in agents
            or x.fields.get("id") in ids
            or x.fields.get("requestId") in ids
        ]
        r.events = tuple(x.event for x in mine)
        missing = [event for event in AUDITED if event not in r.events]
        if missing:
            raise StoryFailed("agents audit", f"no {', '.join(missing)} record")
        for grant_id in r.grants.values():
            if not any(x.fields.get("grantId") == grant_id for x in records):
                raise StoryFailed("agents audit", f"no record names grant {grant_id}")
        self.narrate(
            f"the audit log verifies ({report.records} records) and shows the agents' steps",
            tuple(_audit_line(x.seq, x.event, x.fields) for x in mine),
        )


def _audit_line(seq: int, event: str, fields: Mapping[str, Any]) -> str:
    """``#seq event  request-or-grant  by actor`` (the agents shortened to their name)."""
    subject = fields.get("grantId") or fields.get("requestId") or fields.get("id") or ""
    actor = str(fields.get("actor", "")).removeprefix("system:serviceaccount:")
    extra = f" ({fields['code']})" if "code" in fields else ""
    return f"#{seq} {event}{extra}  {subject}  by {actor}".replace("   ", " ")
