"""The loopback API server's patch flavours and selectors, on literal objects."""

from __future__ import annotations

from typing import Any

import pytest

from controller.sandbox.kube_server.errors import ApiError
from controller.sandbox.kube_server.patch import (
    PatchError,
    apply_patch,
    json_patch,
    merge_patch,
    strategic_merge_patch,
)
from controller.sandbox.kube_server.selectors import field_matcher, label_matcher


def pod_spec() -> dict[str, Any]:
    return {
        "metadata": {"name": "web", "labels": {"app": "web", "tier": "front"}},
        "spec": {
            "containers": [
                {
                    "name": "app",
                    "image": "app:1",
                    "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                    "ports": [{"containerPort": 80}, {"containerPort": 443}],
                },
                {"name": "proxy", "image": "proxy:1"},
            ],
            "volumes": [{"name": "db", "secret": {"secretName": "db"}}],
            "tolerations": [{"key": "a"}],
        },
    }


# --- JSON merge patch (RFC 7386) ---------------------------------------------------------


def test_merge_patch_follows_rfc_7386() -> None:
    target = {"a": "b", "c": {"d": "e", "f": "g"}, "list": [1, 2]}
    patch = {"a": "z", "c": {"f": None}, "list": [3], "new": {"x": None, "y": 1}}
    assert merge_patch(target, patch) == {
        "a": "z",
        "c": {"d": "e"},
        "list": [3],
        "new": {"y": 1},
    }
    assert target == {"a": "b", "c": {"d": "e", "f": "g"}, "list": [1, 2]}, "input unchanged"


# --- strategic merge patch ---------------------------------------------------------------


def test_strategic_patch_merges_containers_env_and_ports_by_their_keys() -> None:
    patched = strategic_merge_patch(
        pod_spec(),
        {
            "spec": {
                "containers": [
                    {
                        "name": "app",
                        "env": [{"name": "B", "value": "two"}, {"name": "C", "value": "3"}],
                        "ports": [{"containerPort": 8080}],
                    },
                    {"name": "sidecar", "image": "log:1"},
                ],
                "tolerations": [{"key": "b"}],
            }
        },
    )
    app, proxy, sidecar = patched["spec"]["containers"]
    assert app["image"] == "app:1"
    assert app["env"] == [
        {"name": "A", "value": "1"},
        {"name": "B", "value": "two"},
        {"name": "C", "value": "3"},
    ]
    assert [p["containerPort"] for p in app["ports"]] == [80, 443, 8080]
    assert proxy == {"name": "proxy", "image": "proxy:1"}
    assert sidecar == {"name": "sidecar", "image": "log:1"}
    assert patched["spec"]["tolerations"] == [{"key": "b"}], "atomic lists are replaced"


def test_strategic_patch_of_pod_template_annotations() -> None:
    deployment = {"spec": {"template": {"metadata": {"labels": {"app": "web"}}}}}
    patch = {"spec": {"template": {"metadata": {"annotations": {"sealgate.dev/checksum": "1"}}}}}
    patched = strategic_merge_patch(deployment, patch)
    assert patched["spec"]["template"]["metadata"] == {
        "labels": {"app": "web"},
        "annotations": {"sealgate.dev/checksum": "1"},
    }
    removed = strategic_merge_patch(
        patched, {"spec": {"template": {"metadata": {"annotations": None}}}}
    )
    assert removed["spec"]["template"]["metadata"] == {"labels": {"app": "web"}}


def test_strategic_patch_directives_that_kubectl_apply_sends() -> None:
    patched = strategic_merge_patch(
        pod_spec(),
        {
            "metadata": {"labels": {"tier": None}},
            "spec": {
                "$setElementOrder/containers": [{"name": "proxy"}, {"name": "app"}],
                "containers": [
                    {"name": "app", "$setElementOrder/env": [{"name": "B"}, {"name": "A"}]},
                ],
                "volumes": [{"name": "db", "$patch": "delete"}],
            },
        },
    )
    assert patched["metadata"]["labels"] == {"app": "web"}
    assert [c["name"] for c in patched["spec"]["containers"]] == ["proxy", "app"]
    assert [e["name"] for e in patched["spec"]["containers"][1]["env"]] == ["B", "A"]
    assert patched["spec"]["volumes"] == []


def test_strategic_patch_replace_retain_and_primitive_list_directives() -> None:
    target = {
        "metadata": {"finalizers": ["a", "b"]},
        "spec": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}},
    }
    patched = strategic_merge_patch(
        target,
        {
            "metadata": {"$deleteFromPrimitiveList/finalizers": ["a"]},
            "spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}},
        },
    )
    assert patched == {
        "metadata": {"finalizers": ["b"]},
        "spec": {"strategy": {"type": "Recreate"}},
    }
    replaced = strategic_merge_patch(
        pod_spec(),
        {"spec": {"containers": [{"$patch": "replace"}, {"name": "only", "image": "x"}]}},
    )
    assert replaced["spec"]["containers"] == [{"name": "only", "image": "x"}]
    whole = strategic_merge_patch(pod_spec(), {"spec": {"$patch": "replace", "volumes": []}})
    assert whole["spec"] == {"volumes": []}


