"""parse_rules (a repository's environments and policies) and check_changes (a pull
request's changes against those rules)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from controller.documents import (
    Rules,
    check_changes,
    parse_changes,
    parse_located,
    parse_rules,
)
from controller.errors import DocumentError, Problem
from controller.model import SecretChange
from tests.unit.test_documents import (
    CHANGE,
    ENVIRONMENT,
    POLICY,
    SEALED,
    STEPS_POLICY,
    dump,
    fresh,
)
from tests.unit.test_documents_fields import mutated


def staging() -> dict[str, Any]:
    doc = fresh(ENVIRONMENT)
    doc["metadata"]["name"] = "staging"
    doc["spec"]["sealingKeys"] = [
        {"id": "staging-1", "publicKey": ENVIRONMENT["spec"]["sealingKeys"][1]["publicKey"]}
    ]
    return doc


def rules_files() -> dict[str, bytes]:
    governance = mutated(
        POLICY, (("metadata", "name"), "governance"), (("spec", "environments"), ["governance"])
    )
    files = {
        "environments/production.yaml": dump(ENVIRONMENT),
        "environments/staging.yml": dump(staging()),
        "policies/production.yaml": dump(POLICY),
        "policies/payments/critical.yaml": dump(STEPS_POLICY),
        "policies/governance.yaml": dump(governance),
        "policies/README.md": b"# not YAML, ignored\n",
    }
    return files


def problems_of(files: dict[str, bytes]) -> list[str]:
    with pytest.raises(DocumentError) as caught:
        parse_rules(files)
    return [str(p) for p in caught.value.problems]


def test_rules_of_a_valid_repository() -> None:
    rules = parse_rules(rules_files())
    assert sorted(rules.environments) == ["production", "staging"]
    assert rules.environments["staging"].source == "environments/staging.yml"
    assert [p.name for p in rules.policies] == ["critical", "governance", "production-two-person"]
    assert rules.policies[0].source == "policies/payments/critical.yaml"


def test_environment_name_must_match_file_name() -> None:
    files = rules_files()
    files["environments/prod.yaml"] = files.pop("environments/production.yaml")
    problems = problems_of(files)
    assert (
        "environments/prod.yaml:4: metadata.name: must equal the file name 'prod': rename the "
        "file to environments/production.yaml or fix the name"
    ) in problems


def test_duplicate_environment() -> None:
    files = rules_files()
    files["environments/production.yml"] = dump(ENVIRONMENT)
    assert problems_of(files) == [
        "environments/production.yml:4: metadata.name: environment is already defined by "
        "environments/production.yaml: keep one file"
    ]


def test_duplicate_policy_name() -> None:
    files = rules_files()
    files["policies/copy.yaml"] = dump(POLICY)
    assert problems_of(files) == [
        "policies/production.yaml:4: metadata.name: policy name is already used by "
        "policies/copy.yaml: give every policy its own name"
    ]


def test_policy_naming_a_missing_environment_is_an_error() -> None:
    files = rules_files()
    typo = mutated(POLICY, (("spec", "environments"), ["*", "governance", "staging", "prodution"]))
    files["policies/production.yaml"] = dump(typo)
    assert problems_of(files) == [
        "policies/production.yaml:11: spec.environments[3]: no environment named 'prodution' "
        "in environments/ (there are: production, staging): fix the name, or use '*' or "
        "'governance'"
    ]


def test_a_broken_environment_file_still_counts_as_existing() -> None:
    files = rules_files()
    files["environments/staging.yml"] = b"kind: Environment\n"
    pointing = mutated(POLICY, (("spec", "environments"), ["staging"]))
    files["policies/production.yaml"] = dump(pointing)
    problems = problems_of(files)
    assert all("no environment named" not in p for p in problems)
    assert "environments/staging.yml:1: apiVersion: required field is missing: add it" in problems


def test_problems_of_every_file_come_together() -> None:
    files = rules_files()
    files["environments/production.yaml"] = dump(mutated(ENVIRONMENT, (("spec", "unmatched"), "x")))
    files["policies/production.yaml"] = b"a: *b\n"
    files["policies/two.yaml"] = dump(POLICY, POLICY)
    files["changes/production/c.yaml"] = dump(CHANGE)
    files["environments/nested/x.yaml"] = dump(ENVIRONMENT)
    problems = problems_of(files)
    assert [p.split(":")[0] for p in problems] == [
        "changes/production/c.yaml",
        "environments/nested/x.yaml",
        "environments/production.yaml",
        "policies/production.yaml",
        "policies/two.yaml",
    ]
    assert problems[0].endswith(
        "not a rules file: environments live in environments/<name>.yaml and policies "
        "under policies/"
    )
    assert "holds 2 documents" in problems[4]


def test_wrong_kind_in_the_rules() -> None:
    files = rules_files()
    files["policies/production.yaml"] = dump(ENVIRONMENT)
    assert problems_of(files) == ["policies/production.yaml:2: kind: must be ApprovalPolicy here"]


# --------------------------------------------------------------------- check_changes


@pytest.fixture(scope="module")
def rules() -> Rules:
    return parse_rules(rules_files())


def change(source: str = "changes/production/a.yaml", index: int = 0, **spec: Any) -> SecretChange:
    doc = fresh(CHANGE)
    doc["spec"].update(spec)
    (parsed,) = parse_changes(source, dump(doc))
    return dataclasses.replace(parsed, document_index=index)


def test_valid_changes_have_no_problems(rules: Rules) -> None:
    changes = [
        change(),
        change("changes/production/a.yaml", 1, secret="payments/other"),
        change("changes/production/b.yaml", set={"OTHER": "sg1:prod-2026-05:AAAA"}),
        change("changes/staging/c.yaml", environment="staging", set={"X": "sg1:staging-1:AA"}),
    ]
    assert check_changes(changes, rules) == []


def test_change_must_live_under_its_environment(rules: Rules) -> None:
    (problem,) = check_changes([change("changes/staging/a.yaml")], rules)
    assert str(problem) == (
        "changes/staging/a.yaml: spec.environment: a change to environment 'production' "
        "must live under changes/production/: move the file or fix spec.environment"
    )


def test_change_to_a_missing_environment(rules: Rules) -> None:
    problems = check_changes([change("changes/qa/a.yaml", environment="qa")], rules)
    assert [str(p) for p in problems] == [
        "changes/qa/a.yaml: spec.environment: no environment named 'qa' (there are: "
        "production, staging)"
    ]


def test_value_sealed_to_an_unknown_key(rules: Rules) -> None:
    problems = check_changes([change(set={"K": "sg1:staging-1:AAAA", "L": SEALED})], rules)
    assert [str(p) for p in problems] == [
        "changes/production/a.yaml: spec.set.K: is sealed to key id 'staging-1', which is "
        "not among environment 'production' sealing keys (prod-2026-11, prod-2026-05): seal "
        "the value again with `sealgate seal` for production"
    ]


def test_a_key_changed_by_two_documents(rules: Rules) -> None:
    first = change("changes/production/a.yaml", 0, generate={"X": {}})
    second = change("changes/production/b.yaml", 1, set={"Y": SEALED}, delete=["X"])
    other_secret = change("changes/production/c.yaml", secret="payments/other", delete=["X"])
    problems = check_changes([first, second, other_secret], rules)
    assert [str(p) for p in problems] == [
        "changes/production/b.yaml: spec.delete[0]: key of production/payments/stripe is "
        "also changed by changes/production/a.yaml (document 1): change each key in one "
        "document only",
    ]


def test_lines_are_given_when_known(rules: Rules) -> None:
    data = dump(mutated(CHANGE, (("spec", "set", "K"), "sg1:nope:AAAA")))
    located = parse_located("changes/staging/a.yaml", data)
    typed = [item.document for item in located if isinstance(item.document, SecretChange)]
    lines = {("changes/staging/a.yaml", 0): located[0].lines}
    problems: list[Problem] = check_changes(typed, rules, lines=lines)
    assert [(p.field, p.line) for p in problems] == [("spec.environment", 6), ("spec.set.K", 11)]
