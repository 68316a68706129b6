"""The sandbox story's access act: reading the secret the change story wrote, for one hour.

Played by ``Story.play`` after the change story, on the same servers and controller:

1. ``dev1`` writes an ``AccessRequest`` for one hour of ``payments/stripe`` (delivered by
   ``sealgate open`` and as a Kubernetes Role for ``User dev1@acme.example``), pushes it and
   opens a pull request; the check goes pending and names the SREs who can approve;
2. ``alice`` and ``carol`` approve (reading a critical secret needs security too): the
   controller merges and records the grant (shown as
   ``sealgate access ls`` lists it);
3. ``sealgate open production/payments/stripe`` with dev1's token prints the keys (values
   are compared, never shown); with bob's token it is refused, and says why;
4. ``kubectl auth can-i get secret/stripe --as dev1@acme.example`` says yes;
5. ``dev1`` comments ``/sealgate revoke <reason>``: the grant ends, the controller replies
   and updates the summary;
6. ``sealgate open`` is refused for dev1 (revoked) and ``kubectl auth can-i`` says no;
7. the audit log verifies and holds each step (``sealgate audit show --grant``).

Like the change story, each step is verified from the servers' and the store's state before
it is narrated. Commands run as child processes, as a person would run them.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

import click

from controller.cli.access import access as access_command
from controller.cli.audit import audit as audit_command
from controller.cli.exit_codes import ExitCode
from controller.model import Grant, GrantState
from controller.sandbox import commands, observe, story_commands
from controller.sandbox.observe import StoryFailed, wait_for
from controller.sandbox.people import access_request, open_request
from controller.sandbox.world import (
    BOT,
    CLUSTERS,
    DEVELOPER,
    NAMESPACE,
    OWNER,
    REPO,
    SECRET,
    SECRET_NAME,
    SECURITY,
    SRES,
)

if TYPE_CHECKING:
    from controller.sandbox.story import Story

T = TypeVar("T")
ENVIRONMENT = "production"
APPROVER, OUTSIDER = SRES
"""alice approves; bob, an SRE too, has no grant of his own to open with."""
SUBJECT = f"{DEVELOPER}@acme.example"
REQUEST_NAME = "incident-4711-stripe"
REQUEST_FILE = f"access/{ENVIRONMENT}/{REQUEST_NAME}.yaml"
DURATION = "1h"
REVOKE = "/sealgate revoke done with the incident"
TARGET = f"{ENVIRONMENT}/{SECRET}"
SUMMARY_MARK = "<!-- sealgate:summary -->"
POLICY = "production-access"
"""The example policy judging access to production: one SRE, at most 8h."""
CRITICAL_POLICY = "production-critical-access"
"""The sandbox's policy for reading critical secrets: the security team too."""
AUDITED = (
    "grant-approved",
    "grant-activated",
    "grant-used",
    "access-refused",
    "grant-revoked",
    "grant-ended",
)


def request_document() -> bytes:
    """dev1's request, as a person writes it (``examples/access/`` has the same one)."""
    return access_request(
        REQUEST_NAME,
        environment=ENVIRONMENT,
        secret=SECRET,
        reason="Investigating failed payouts (incident 4711); compare the webhook signing key",
        duration=DURATION,
        subject=SUBJECT,
    )


@dataclass
class AccessResult:
    number: int = 0
    head_sha: str = ""
    merge_sha: str = ""
    grant_id: str = ""
    opened_keys: tuple[str, ...] = ()
    refusals: dict[str, str] = field(default_factory=dict)
    """Who was refused ``sealgate open`` (``bob``, ``dev1 after revoke``) -> the reason."""
    can_i: list[str] = field(default_factory=list)
    """kubectl's answers, in order ("yes" then "no"), or the RBAC decisions without kubectl."""
    events: tuple[str, ...] = ()
    """The grant's audit events, oldest first."""


