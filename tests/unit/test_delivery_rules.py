"""The pure checks behind delivery safety: namespaces an environment may write, what a
failed rollout does, and the digest that makes a sealed value apply once."""

from __future__ import annotations

import dataclasses

import pytest

from controller.crypto import replay_problems, sealed_digest
from controller.documents import Rules
from controller.documents.rules import check_changes, namespace_allowed
from controller.model import Environment, RolloutFailure, SealingKey, SecretChange, frozen_map
from controller.policy.scope import rollout_failure

KEY = SealingKey("k1", "A" * 43 + "=")
SEALED = "sg1:k1:" + "QUJD" * 20


def environment(namespaces: tuple[str, ...] | None, **fields: object) -> Environment:
    return Environment(
        "production",
        (KEY,),
        namespaces=namespaces,
        source="environments/production.yaml",
        **fields,  # type: ignore[arg-type]
    )


def change(secret: str = "payments/db", **fields: object) -> SecretChange:  # noqa: S107
    return SecretChange(
        name="c",
        environment="production",
        secret=secret,
        reason="r",
        set=frozen_map({"password": SEALED}),
        source="changes/production/c.yaml",
        **fields,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize(
    ("namespaces", "namespace", "allowed"),
    [
        (("payments",), "payments", True),
        (("payments",), "web", False),
        (("team-*",), "team-a", True),
        (("team-*",), "teams", False),
        (("*",), "anything", True),
        (("*",), "kube-system", False),
        (("kube-*",), "kube-public", False),
        (("*",), "default", False),
        (("*",), "sealgate", False),
        (("kube-system",), "kube-system", True),
        (None, "payments", False),
    ],
)
def test_namespaces(namespaces: tuple[str, ...] | None, namespace: str, allowed: bool) -> None:
    assert namespace_allowed(environment(namespaces), namespace) is allowed


def test_the_controller_namespace_is_configurable() -> None:
    env = environment(("*",))
    assert namespace_allowed(env, "sealgate", "ops") is True
    assert namespace_allowed(env, "ops", "ops") is False


@pytest.mark.parametrize(
    ("namespaces", "secret", "message"),
    [
        (None, "payments/db", "declares no spec.namespaces, so it may write no namespace"),
        (("payments",), "web/db", "namespace 'web' is not among the namespaces"),
        (("*",), "kube-system/db", "namespace 'kube-system' is reserved"),
    ],
)
def test_an_unlisted_namespace_is_invalid_naming_file_field_and_fix(
    namespaces: tuple[str, ...] | None, secret: str, message: str
) -> None:
    rules = Rules(environments=frozen_map({"production": environment(namespaces)}))
    (problem,) = check_changes([change(secret)], rules)
    assert problem.file == "changes/production/c.yaml"
    assert problem.field == "spec.secret"
    assert message in problem.message
    assert "environments/production.yaml" in problem.message


def test_rollout_failure_defaults_to_the_environment_and_keep_wins() -> None:
    environments = {"production": environment(("*",))}
    assert rollout_failure([change()], environments) == {
        "production/payments/db": RolloutFailure.KEEP
    }
    rolling = {"production": environment(("*",), on_rollout_failure=RolloutFailure.ROLLBACK)}
    assert rollout_failure([change()], rolling) == {
        "production/payments/db": RolloutFailure.ROLLBACK
    }
    mixed = [change(), change(on_rollout_failure=RolloutFailure.KEEP)]
    assert rollout_failure(mixed, rolling) == {"production/payments/db": RolloutFailure.KEEP}
    asked = [change(on_rollout_failure=RolloutFailure.ROLLBACK)]
    assert rollout_failure(asked, environments) == {
        "production/payments/db": RolloutFailure.ROLLBACK
    }


def test_the_digest_sees_through_respelled_base64_and_labels() -> None:
    digest = sealed_digest(SEALED)
    assert digest is not None
    assert sealed_digest(SEALED + "==") == digest
    assert sealed_digest(SEALED.replace("sg1:k1:", "sg1:k2:")) == digest
    assert sealed_digest("sg1:k1:" + "QUJE" * 20) != digest
    assert sealed_digest("plain") is None
    # The digest is not the text, nor the payload.
    assert SEALED.split(":")[2] not in digest


def test_a_replayed_value_is_a_problem_naming_file_key_and_reseal() -> None:
    digest = sealed_digest(SEALED)
    assert digest is not None
    (problem,) = replay_problems([change()], {("production", digest): "production/pr-3"})
    assert (problem.file, problem.field) == ("changes/production/c.yaml", "spec.set.password")
    assert "already applied (by production/pr-3)" in problem.message
    assert (
        "sealgate seal --env-file environments/production.yaml --secret payments/db --key password"
    ) in problem.message
    other = dataclasses.replace(change(), environment="staging")
    assert replay_problems([other], {("production", digest): "production/pr-3"}) == []
