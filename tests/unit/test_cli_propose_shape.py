"""``sealgate propose --type/--label/--annotation``: what a change says of the Secret itself."""

from __future__ import annotations

from pathlib import Path

import yaml

from controller.documents import parse_changes
from tests.unit.test_cli_keys_seal_propose import _run
from tests.unit.test_cli_keys_seal_propose import env_file as env_file  # noqa: PLC0414
from tests.unit.test_cli_keys_seal_propose import key_dir as key_dir  # noqa: PLC0414

BASE = ["--secret", "edge/tls", "--reason", "new certificate", "--name", "tls"]


def test_propose_writes_type_labels_and_removals(
    tmp_path: Path, key_dir: Path, env_file: Path
) -> None:
    out = tmp_path / "changes"
    args = ["propose", "--env-file", str(env_file), *BASE, "--out-dir", str(out)]
    args += ["--type", "kubernetes.io/tls", "--set", "tls.crt", "--set", "tls.key"]
    args += ["--label", "team=edge", "--label", "old-", "--annotation", "example.com/owner=edge"]
    result = _run(key_dir, args, stdin="tls.crt=C\ntls.key=K\n")
    assert result.exit_code == 0, result.output
    data = (out / "production" / "tls.yaml").read_bytes()
    spec = yaml.safe_load(data)["spec"]
    assert spec["type"] == "kubernetes.io/tls"
    assert spec["labels"] == {"team": "edge", "old": None}
    assert spec["annotations"] == {"example.com/owner": "edge"}
    (change,) = parse_changes("changes/production/tls.yaml", data)
    assert change.labels.remove == frozenset({"old"})


def test_propose_refuses_a_bad_label_without_writing_or_echoing_it(
    tmp_path: Path, key_dir: Path, env_file: Path
) -> None:
    out = tmp_path / "changes"
    base = ["propose", "--env-file", str(env_file), *BASE, "--out-dir", str(out)]
    base += ["--generate", "token"]
    reserved = _run(key_dir, [*base, "--label", "kubernetes.io/x=1"])
    assert reserved.exit_code != 0
    assert "reserved for Kubernetes" in reserved.output
    shapeless = _run(key_dir, [*base, "--annotation", "leaked-canary-value-77"])
    assert shapeless.exit_code != 0
    assert "expected KEY=VALUE to set or KEY- to remove" in shapeless.output
    assert "leaked-canary-value-77" not in shapeless.output
    refused = _run(key_dir, [*base, "--type", "kubernetes.io/service-account-token"])
    assert refused.exit_code != 0
    assert "the cluster mints ServiceAccount tokens" in refused.output
    assert not out.exists()
