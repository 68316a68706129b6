"""The GitHub adapter: the only module that imports PyGithub.

- :mod:`~controller.github.client` — authentication (token or GitHub App), base URL, retries.
- :mod:`~controller.github.snapshot` — everything one decision needs, read in one go.
- :mod:`~controller.github.conditional` and :mod:`~controller.github.poll` — conditional
  requests, so unchanged lists and idle polls cost no rate-limit budget.
- :mod:`~controller.github.summary` and :mod:`~controller.github.report` — the check run,
  the sticky comment and the labels.
- :mod:`~controller.github.merge` — the merge guarded by the decided head SHA.
- :mod:`~controller.github.webhooks` — signature check, de-duplication, typed events.
- :mod:`~controller.github.failures` — PyGithub's exceptions become sealgate's errors.
- :mod:`~controller.github.identity` — who a person's token belongs to (``GET /user``).
"""

from controller.github.client import GitHubClient, RetryPolicy
from controller.github.comments import CommentPoster, note_marker
from controller.github.gateway import GitHubGateway
from controller.github.history import PullHistory
from controller.github.identity import GitHubIdentities
from controller.github.merge import MergeMethod, MergeResult, merge
from controller.github.poll import PollResult, PullPoller, PullSummary
from controller.github.pull_head import PullState
from controller.github.records import SYNC_CHECK_NAME, MergedPull, SyncCheck, SyncCheckState
from controller.github.report import Reporter, ReportResult, Via
from controller.github.request_pulls import OpenedPull, close_pull, open_file_pull, request_branch
from controller.github.snapshot import PullRequestSnapshot, SnapshotReader
from controller.github.summary import Label, Summary, render_summary
from controller.github.sync_report import SyncReporter
from controller.github.teams import TeamDirectory
from controller.github.webhooks import WebhookEvent

__all__ = [
    "SYNC_CHECK_NAME",
    "CommentPoster",
    "GitHubClient",
    "GitHubGateway",
    "GitHubIdentities",
    "Label",
    "MergeMethod",
    "MergeResult",
    "MergedPull",
    "OpenedPull",
    "PollResult",
    "PullHistory",
    "PullPoller",
    "PullRequestSnapshot",
    "PullState",
    "PullSummary",
    "ReportResult",
    "Reporter",
    "RetryPolicy",
    "SnapshotReader",
    "Summary",
    "SyncCheck",
    "SyncCheckState",
    "SyncReporter",
    "TeamDirectory",
    "Via",
    "WebhookEvent",
    "close_pull",
    "merge",
    "note_marker",
    "open_file_pull",
    "render_summary",
    "request_branch",
]
