"""Answer every ``/sealgate`` comment exactly once, across restarts and replicas.

The answer is itself the record: a reply comment whose hidden first line names the command
comment's id. A pass answers the command comments its snapshot shows no answer to, so:

- a crash after seeing a command and before answering it leaves no reply, and the next pass
  (in this process or any other) answers it: never lost;
- a crash after the reply was posted leaves the reply, which the next snapshot shows: never
  twice. The poster also lists the comments afresh right before posting (only when there is
  something to answer), so a snapshot read before another replica's reply does not repeat it,
  and this process remembers what it answered in case its next snapshot lags behind.

Only sealgate's own comments count as answers: a look-alike marker from anyone else answers
nothing. A pass with nothing new to answer makes no request at all.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Sequence

from controller.errors import BackendError
from controller.github.markers import answered, reply_key
from controller.model import Decision, DecisionState, Policy, PullRequestFacts
from controller.policy.replies import CommandReply, PassOutcome, command_replies
from controller.reconciler.evaluation import Evaluation
from controller.reconciler.ports import GitHubPort, Observer, Snapshot
from controller.store.crashpoint import crashpoint

log = logging.getLogger(__name__)

_REMEMBERED = 8192
MAX_PER_PASS = 10
"""Replies one pass posts at most (each checks the comments afresh first): a flood of
commands is answered over several passes instead of stalling one."""


def reply_body(reply: CommandReply, commenter: str) -> str:
    """The reply, opening with the command word (never the rest of the line) and a link to
    the comment it answers."""
    word = f"`/sealgate {reply.command}`" if reply.command else "A `/sealgate` comment"
    who = commenter.casefold().replace("@", "").replace("`", "")
    return f"> {word} by {who} ([comment](#issuecomment-{reply.comment_id}))\n\n{reply.text}\n"


class CommandAnswers:
    def __init__(self, github: GitHubPort, observer: Observer) -> None:
        self._github = github
        self._observer = observer
        self._lock = threading.Lock()
        self._done: OrderedDict[tuple[str, int, int], None] = OrderedDict()

    def answer(self, evaluation: Evaluation, outcome: PassOutcome) -> int:
        """Reply to every command comment not answered yet; how many were posted now."""
        return self._answer(
            evaluation.snapshot,
            evaluation.facts,
            evaluation.decision,
            evaluation.policies,
            outcome,
        )

    def answer_closed(self, snapshot: Snapshot) -> int:
        """A closed pull request is not judged: its commands are told nothing was done."""
        closed = Decision(state=DecisionState.INVALID, reasons=(), head_sha=snapshot.facts.head_sha)
        return self._answer(snapshot, snapshot.facts, closed, (), PassOutcome("closed"))

    def _answer(
        self,
        snapshot: Snapshot,
        facts: PullRequestFacts,
        decision: Decision,
        policies: Sequence[Policy],
        outcome: PassOutcome,
    ) -> int:
        repo, number = snapshot.repo, snapshot.facts.number
        me = self._github.login()
        skip = set(answered(snapshot.facts.comments, me))
        with self._lock:
            skip.update(i for (r, n, i) in self._done if (r, n) == (repo, number))
        replies = command_replies(
            facts,
            decision,
            policies,
            outcome,
            bot=me,
            skip=frozenset(skip),
        )
        users = {c.id: c.user for c in snapshot.facts.comments}
        posted = 0
        for reply in replies[:MAX_PER_PASS]:
            crashpoint("reconciler.before-reply")
            try:
                if self._github.comment_once(
                    repo,
                    number,
                    reply_key(reply.comment_id),
                    reply_body(reply, users.get(reply.comment_id, "")),
                ):
                    posted += 1
            except BackendError as exc:
                # The command stays unanswered, so the next pass answers it.
                self._observer.failure("reply")
                log.warning("%s#%d: reply not posted: %s", repo, number, exc)
                continue
            crashpoint("reconciler.after-reply")
            log.info("%s#%d: answered comment %d (%s)", repo, number, reply.comment_id, reply.kind)
            with self._lock:
                self._done[(repo, number, reply.comment_id)] = None
                while len(self._done) > _REMEMBERED:
                    self._done.popitem(last=False)
        return posted
