"""The ``sealgate/sync`` check's text: one row per Secret and per workload per cluster.

Names, versions and outcomes only; cluster messages come from the Kubernetes adapter, which
never puts Secret data in them. Table cells are escaped like the decision summary's.
"""

from __future__ import annotations

from collections.abc import Sequence

from controller.github.records import SyncCheck
from controller.github.summary_cells import cell
from controller.reconciler.delivery import EnvironmentOutcome
from controller.reconciler.status import SyncRow, sync_rows


def _table(rows: Sequence[SyncRow]) -> list[str]:
    if not rows:
        return ["No cluster targets: the change is in the store only.", ""]
    lines = [
        "| Cluster | Kind | Namespace | Name | Outcome | Message |",
        "|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {cell(r.cluster)} | {cell(r.kind)} | {cell(r.namespace)} | {cell(r.name)} "
        f"| {cell(r.outcome)} | {cell(r.message)} |"
        for r in rows
    ]
    return [*lines, ""]


def sync_check(outcomes: Sequence[EnvironmentOutcome], *, retrying: bool) -> SyncCheck:
    """Success when every environment synced; in progress while a retry may still help."""
    failed = [o for o in outcomes if not o.ok]
    if not outcomes:
        text = "### sealgate/sync: nothing to apply\n\nA rules change: no secret changes.\n"
        return SyncCheck(title="sealgate/sync: nothing to apply", text=text, conclusion="success")
    if not failed:
        title = "sealgate/sync: applied and synced"
        conclusion: str | None = "success"
    elif retrying:
        title = "sealgate/sync: sync incomplete, retrying"
        conclusion = None
    else:
        rolled = any(o.rollbacks for o in failed)
        kept = any(o.kept for o in failed)
        title = "sealgate/sync: rollout failed" + (
            ", rolled back to the replaced value" if rolled else ", new value kept" if kept else ""
        )
        conclusion = "failure"
    lines = [f"### {cell(title)}", ""]
    for o in outcomes:
        versions = ", ".join(f"`{cell(p)}` v{v}" for p, v in sorted(o.applied.versions.items()))
        lines += [
            f"**{cell(o.environment)}**: change `{cell(o.change_id)}` in store commit "
            f"`{o.applied.commit[:12]}` ({versions}).",
            "",
            *_table(sync_rows(o.sync)),
        ]
        if o.rollbacks:
            back = ", ".join(
                f"`{cell(p)}` v{v}" for r in o.rollbacks for p, v in sorted(r.versions.items())
            )
            lines += [
                f"Rolled back to the previous content as {back} (onRolloutFailure: rollback): "
                "**the value this change replaced is in use again**. If it was rotated "
                "because it leaked, it is still exposed: fix the workload and propose the "
                "rotation again. Synced again:",
                "",
            ]
            if o.rollback_sync is not None:
                lines += _table(sync_rows(o.rollback_sync))
        if o.kept:
            paths = ", ".join(f"`{cell(p)}`" for p in o.kept)
            lines += [
                f"**The new value was kept** in store and cluster for {paths} "
                "(onRolloutFailure: keep): the workloads above did not become ready with "
                "it; fix them, the old value is not coming back.",
                "",
            ]
    return SyncCheck(title=title, text="\n".join(lines).rstrip() + "\n", conclusion=conclusion)


def refused_check(reason: str) -> SyncCheck:
    return SyncCheck(
        title="sealgate/sync: not applied",
        text=f"### sealgate/sync: not applied\n\n{cell(reason)}\n",
        conclusion="failure",
    )
