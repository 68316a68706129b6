"""Which files of a pull request are judged: one rule for the controller and for validate."""

from __future__ import annotations

import pytest

from controller.documents.pull_files import FileChange, pull_files


@pytest.mark.parametrize(
    ("row", "judged"),
    [
        (FileChange("changes/production/a.yaml", "added"), True),
        (FileChange("changes/production/a.yaml", "modified"), True),
        (FileChange("changes/production/a.yaml", "changed"), True),
        (FileChange("changes/production/b.yaml", "renamed", "changes/production/a.yaml"), True),
        (FileChange("changes/production/b.yaml", "copied", "changes/production/a.yaml"), True),
        (FileChange("changes/production/a.txt", "added"), True),
        (FileChange("changes/production/a.yaml", "removed"), False),
        (FileChange("policies/a.yaml", "added"), False),
        (FileChange("changesets/a.yaml", "added"), False),
        (FileChange("README.md", "modified"), False),
    ],
)
def test_a_change_file_is_judged_when_added_or_modified(row: FileChange, judged: bool) -> None:
    listed = pull_files([row])
    assert listed.judged == ((row.filename,) if judged else ())


def test_a_rename_out_of_the_rules_touches_them() -> None:
    listed = pull_files([FileChange("changes/production/p.yaml", "renamed", "policies/p.yaml")])
    assert listed.changed == ("changes/production/p.yaml", "policies/p.yaml")
    assert listed.touches_rules
    assert not pull_files([FileChange("changes/production/a.yaml", "added")]).touches_rules