def test_strategic_patch_refuses_what_it_does_not_understand() -> None:
    with pytest.raises(PatchError):
        strategic_merge_patch(pod_spec(), {"spec": {"$unknown": 1}})
    with pytest.raises(PatchError):
        strategic_merge_patch(pod_spec(), {"spec": {"$patch": "sideways"}})


# --- JSON patch (RFC 6902) ---------------------------------------------------------------


def test_json_patch_operations() -> None:
    target = {"metadata": {"name": "x", "labels": {"a/b": "1"}}, "items": [1, 2]}
    patched = json_patch(
        target,
        [
            {"op": "test", "path": "/metadata/name", "value": "x"},
            {"op": "add", "path": "/metadata/annotations", "value": {"k": "v"}},
            {"op": "replace", "path": "/metadata/labels/a~1b", "value": "2"},
            {"op": "add", "path": "/items/-", "value": 3},
            {"op": "add", "path": "/items/0", "value": 0},
            {"op": "remove", "path": "/items/1"},
            {"op": "copy", "from": "/metadata/name", "path": "/metadata/generateName"},
            {"op": "move", "from": "/metadata/annotations", "path": "/annotations"},
        ],
    )
    assert patched == {
        "metadata": {"name": "x", "labels": {"a/b": "2"}, "generateName": "x"},
        "items": [0, 2, 3],
        "annotations": {"k": "v"},
    }


@pytest.mark.parametrize(
    "operations",
    [
        [{"op": "test", "path": "/metadata/name", "value": "y"}],
        [{"op": "remove", "path": "/metadata/missing"}],
        [{"op": "replace", "path": "/nothing/here", "value": 1}],
        [{"op": "jump", "path": "/metadata"}],
        {"op": "add"},
    ],
)
def test_json_patch_failures(operations: Any) -> None:
    with pytest.raises(PatchError):
        json_patch({"metadata": {"name": "x"}}, operations)


def test_apply_patch_picks_the_flavour_by_media_type() -> None:
    target = {"spec": {"containers": [{"name": "a", "image": "1"}]}}
    patch = {"spec": {"containers": [{"name": "b", "image": "2"}]}}
    merged = apply_patch("application/merge-patch+json", target, patch)
    strategic = apply_patch("application/strategic-merge-patch+json", target, patch)
    assert [c["name"] for c in merged["spec"]["containers"]] == ["b"]
    assert [c["name"] for c in strategic["spec"]["containers"]] == ["a", "b"]
    with pytest.raises(PatchError):
        apply_patch("application/apply-patch+yaml", target, patch)


# --- selectors ---------------------------------------------------------------------------


def labelled(**labels: str) -> dict[str, Any]:
    return {"metadata": {"name": "x", "labels": labels}, "type": "Opaque"}


@pytest.mark.parametrize(
    ("selector", "labels", "expected"),
    [
        ("", {}, True),
        ("a=1", {"a": "1"}, True),
        ("a==1", {"a": "2"}, False),
        ("a!=1", {}, True),
        ("a in (1, 2)", {"a": "2"}, True),
        ("a notin (1,2)", {"a": "2"}, False),
        ("a notin (1,2)", {}, True),
        ("a", {"a": ""}, True),
        ("!a", {"a": "1"}, False),
        ("a,b=2", {"a": "1", "b": "2"}, True),
        (
            "app.kubernetes.io/managed-by=sealgate",
            {"app.kubernetes.io/managed-by": "sealgate"},
            True,
        ),
        ("n>3", {"n": "4"}, True),
        ("n<3", {"n": "4"}, False),
    ],
)
def test_label_selectors(selector: str, labels: dict[str, str], expected: bool) -> None:
    assert label_matcher(selector)(labelled(**labels)) is expected


@pytest.mark.parametrize("selector", ["a in (1", "=a", "a b"])
def test_unparsable_label_selectors_are_bad_requests(selector: str) -> None:
    with pytest.raises(ApiError) as caught:
        label_matcher(selector)
    assert caught.value.code == 400


def test_field_selectors() -> None:
    obj = labelled()
    assert field_matcher("metadata.name=x,type==Opaque")(obj)
    assert not field_matcher("metadata.name!=x")(obj)
    assert field_matcher("metadata.namespace=")(obj)
    with pytest.raises(ApiError):
        field_matcher("metadata.name")
