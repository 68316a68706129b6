"""The vendored API descriptions equal the shared originals (when those are beside us)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.api_specs import HERE, github_schema_validator, k8s_validator

SHARED = HERE.parents[2] / "shared" / "api-specs"


@pytest.mark.parametrize("name", ["github-rest-subset.json", "kubernetes-subset.json"])
def test_vendored_copy_matches_shared(name: str) -> None:
    original = SHARED / name
    if not original.exists():
        pytest.skip("no shared API descriptions beside this checkout; the vendored copy is used")
    assert (HERE / name).read_bytes() == original.read_bytes(), f"re-copy {name} from shared/"


def test_validators_reject_wrong_shapes() -> None:
    assert list(k8s_validator("io.k8s.api.core.v1.Secret").iter_errors({"data": 3}))
    assert list(github_schema_validator("pull-request").iter_errors({"number": "x"}))


def test_paths_exist() -> None:
    assert Path(HERE / "README.md").exists()
