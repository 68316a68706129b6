"""Secret types, labels and annotations: the rules a change is judged by before review."""

from __future__ import annotations

import pytest

from controller.documents import parse_changes
from controller.documents.secret_shape import (
    content_problem,
    metadata_problems,
    missing_keys_problem,
    shape_problems,
    type_problem,
)
from controller.errors import DocumentError
from controller.model import MetadataEdit, SecretChange, SecretShape, frozen_map

SEALED = "sg1:prod-1:" + "A" * 40


@pytest.mark.parametrize(
    ("secret_type", "ok"),
    [
        ("Opaque", True),
        ("kubernetes.io/tls", True),
        ("kubernetes.io/dockerconfigjson", True),
        ("kubernetes.io/basic-auth", True),
        ("bootstrap.kubernetes.io/token", True),
        ("example.com/api-key", True),
        ("kubernetes.io/service-account-token", False),
        ("opaque", False),
        ("tls", False),
        ("example/api-key", False),
        ("Example.com/api-key", False),
    ],
)
def test_types(secret_type: str, ok: bool) -> None:
    assert (type_problem(secret_type) is None) is ok


def test_service_account_tokens_say_where_they_come_from() -> None:
    why = type_problem("kubernetes.io/service-account-token")
    assert why is not None
    assert "kubectl create token" in why


@pytest.mark.parametrize(
    ("secret_type", "keys", "missing"),
    [
        ("kubernetes.io/tls", {"tls.crt", "tls.key"}, None),
        ("kubernetes.io/tls", {"tls.crt"}, "tls.key"),
        ("kubernetes.io/basic-auth", {"password"}, None),
        ("kubernetes.io/basic-auth", {"token"}, "username, password"),
        ("kubernetes.io/ssh-auth", set(), "ssh-privatekey"),
        ("kubernetes.io/dockerconfigjson", {".dockerconfigjson"}, None),
        ("Opaque", set(), None),
        ("example.com/api-key", set(), None),
    ],
)
def test_required_keys(secret_type: str, keys: set[str], missing: str | None) -> None:
    why = missing_keys_problem(secret_type, keys)
    if missing is None:
        assert why is None
    else:
        assert why is not None
        assert f"lacks {missing}" in why


def test_docker_configs_must_be_json_and_the_value_is_never_quoted() -> None:
    canary = b"not-json-canary-91c3"
    why = content_problem("kubernetes.io/dockerconfigjson", ".dockerconfigjson", canary)
    assert why is not None
    assert "must be JSON" in why
    assert "canary" not in why
    assert content_problem("kubernetes.io/dockerconfigjson", ".dockerconfigjson", b"{}") is None
    assert content_problem("Opaque", ".dockerconfigjson", canary) is None


@pytest.mark.parametrize(
    ("field", "key", "value", "fragment"),
    [
        ("labels", "app.kubernetes.io/name", "payments", None),
        ("labels", "team", "", None),
        ("labels", "team", "a" * 64, "at most 63"),
        ("labels", "team", "has space", "at most 63"),
        ("labels", "kubernetes.io/arch", "x", "reserved for Kubernetes"),
        ("labels", "app.kubernetes.io/managed-by", "me", "claim the Secret"),
        ("annotations", "sealgate.dev/checksum", "x", "sealgate's own"),
        ("annotations", "x.sealgate.dev/y", "x", "sealgate's own"),
        ("annotations", "Example.com/x", "x", "DNS subdomain"),
        ("annotations", "/x", "x", "DNS subdomain"),
        ("annotations", "-x", "x", "at most 63 characters"),
        ("annotations", "note", "free text, with spaces! and symbols", None),
        ("annotations", "kubectl.kubernetes.io/last-applied-configuration", "{}", "kubectl"),
    ],
)
def test_metadata_keys_and_values(field: str, key: str, value: str, fragment: str | None) -> None:
    found = list(metadata_problems(field, {key: value}))
    if fragment is None:
        assert found == []
    else:
        assert len(found) == 1
        assert found[0][0] == key
        assert fragment in found[0][1]
        assert value not in found[0][1] or len(value) < 2


def test_annotations_have_a_total_size() -> None:
    big = {f"note-{i}": "x" * 60_000 for i in range(5)}
    assert [k for k, _ in metadata_problems("annotations", big)] == [""]