class AccessAct:
    """The steps of the act; ``steps()`` hands them to ``Story.play`` in order."""

    def __init__(self, story: Story) -> None:
        self.story = story
        self.world = story.world
        self.result = AccessResult()

    def steps(self) -> tuple[Callable[[], None], ...]:
        return (
            self.access_request,
            self.access_pending,
            self.access_approval,
            self.access_granted,
            self.access_open,
            self.access_refused,
            self.access_kubernetes,
            self.access_revoke,
            self.access_closed,
            self.access_audit,
        )

    def narrate(self, title: str, details: Sequence[str] = ()) -> None:
        from controller.sandbox.story import Step  # noqa: PLC0415 - story imports this module

        self.story.narrate(Step(title, tuple(details)))

    # ------------------------------------------------------------------------ observing

    def wait(self, what: str, probe: Callable[[], T | None]) -> T:
        return wait_for(what, probe, timeout=self.story.timeout, describe=self.state)

    def state(self) -> str:
        """The access pull request's check and grant, for a step that did not happen."""
        if not self.result.head_sha:
            return ""
        run = self.check()
        if run is None:
            return "no sealgate check run"
        seen = f"check {run['status']}/{run['conclusion']}: {run['output']['title']}"
        grant = self.grant()
        if grant is not None:
            seen += f"; grant {grant.id} {grant.state(datetime.now(UTC)).value}"
        return seen

    def grant(self) -> Grant | None:
        with observe.open_store(self.world) as store:
            found = [g for g in store.grants() if g.pull_request == self.result.number]
        return found[0] if len(found) == 1 else None

    def summary_line(self, start: str) -> str | None:
        """The sticky summary's line starting with ``start``, as plain text."""
        for comment in self.world.github.comments(OWNER, REPO, self.result.number):
            body = str(comment["body"])
            if body.startswith(SUMMARY_MARK) and comment["user"]["login"] == BOT:
                for line in body.splitlines():
                    if line.startswith(start):
                        return story_commands.plain(line)
        return None

    def check(self) -> dict[str, Any] | None:
        return observe.check_run(self.world, self.result.head_sha)

    def rbac_allows(self) -> bool:
        """What the cluster's RBAC decides for the subject, from the server's own state."""
        return self.world.cluster_for(ENVIRONMENT).can(
            SUBJECT, "get", "secrets", namespace=NAMESPACE, name=SECRET_NAME
        )

    def open_as(self, login: str) -> commands.Ran:
        return commands.sealgate_open(self.world, login, TARGET, self.story.values)

    def operator(self, command: click.Command, *args: str) -> list[str]:
        return commands.operator(self.world, command, args, self.story.values)

    def can_i(self, want: bool) -> str:
        """Wait until RBAC decides ``want`` and kubectl agrees; the line to narrate."""
        self.wait(
            f"RBAC to {'allow' if want else 'refuse'} {SUBJECT} reading {SECRET}",
            lambda: self.rbac_allows() == want or None,
        )
        expected = "yes" if want else "no"
        said = commands.kubectl_can_i(
            self.world,
            "get",
            f"secret/{SECRET_NAME}",
            context=CLUSTERS[ENVIRONMENT],
            subject=SUBJECT,
            namespace=NAMESPACE,
        )
        if said is None:
            self.result.can_i.append(expected)
            return f"RBAC says {expected} (kubectl is not installed: the cluster's own decision)"
        if said != expected:
            raise StoryFailed("kubectl auth can-i", f"kubectl said {said!r}, RBAC {expected}")
        self.result.can_i.append(said)
        return f"kubectl auth can-i get secret/{SECRET_NAME} --as {SUBJECT} -n {NAMESPACE}: {said}"

    # ---------------------------------------------------------------------------- steps

    def access_request(self) -> None:
        r = self.result
        proposal = open_request(
            self.world,
            self.story.people[DEVELOPER],
            REQUEST_FILE,
            request_document(),
            title=f"Access to {TARGET} for {DURATION}",
            body="Incident 4711: failed payouts.",
        )
        r.number, r.head_sha = proposal.number, proposal.head_sha
        self.narrate(
            f"{DEVELOPER} asked for {DURATION} of {SECRET} in {ENVIRONMENT} in pull request "
            f"#{r.number}",
            (
                f"{REQUEST_FILE}: deliver open and kubernetes (User {SUBJECT})",
                f"head {r.head_sha[:12]}",
            ),
        )

    def access_pending(self) -> None:
        def pending() -> dict[str, Any] | None:
            run = self.check()
            return run if run is not None and run["status"] == "in_progress" else None

        run = self.wait("the access request's check to go pending", pending)
        summary = str(run["output"]["summary"])
        names = observe.can_still_approve(summary)
        if names != {*SRES, SECURITY}:
            raise StoryFailed("access pending", f"it names {sorted(names)}, not SREs and security")
        for policy in (POLICY, CRITICAL_POLICY):
            if f"| {policy} | " not in summary:
                raise StoryFailed("access pending", f"policy {policy} does not judge the request")
        self.narrate(
            f"check '{run['name']}' is pending: {run['output']['title']}",
            (
                f"can approve: {', '.join(sorted(names))} (acme/sre, policy {POLICY}; "
                f"acme/security, policy {CRITICAL_POLICY})",
                *(
                    story_commands.plain(line.removeprefix("- "))
                    for line in summary.splitlines()
                    if line.startswith("- **For:**")
                ),
            ),
        )

    def access_approval(self) -> None:
        r = self.result
        # Reading a critical secret needs an SRE and the security team, as changing it does.
        self.story.people[APPROVER].approve(r.number)
        self.story.people[SECURITY].approve(r.number)

        def merged() -> dict[str, Any] | None:
            pr = observe.pull(self.world, r.number)
            return pr if pr.get("merged") else None

        pr = self.wait("the controller to merge the access request", merged)
        merged_by = (pr.get("merged_by") or {}).get("login")
        if merged_by != BOT:
            raise StoryFailed("access approval", f"merged by {merged_by}, not by {BOT}")
        r.merge_sha = str(pr["merge_commit_sha"])
        self.narrate(
            f"{APPROVER} (acme/sre) and {SECURITY} (acme/security) approved: {BOT} merged "
            f"#{r.number} (reading a critical secret takes both, for at most 8h)",
            (f"main is now {r.merge_sha[:12]}",),
        )

    def access_granted(self) -> None:
        r = self.result

        def active() -> Grant | None:
            # The Kubernetes delivery is the grant's first use: it is active once bound.
            grant = self.grant()
            if grant is None or grant.first_used_at is None:
                return None
            return grant if grant.ends_at.timestamp() > time.time() else None

        grant = self.wait("the grant to be recorded and delivered", active)
        r.grant_id = grant.id
        if (grant.requester, set(grant.approvers)) != (DEVELOPER, {APPROVER, SECURITY}):
            raise StoryFailed("access granted", f"the grant names {grant.approvers}")
        if grant.duration.total_seconds() != 3600 or grant.kubernetes_subject is None:
            raise StoryFailed("access granted", "the grant is not the one asked for")
        summary = self.wait(
            "the summary to say the access is active", lambda: self.summary_line("**Active:**")
        )
        listed = self.operator(access_command, "ls", "--env", ENVIRONMENT)
        row = [line for line in listed if grant.id in line]
        if not row:
            raise StoryFailed("access granted", "sealgate access ls does not list the grant")
        self.narrate(
            f"the store recorded grant {grant.id}: bound in {CLUSTERS[ENVIRONMENT]}, so "
            f"its hour runs from now (until {grant.ends_at:%H:%M:%S}Z)",
            (f"summary: {summary}", "$ sealgate access ls --env production", *listed),
        )

    def access_open(self) -> None:
        before = self.grant()
        ran = self.open_as(DEVELOPER)
        if ran.code != 0:
            raise StoryFailed("sealgate open", f"exit {ran.code}: {ran.stderr.strip()}")
        answer = json.loads(ran.stdout)
        values = {k: v.encode() for k, v in answer.get("values", {}).items()}
        values |= {k: base64.b64decode(v) for k, v in answer.get("valuesBase64", {}).items()}
        if values != self.story.values or answer["grant"] != self.result.grant_id:
            raise StoryFailed("sealgate open", "it did not print the stored values")
        grant = self.grant()
        if grant is None or before is None or grant.uses <= before.uses:
            raise StoryFailed("sealgate open", "the store did not record the use")
        self.result.opened_keys = tuple(sorted(values))
        self.narrate(
            f"`sealgate open {TARGET}` as {DEVELOPER} printed "
            f"{', '.join(sorted(values))} (values checked, not shown)",
            (f"grant {answer['grant']}, ends at {answer['endsAt']}",),
        )

    def access_refused(self) -> None:
        ran = self.open_as(OUTSIDER)
        if ran.code != ExitCode.FORBIDDEN:
            raise StoryFailed("sealgate open by another", f"exit {ran.code}, not refused")
        reason = ran.stderr.strip().removeprefix("sealgate: ")
        self.result.refusals[OUTSIDER] = reason
        self.narrate(
            f"the same command with {OUTSIDER}'s token was refused (exit {ran.code})",
            (reason,),
        )

    def access_kubernetes(self) -> None:
        self.narrate(
            f"Kubernetes: a Role and RoleBinding let {SUBJECT} read {SECRET} in "
            f"{CLUSTERS[ENVIRONMENT]}",
            (self.can_i(True),),
        )

    def access_revoke(self) -> None:
        r = self.result
        # A revocation counts only if made after the grant's approval (one-second times).
        time.sleep(1.0 - time.time() % 1.0 + 0.01)
        self.story.people[DEVELOPER].comment(r.number, REVOKE)

        def ended() -> Grant | None:
            grant = self.grant()
            return grant if grant is not None and grant.ended_recorded else None

        grant = self.wait("the grant to end after /sealgate revoke", ended)
        if grant.state(grant.ends_at) is not GrantState.REVOKED or grant.revoked_by != DEVELOPER:
            raise StoryFailed("access revoke", "the store does not record the revocation")
        reply = self.wait(
            "the controller to answer /sealgate revoke",
            lambda: story_commands.answer_to(self.world, r.number, REVOKE),
        )
        revoked = self.wait(
            "the summary to say the access is revoked",
            lambda: self.summary_line("**Revoked** at"),
        )
        lines = [line for line in str(reply).splitlines() if line and not line.startswith(">")]
        self.narrate(
            f"{DEVELOPER} commented '{REVOKE}': grant {grant.id} was revoked",
            (*(story_commands.plain(line) for line in lines), f"summary: {revoked}"),
        )

    def access_closed(self) -> None:
        ran = self.open_as(DEVELOPER)
        reason = ran.stderr.strip().removeprefix("sealgate: ")
        if ran.code != ExitCode.FORBIDDEN or "revoked" not in reason:
            raise StoryFailed("sealgate open after revoke", f"exit {ran.code}: {reason}")
        self.result.refusals[f"{DEVELOPER} after revoke"] = reason
        self.narrate(
            f"after the revocation both say no: `sealgate open` for {DEVELOPER} was refused",
            (reason, self.can_i(False)),
        )

    def access_audit(self) -> None:
        r = self.result
        with observe.open_store(self.world) as store:
            report = store.audit_verify()
            everything = list(store.audit_records())
        if not report.ok:
            raise StoryFailed("access audit", "; ".join(report.problems))
        r.events = tuple(x.event for x in everything if x.fields.get("grantId") == r.grant_id)
        missing = [event for event in AUDITED if event not in r.events]
        if missing:
            raise StoryFailed("access audit", f"no {', '.join(missing)} record for the grant")
        # The outsider had no grant, so their refusal names none: it is found by person.
        if not any(
            x.event == "access-refused" and x.fields.get("actor") == OUTSIDER for x in everything
        ):
            raise StoryFailed("access audit", f"no access-refused record for {OUTSIDER}")
        shown = self.operator(audit_command, "show", "--grant", r.grant_id)
        others = self.operator(audit_command, "show", "--event", "refused", "--person", OUTSIDER)
        self.narrate(
            f"the audit log verifies ({report.records} records) and shows each step of "
            f"grant {r.grant_id}, and {OUTSIDER}'s refusal",
            (
                f"$ sealgate audit show --grant {r.grant_id}",
                *shown,
                f"$ sealgate audit show --event refused --person {OUTSIDER}",
                *others[1:],
            ),
        )
