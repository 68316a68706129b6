"""The sandbox story: one critical secret change from sealing to a rolled Deployment.

People act over HTTP with their own tokens, as they would on GitHub; ``sealgate run`` (a
separate process) does the rest on its own. Each step is verified from the servers' and the
store's state before it is narrated, and a step that does not happen within its time ends
the story with ``StoryFailed`` naming it.

1. ``dev1`` seals two values with ``sealgate propose`` and opens a pull request;
2. the ``sealgate`` check goes pending and names who can approve; the controller asks the
   approving teams for reviews and mentions them once in its sticky comment;
3. ``dev1``'s own approval is refused by GitHub (422);
4. ``lead`` approves but is no listed approver: the controller says it does not count;
5. ``alice`` and ``bob`` (``acme/sre``) approve: the SRE steps are met, security is not;
   ``dev1`` comments ``/sealgate merge`` too early and the controller answers what is missing;
6. ``carol`` (``acme/security``) signs off: the check turns green;
7. the critical policy wants an explicit merge: ``dev1`` comments ``/sealgate merge`` and the
   controller merges;
8. the store gets one commit for the pull request (its trailers are shown);
9. the Secret appears in the cluster with provenance annotations (values are compared,
   never shown);
10. the Deployment rolls once;
11. the outcome is reported on the pull request (check ``sealgate/sync``);
12. the store's audit log verifies;
13. the access act (``controller.sandbox.story_access``): ``dev1`` asks for an hour of
    ``payments/stripe``, ``alice`` and ``carol`` approve, ``sealgate open`` and ``kubectl
    auth can-i`` work for dev1 (and open is refused for ``bob``), ``/sealgate revoke`` ends
    it, both say no again, and the audit log shows each step;
14. the agents act (``controller.sandbox.story_agents``): ServiceAccount
    ``agents/payments-bot`` asks through ``/v1/access-requests``, gets a standard secret at
    once and the critical ``payments/stripe`` once ``alice`` and ``carol`` approve (its
    long poll returns); ``agents/other-bot`` is refused.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from controller.sandbox import observe, story_access, story_agents, story_commands
from controller.sandbox.observe import NotObserved, StoryFailed, wait_for
from controller.sandbox.people import Person, demo_values, open_change
from controller.sandbox.world import (
    BOT,
    CLUSTERS,
    DEPLOYMENT,
    DEVELOPER,
    LEAD,
    NAMESPACE,
    SECRET,
    SECURITY,
    SRES,
    World,
)

ENVIRONMENT = "production"
DEFAULT_TIMEOUT = 30.0
__all__ = [
    "DEFAULT_TIMEOUT",
    "ENVIRONMENT",
    "SYNC_CHECK",
    "Narrator",
    "Person",
    "Step",
    "Story",
    "StoryFailed",
    "StoryResult",
    "demo_values",
    "open_change",
    "play",
]
SYNC_CHECK = "sealgate/sync"


@dataclass(frozen=True)
class Step:
    title: str
    details: tuple[str, ...] = ()


Narrator = Callable[[Step], None]


@dataclass
class StoryResult:
    number: int = 0
    branch: str = ""
    head_sha: str = ""
    change_file: str = ""
    merge_sha: str = ""
    store_commit: str = ""
    change_id: str = ""
    store_version: int = 0
    rollouts_before: int = 0
    rollouts_after: int = 0
    keys: tuple[str, ...] = ()
    trailers: dict[str, str] = field(default_factory=dict)
    access: story_access.AccessResult = field(default_factory=story_access.AccessResult)
    agents: story_agents.AgentsResult = field(default_factory=story_agents.AgentsResult)


class Story:
    def __init__(
        self,
        world: World,
        narrate: Narrator,
        *,
        values: Mapping[str, bytes] | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        before_step: Callable[[str], None] | None = None,
    ) -> None:
        self.before_step = before_step
        self.world = world
        self.narrate = narrate
        self.values = dict(values) if values is not None else demo_values()
        self.timeout = timeout
        self.people = {login: Person(world, login) for login in world.tokens}
        self.result = StoryResult(keys=tuple(sorted(self.values)))

    def close(self) -> None:
        for person in self.people.values():
            person.close()

    def wait(self, what: str, probe: Callable[[], Any]) -> Any:
        return wait_for(what, probe, timeout=self.timeout, describe=self.check_state)

    def check_state(self) -> str:
        """The newest ``sealgate`` check's status and title, for a step that did not happen."""
        if not self.result.head_sha:
            return ""
        run = observe.check_run(self.world, self.result.head_sha)
        if run is None:
            return "no sealgate check run"
        return f"check {run['status']}/{run['conclusion']}: {run['output']['title']}"

    # -------------------------------------------------------------------------- steps

    def propose(self) -> None:
        world, r = self.world, self.result
        r.rollouts_before = observe.rollout_count(world, ENVIRONMENT)
        proposal = open_change(
            world, self.people[DEVELOPER], self.values, environment=ENVIRONMENT, tier="critical"
        )
        r.number, r.branch, r.head_sha = proposal.number, proposal.branch, proposal.head_sha
        r.change_file = proposal.path
        self.narrate(
            Step(
                f"{DEVELOPER} sealed {len(self.values)} values for {SECRET} (tier critical) "
                f"with `sealgate propose` and opened pull request #{r.number}",
                (f"{proposal.path}: sealed strings only", f"head {r.head_sha[:12]}"),
            )
        )

    def pending(self) -> None:
        r = self.result

        def pending_run() -> dict[str, Any] | None:
            run = observe.check_run(self.world, r.head_sha)
            return run if run is not None and run["status"] == "in_progress" else None

        run = self.wait("the sealgate check to go pending", pending_run)
        names = observe.can_still_approve(str(run["output"]["summary"]))
        missing = [login for login in (*SRES, SECURITY) if login not in names]
        if missing:
            raise StoryFailed("pending check", f"it does not name {', '.join(missing)}")
        summary = str(run["output"]["summary"])
        self.narrate(
            Step(
                f"check '{run['name']}' is pending: {run['output']['title']}",
                (
                    f"can approve: {', '.join(sorted(names))}",
                    *story_commands.key_rows(summary),
                ),
            )
        )

    def reviewers_asked(self) -> None:
        self.narrate(Step(*story_commands.reviewers_asked(self)))

    def early_merge(self) -> None:
        self.narrate(Step(*story_commands.early_merge(self)))

    def self_approval(self) -> None:
        r = self.result
        answer = self.people[DEVELOPER].review(r.number, "APPROVE", "LGTM")
        if answer.status_code != 422:
            raise StoryFailed("self-approval", f"GitHub answered {answer.status_code}, not 422")
        if DEVELOPER in observe.approvals_on_github(self.world, r.number):
            raise StoryFailed("self-approval", "the author's approval was recorded")
        message = str(answer.json().get("errors", [answer.json().get("message", "")])[0])
        self.narrate(
            Step(
                f"{DEVELOPER} tried to approve their own pull request: GitHub said 422 ({message})"
            )
        )

    def unlisted_approval(self) -> None:
        r = self.result
        self.people[LEAD].approve(r.number)
        note = f"The approval by {LEAD} does not count"

        def ignored() -> dict[str, Any] | None:
            run = observe.check_run(self.world, r.head_sha)
            if run is None or note not in str(run["output"]["summary"]):
                return None
            return run if run["status"] == "in_progress" else None

        self.wait(f"the controller to report that {LEAD}'s approval does not count", ignored)
        self.narrate(
            Step(
                f"{LEAD} approved, but is not a listed approver: ignored, still pending",
                (f"check summary: '{note}: not a listed user or team member'",),
            )
        )

    def sre_approvals(self) -> None:
        r = self.result
        for login in SRES:
            self.people[login].approve(r.number)

        def only_security_left() -> dict[str, Any] | None:
            run = observe.check_run(self.world, r.head_sha)
            if run is None or run["status"] != "in_progress":
                return None
            left = observe.can_still_approve(str(run["output"]["summary"]))
            return run if left == {SECURITY} else None

        run = self.wait("the SRE approvals to count, leaving the security step", only_security_left)
        self.narrate(
            Step(
                f"{' and '.join(SRES)} (acme/sre) approved: the SRE steps are met, "
                f"still pending on the security sign-off ({SECURITY})",
                (str(run["output"]["title"]),),
            )
        )

    def security_approval(self) -> None:
        r = self.result
        self.people[SECURITY].approve(r.number)

        def green() -> dict[str, Any] | None:
            run = observe.check_run(self.world, r.head_sha)
            done = run is not None and (run["status"], run["conclusion"]) == (
                "completed",
                "success",
            )
            return run if done else None

        run = self.wait("the sealgate check to turn green", green)
        self.narrate(
            Step(
                f"{SECURITY} (acme/security) signed off: check {run['conclusion']}",
                (
                    str(run["output"]["title"]),
                    story_commands.next_step(str(run["output"]["summary"])),
                ),
            )
        )

    def merge(self) -> None:
        r = self.result
        # The critical-secrets policy has autoMerge: false: the author says when. A command
        # counts only if made after the head was pushed, and GitHub's times have one-second
        # precision, so the author (who is quicker than any person here) waits for the next
        # second.
        time.sleep(1.0 - time.time() % 1.0 + 0.01)
        self.people[DEVELOPER].comment(r.number, "/sealgate merge")

        def merged() -> dict[str, Any] | None:
            pr = observe.pull(self.world, r.number)
            return pr if pr.get("merged") else None

        pr = self.wait("the controller to merge the pull request", merged)
        merged_by = (pr.get("merged_by") or {}).get("login")
        if merged_by != BOT:
            raise StoryFailed("merge", f"merged by {merged_by}, not by {BOT}")
        r.merge_sha = str(pr["merge_commit_sha"])
        self.narrate(
            Step(
                f"{DEVELOPER} commented '/sealgate merge': {BOT} merged #{r.number}",
                (f"main is now {r.merge_sha[:12]}",),
            )
        )

    def store_commit(self) -> None:
        r = self.result
        commits = self.wait(
            "a store commit for the pull request",
            lambda: observe.store_commits_for(self.world, r.number) or None,
        )
        if len(commits) != 1:
            raise StoryFailed("store", f"{len(commits)} commits for one change")
        commit = commits[0]
        r.store_commit, r.trailers = commit.sha, commit.trailers
        r.change_id = commit.trailers.get("Change-Id", "")
        with observe.open_store(self.world) as store:
            applied = store.is_applied(r.change_id)
            history = store.history(ENVIRONMENT, SECRET)
        if applied is None or applied.commit != commit.sha:
            raise StoryFailed("store", "the store's index does not record the change")
        r.store_version = history[-1].version
        shown = (
            "Change-Id",
            "Head-Sha",
            "Sealgate-Pull-Request",
            "Sealgate-Requester",
            "Sealgate-Reason",
            "Approved-By",
            "Sealgate-Merged-By",
            "Sealgate-Merge-Trigger",
        )
        self.narrate(
            Step(
                f"the store committed {commit.sha[:12]}: {commit.subject}",
                tuple(f"{name}: {commit.trailers.get(name, '—')}" for name in shown),
            )
        )

    def secret_synced(self) -> None:
        r = self.result

        def synced() -> dict[str, Any] | None:
            obj = observe.secret_object(self.world, ENVIRONMENT, SECRET)
            if obj is None:
                return None
            marks = observe.annotations_of(obj)
            return obj if marks.get(observe.PULL_REQUEST_ANNOTATION) == str(r.number) else None

        obj = self.wait("the Secret in the cluster with this change's annotations", synced)
        data = {k: base64.b64decode(v) for k, v in (obj.get("data") or {}).items()}
        if data != self.values:
            raise StoryFailed("sync", "the Secret in the cluster does not hold the sealed values")
        marks = observe.annotations_of(obj)
        provenance = sorted(f"{k}: {v}" for k, v in marks.items() if k.startswith("sealgate.dev/"))
        self.narrate(
            Step(
                f"Secret {SECRET} is in cluster {CLUSTERS[ENVIRONMENT]} with keys "
                f"{', '.join(sorted(data))} (values checked, not shown)",
                tuple(provenance),
            )
        )

    def rollout(self) -> None:
        r = self.result
        world = self.world

        def rolled() -> int | None:
            count = observe.rollout_count(world, ENVIRONMENT)
            done = count > r.rollouts_before and observe.rollout_complete(world, ENVIRONMENT)
            return count if done else None

        r.rollouts_after = self.wait("the Deployment to roll", rolled)
        if r.rollouts_after != r.rollouts_before + 1:
            raise StoryFailed(
                "rollout", f"{r.rollouts_after - r.rollouts_before} rollouts for one change"
            )
        self.narrate(
            Step(
                f"Deployment {NAMESPACE}/{DEPLOYMENT} rolled out "
                f"(rollouts {r.rollouts_before} → {r.rollouts_after})"
            )
        )

    def sync_reported(self) -> None:
        r = self.result

        def reported() -> dict[str, Any] | None:
            run = observe.check_run(self.world, r.head_sha, SYNC_CHECK)
            done = run is not None and (run["status"], run["conclusion"]) == (
                "completed",
                "success",
            )
            return run if done else None

        run = self.wait(f"the '{SYNC_CHECK}' check to report success", reported)
        self.narrate(
            Step(
                f"the outcome is on the pull request: check '{SYNC_CHECK}' {run['conclusion']}",
                (str(run["output"]["title"]),),
            )
        )

    def audit(self) -> None:
        r = self.result
        with observe.open_store(self.world) as store:
            report = store.audit_verify()
            records = [
                record
                for record in store.audit_records()
                if record.fields.get("changeId") == r.change_id
                or r.change_id in str(dict(record.fields))
            ]
        if not report.ok:
            raise StoryFailed("audit", "; ".join(report.problems))
        if not records:
            raise StoryFailed("audit", "no audit record names the change")
        self.narrate(
            Step(
                f"the audit log verifies: {report.records} records, head {report.head[:16]}",
                tuple(f"#{x.seq} {x.event} {x.hash[:16]}" for x in records),
            )
        )

    def play(self) -> StoryResult:
        steps = (
            self.propose,
            self.pending,
            self.reviewers_asked,
            self.self_approval,
            self.unlisted_approval,
            self.sre_approvals,
            self.early_merge,
            self.security_approval,
            self.merge,
            self.store_commit,
            self.secret_synced,
            self.rollout,
            self.sync_reported,
            self.audit,
        )
        act = story_access.AccessAct(self)
        self.result.access = act.result
        agents = story_agents.AgentsAct(self)
        self.result.agents = agents.result
        return self.run((*steps, *act.steps(), *agents.steps()))

    def run(self, steps: Sequence[Callable[[], None]]) -> StoryResult:
        """Run ``steps`` in order; a step not observed in time fails the story, named."""
        for step in steps:
            if self.before_step is not None:
                self.before_step(step.__name__)
            try:
                step()
            except NotObserved as exc:
                raise StoryFailed(step.__name__.replace("_", " "), str(exc)) from exc
        return self.result


def play(
    world: World,
    narrate: Narrator,
    *,
    values: Mapping[str, bytes] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    before_step: Callable[[str], None] | None = None,
) -> StoryResult:
    """Play the story against a world whose controller is running; raises ``StoryFailed``.

    ``before_step`` is called with each step's name before it starts (tests break the
    servers there).
    """
    story = Story(world, narrate, values=values, timeout=timeout, before_step=before_step)
    try:
        return story.play()
    finally:
        story.close()