def _change(**kw: object) -> SecretChange:
    base: dict[str, object] = {
        "name": "c",
        "environment": "production",
        "secret": "edge/tls",
        "reason": "r",
        "source": "changes/production/c.yaml",
    }
    base.update(kw)
    return SecretChange(**base)  # type: ignore[arg-type]


def test_a_new_tls_secret_needs_both_keys_over_all_documents() -> None:
    crt = _change(type="kubernetes.io/tls", set=frozen_map({"tls.crt": SEALED}))
    key = _change(name="d", set=frozen_map({"tls.key": SEALED}))
    assert shape_problems([crt, key], {}, {}) == []
    (alone,) = shape_problems([crt], {}, {})
    assert alone.field == "spec.type"
    assert "lacks tls.key" in alone.message


def test_the_type_of_a_stored_secret_cannot_change() -> None:
    change = _change(type="kubernetes.io/tls", set=frozen_map({"tls.crt": SEALED}))
    (found,) = shape_problems([change], {"production/edge/tls": "Opaque"}, {})
    assert "cannot change a Secret's type" in found.message
    same = _change(type="Opaque", set=frozen_map({"tls.crt": SEALED}))
    assert shape_problems([same], {"production/edge/tls": "Opaque"}, {}) == []


def test_deleting_a_key_a_stored_type_needs_is_refused() -> None:
    change = _change(delete=("tls.key",))
    stored = {"production/edge/tls": "kubernetes.io/tls"}
    keys = {"production/edge/tls": frozenset({"tls.crt", "tls.key"})}
    (found,) = shape_problems([change], stored, keys)
    assert "lacks tls.key" in found.message


def test_a_docker_config_cannot_be_generated() -> None:
    change = _change(
        type="kubernetes.io/dockerconfigjson",
        generate=frozen_map({".dockerconfigjson": object()}),
    )
    fields = [p.field for p in shape_problems([change], {}, {})]
    assert fields == ["spec.generate..dockerconfigjson"]


def test_edits_apply_on_top_of_the_stored_shape() -> None:
    current = SecretShape(
        type="kubernetes.io/tls", labels=frozen_map({"a": "1", "b": "2"}), annotations=frozen_map()
    )
    change = _change(
        labels=MetadataEdit(set=frozen_map({"c": "3"}), remove=frozenset({"a"})),
        annotations=MetadataEdit(set=frozen_map({"note": "x"})),
    )
    after = change.shape_after(current)
    assert after.type == "kubernetes.io/tls"
    assert dict(after.labels) == {"b": "2", "c": "3"}
    assert dict(after.annotations) == {"note": "x"}


def test_documents_carry_type_labels_and_removals_with_lines() -> None:
    text = (
        "apiVersion: sealgate.dev/v1\nkind: SecretChange\nmetadata: {name: t}\nspec:\n"
        "  environment: production\n  secret: edge/tls\n  reason: new certificate\n"
        "  type: kubernetes.io/tls\n"
        "  labels: {team: edge, old: null}\n"
        f"  set: {{tls.crt: {SEALED}, tls.key: {SEALED}}}\n"
    ).encode()
    (change,) = parse_changes("changes/production/t.yaml", text)
    assert change.type == "kubernetes.io/tls"
    assert dict(change.labels.set) == {"team": "edge"}
    assert change.labels.remove == frozenset({"old"})
    bad = text.replace(b"team: edge", b"kubernetes.io/team: edge")
    with pytest.raises(DocumentError) as caught:
        parse_changes("changes/production/t.yaml", bad)
    assert [str(p) for p in caught.value.problems] == [
        "changes/production/t.yaml:9: spec.labels.kubernetes.io/team: the kubernetes.io/ prefix "
        "is reserved for Kubernetes itself: choose another prefix"
    ]


def test_a_metadata_only_change_is_a_change() -> None:
    text = (
        b"apiVersion: sealgate.dev/v1\nkind: SecretChange\nmetadata: {name: t}\nspec:\n"
        b"  environment: production\n  secret: edge/tls\n  reason: label it\n"
        b"  annotations: {owner: edge-team}\n"
    )
    (change,) = parse_changes("changes/production/t.yaml", text)
    assert dict(change.annotations.set) == {"owner": "edge-team"}
    assert not change.keys
