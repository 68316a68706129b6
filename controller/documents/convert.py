"""Checks the schemas cannot express, and conversion of valid data into typed model values.

Every function here takes data that already passed its JSON Schema, so shapes and types
are known; the checks look across fields (a key in two operations, bypassers under hard
enforcement, duplicate ids) and the builders only fill in defaults.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator, Mapping
from datetime import timedelta
from typing import Any

from controller.documents.agents import agent_problems, build_agents
from controller.documents.locations import FieldPath, LineMap, line_of, render_path
from controller.documents.reason_check import REASON_CREDENTIAL_MESSAGE, credential_in
from controller.documents.secret_shape import metadata_problems, type_problem
from controller.errors import Problem
from controller.model import (
    DEFAULT_VALUE_POLICY,
    GOVERNANCE,
    Action,
    Alphabet,
    ApprovalStep,
    Bypassers,
    Enforcement,
    Environment,
    GenerateSpec,
    MetadataEdit,
    NotifyTargets,
    Policy,
    RolloutFailure,
    SealingKey,
    SecretChange,
    Tier,
    TierFloor,
    Unmatched,
    ValueRule,
    frozen_map,
)

_UNITS = {"m": timedelta(minutes=1), "h": timedelta(hours=1), "d": timedelta(days=1)} | {
    "w": timedelta(weeks=1)
}
OPERATIONS = ("set", "generate", "delete")


def parse_duration(text: str) -> timedelta:
    """``30m``, ``72h``, ``7d``, ``2w`` (already checked by the schema's pattern)."""
    return int(text[:-1]) * _UNITS[text[-1]]


def _problem(source: str, lines: LineMap, path: FieldPath, message: str) -> Problem:
    return Problem(source, render_path(path), message, line_of(lines, path))


# ----------------------------------------------------------------------------- checks


def environment_problems(source: str, doc: dict[str, Any], lines: LineMap) -> list[Problem]:
    problems: list[Problem] = []
    if doc["metadata"]["name"] == GOVERNANCE:
        problems.append(
            _problem(
                source,
                lines,
                ("metadata", "name"),
                f"'{GOVERNANCE}' is reserved for policies about the rules themselves: "
                "choose another environment name",
            )
        )
    first_use: dict[str, int] = {}
    for position, key in enumerate(doc["spec"]["sealingKeys"]):
        path: FieldPath = ("spec", "sealingKeys", position)
        if key["id"] in first_use:
            problems.append(
                _problem(
                    source,
                    lines,
                    (*path, "id"),
                    f"key id is already used by spec.sealingKeys[{first_use[key['id']]}]: "
                    "give every key its own id",
                )
            )
        first_use.setdefault(key["id"], position)
        if not _is_x25519_public_key(key["publicKey"]):
            problems.append(
                _problem(
                    source,
                    lines,
                    (*path, "publicKey"),
                    "is not the base64 of a 32-byte X25519 public key: copy it from "
                    "`sealgate keys` again",
                )
            )
    problems.extend(agent_problems(source, doc["spec"], lines))
    return problems


def _is_x25519_public_key(text: str) -> bool:
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return False
    return len(raw) == 32 and base64.b64encode(raw).decode("ascii") == text


def policy_problems(source: str, doc: dict[str, Any], lines: LineMap) -> list[Problem]:
    spec = doc["spec"]
    problems: list[Problem] = []
    seen: dict[str, int] = {}
    for position, step in enumerate(spec.get("steps", [])):
        if step["name"] in seen:
            problems.append(
                _problem(
                    source,
                    lines,
                    ("spec", "steps", position, "name"),
                    f"step name is already used by spec.steps[{seen[step['name']]}]: "
                    "give every step its own name",
                )
            )
        seen.setdefault(step["name"], position)
    bypassers = spec.get("bypassers", {})
    if spec.get("enforcement", "hard") == "hard" and (
        bypassers.get("users") or bypassers.get("teams")
    ):
        problems.append(
            _problem(
                source,
                lines,
                ("spec", "bypassers"),
                "bypassers only apply with enforcement: soft; set spec.enforcement: soft to "
                "allow break-glass, or remove spec.bypassers",
            )
        )
    if "maxDuration" in spec and Action.ACCESS not in spec.get("actions", [Action.CHANGE]):
        problems.append(
            _problem(
                source,
                lines,
                ("spec", "maxDuration"),
                "maxDuration limits access requests, and this policy does not judge any: add "
                "access to spec.actions, or remove spec.maxDuration",
            )
        )
    return problems


def change_problems(source: str, doc: dict[str, Any], lines: LineMap) -> list[Problem]:
    spec = doc["spec"]
    problems: list[Problem] = []
    if spec["environment"] == GOVERNANCE:
        problems.append(
            _problem(
                source,
                lines,
                ("spec", "environment"),
                f"'{GOVERNANCE}' is not an environment: name the environment the secret lives in",
            )
        )
    problems.extend(_shape_problems(source, spec, lines))
    credential = credential_in(spec["reason"])
    if credential is not None:
        problems.append(
            _problem(
                source,
                lines,
                ("spec", "reason"),
                REASON_CREDENTIAL_MESSAGE.format(kind=credential),
            )
        )
    first_operation: dict[str, str] = {}
    for operation, key, path in _operation_keys(spec):
        if key in first_operation:
            problems.append(
                _problem(
                    source,
                    lines,
                    path,
                    f"key is also in spec.{first_operation[key]}: a key may appear in one "
                    "operation only",
                )
            )
        first_operation.setdefault(key, operation)
    if "version" in spec.get("restore", {}):
        problems.extend(
            _problem(
                source,
                lines,
                ("spec", operation),
                "spec.restore.version returns the whole secret to that version: it cannot be "
                "combined with other operations; restore single keys with spec.restore.keys, "
                "or make two pull requests",
            )
            for operation in OPERATIONS
            if operation in spec
        )
    return problems


def _shape_problems(source: str, spec: dict[str, Any], lines: LineMap) -> list[Problem]:
    problems: list[Problem] = []
    if "type" in spec and (why := type_problem(spec["type"])):
        problems.append(_problem(source, lines, ("spec", "type"), why))
    for field in ("labels", "annotations"):
        for key, why in metadata_problems(field, spec.get(field, {})):
            path: FieldPath = ("spec", field, key) if key else ("spec", field)
            problems.append(_problem(source, lines, path, why))
    return problems


def _metadata_edit(entries: dict[str, str | None]) -> MetadataEdit:
    return MetadataEdit(
        set=frozen_map({k: v for k, v in entries.items() if v is not None}),
        remove=frozenset(k for k, v in entries.items() if v is None),
    )


def _operation_keys(spec: dict[str, Any]) -> Iterator[tuple[str, str, FieldPath]]:
    for key in spec.get("set", {}):
        yield "set", key, ("spec", "set", key)
    for key in spec.get("generate", {}):
        yield "generate", key, ("spec", "generate", key)
    for position, key in enumerate(spec.get("delete", [])):
        yield "delete", key, ("spec", "delete", position)
    for key in spec.get("restore", {}).get("keys", {}):
        yield "restore.keys", key, ("spec", "restore", "keys", key)


# ---------------------------------------------------------------------------- builders


def build_environment(source: str, doc: dict[str, Any]) -> Environment:
    spec = doc["spec"]
    return Environment(
        name=doc["metadata"]["name"],
        sealing_keys=tuple(SealingKey(key["id"], key["publicKey"]) for key in spec["sealingKeys"]),
        default_tier=Tier(spec.get("defaultTier", Tier.SENSITIVE)),
        unmatched=Unmatched(spec.get("unmatched", Unmatched.DENY)),
        clusters=tuple(spec.get("clusters", ())),
        source=source,
        namespaces=tuple(spec["namespaces"]) if "namespaces" in spec else None,
        on_rollout_failure=RolloutFailure(spec.get("onRolloutFailure", RolloutFailure.KEEP)),
        tier_floors=tuple(
            TierFloor(tuple(floor["secrets"]), Tier(floor["tier"]))
            for floor in spec.get("tierFloors", ())
        ),
        value_policy=_value_policy(spec.get("valuePolicy", {})),
        agents=build_agents(spec),
    )


def _value_policy(spec: dict[str, Any]) -> Mapping[Tier, ValueRule]:
    policy = dict(DEFAULT_VALUE_POLICY)
    for name, rule in spec.items():
        tier = Tier(name)
        policy[tier] = ValueRule(
            min_length=int(rule.get("minLength", policy[tier].min_length)),
            min_entropy_bits=float(rule.get("minEntropyBits", policy[tier].min_entropy_bits)),
        )
    return frozen_map(policy)


def _step(name: str, spec: dict[str, Any]) -> ApprovalStep:
    return ApprovalStep(
        name=name,
        required=int(spec["required"]),
        users=frozenset(spec.get("users", ())),
        teams=frozenset(spec.get("teams", ())),
    )


def build_policy(source: str, doc: dict[str, Any]) -> Policy:
    spec = doc["spec"]
    if "approvals" in spec:
        steps: tuple[ApprovalStep, ...] = (_step("approvals", spec["approvals"]),)
    else:
        steps = tuple(_step(step["name"], step) for step in spec["steps"])
    bypassers = spec.get("bypassers", {})
    notify = spec.get("notify", {})
    return Policy(
        name=doc["metadata"]["name"],
        steps=steps,
        description=doc["metadata"].get("description", ""),
        environments=tuple(spec.get("environments", ("*",))),
        secrets=tuple(spec.get("secrets", ("**",))),
        tiers=frozenset(Tier(tier) for tier in spec.get("tiers", tuple(Tier))),
        allow_self_approval=spec.get("allowSelfApproval", False),
        invalidate_on_push=spec.get("invalidateOnPush", True),
        changes_requested_blocks=spec.get("changesRequestedBlocks", True),
        enforcement=Enforcement(spec.get("enforcement", Enforcement.HARD)),
        bypassers=Bypassers(
            users=frozenset(bypassers.get("users", ())),
            teams=frozenset(bypassers.get("teams", ())),
        ),
        expires_after=parse_duration(spec.get("expiresAfter", "7d")),
        auto_merge=spec.get("autoMerge", True),
        require_verified_commits=spec.get("requireVerifiedCommits", False),
        notify=NotifyTargets(
            slack=tuple(notify.get("slack", ())),
            email=tuple(notify.get("email", ())),
            teams=tuple(notify.get("teams", ())),
        ),
        source=source,
        actions=frozenset(Action(action) for action in spec.get("actions", (Action.CHANGE,))),
        max_duration=parse_duration(spec["maxDuration"]) if "maxDuration" in spec else None,
    )


def build_change(source: str, index: int, doc: dict[str, Any]) -> SecretChange:
    spec = doc["spec"]
    return SecretChange(
        name=doc["metadata"]["name"],
        environment=spec["environment"],
        secret=spec["secret"],
        reason=spec["reason"],
        set=frozen_map(spec.get("set", {})),
        generate=frozen_map(
            {
                key: GenerateSpec(
                    length=int(options.get("length", 32)),
                    alphabet=Alphabet(options.get("alphabet", Alphabet.ALPHANUMERIC)),
                )
                for key, options in spec.get("generate", {}).items()
            }
        ),
        delete=tuple(spec.get("delete", ())),
        tier=Tier(spec["tier"]) if "tier" in spec else None,
        base_version=int(spec["baseVersion"]) if "baseVersion" in spec else None,
        restore_version=(
            int(spec["restore"]["version"]) if "version" in spec.get("restore", {}) else None
        ),
        restore_keys=frozen_map(
            {str(k): int(v) for k, v in spec.get("restore", {}).get("keys", {}).items()}
        ),
        source=source,
        document_index=index,
        on_rollout_failure=(
            RolloutFailure(spec["onRolloutFailure"]) if "onRolloutFailure" in spec else None
        ),
        type=spec.get("type"),
        labels=_metadata_edit(spec.get("labels", {})),
        annotations=_metadata_edit(spec.get("annotations", {})),
    )
