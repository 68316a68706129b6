"""``sealgate run --check``: everything the start refuses, all at once, one line each naming
the setting and the fix; and the start refuses exactly what ``--check`` lists."""

from __future__ import annotations

import io
import json
import logging
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from controller.cli import main
from controller.cli.exit_codes import ExitCode
from controller.config import load_config
from controller.keyring import KEK_FILE_NAME, LocalKekFile
from controller.logs import setup_logging
from tests.integration.installation import (
    TOKEN_ENV,
    Installation,
    config_text,
    kubeconfig_text,
    make_installation,
)


def check(config: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(
        main, ["run", "--config", str(config), "--check", *args], env=env or TOKEN_ENV
    )
    return result.exit_code, result.output


@pytest.fixture
def installed(tmp_path: Path) -> Installation:
    return make_installation(tmp_path)


def test_a_startable_installation_passes(installed: Installation) -> None:
    code, output = check(installed.config)
    assert code == 0, output
    assert "OK (repository acme/requests, token authentication, 1 cluster(s)" in output


def test_every_missing_file_is_listed_at_once(tmp_path: Path) -> None:
    (tmp_path / "store").write_text("not a repository")
    config = tmp_path / "sealgate.yaml"
    config.write_text(
        config_text(kubeconfig="nope/kubeconfig").replace(
            "  dir: keys\n", "  dir: keys\n  kek: {file: /nonexistent/nope.kek}\n"
        )
    )
    code, output = check(config)
    assert code == ExitCode.INVALID
    lines = output.splitlines()
    assert any(
        line.startswith(f"{config}: note: keys.dir: {tmp_path / 'keys'} does not exist")
        for line in lines
    ), output
    assert any(
        line.startswith(f"{config}: keys.kek.file: /nonexistent/nope.kek: key-encryption key")
        and "restore it from your backup" in line
        for line in lines
    ), output
    assert any(
        line.startswith(f"{config}: store.path: {tmp_path / 'store'} exists but is not a bare git")
        for line in lines
    ), output
    assert any(
        line.startswith(f"{config}: clusters[0].kubeconfig: cluster local: cannot read ")
        and "nope/kubeconfig" in line
        for line in lines
    ), output
    assert "3 problems: the controller would not start" in output
    assert "tok-123" not in output
    assert "hook-456" not in output


def test_another_installations_kek_is_refused(installed: Installation, tmp_path: Path) -> None:
    installed.kek_file.unlink()
    LocalKekFile(installed.kek_file, create=True)
    code, output = check(installed.config)
    assert code == ExitCode.INVALID
    assert f"{installed.config}: keys.dir: a wrapped key does not unwrap" in output
    assert f"{installed.config}: store.path: a wrapped key does not unwrap" in output


def test_kek_readable_by_others_names_the_fix(installed: Installation) -> None:
    installed.kek_file.chmod(0o644)
    code, output = check(installed.config)
    assert code == ExitCode.INVALID
    assert f"keys.kek.file: {installed.kek_file}: key-encryption key file is readable by " in output
    assert f"run `chmod 600 {installed.kek_file}`" in output


def test_empty_key_directory_is_a_note_and_an_uncreatable_store_an_error(tmp_path: Path) -> None:
    # A first start may come before `keys init` (docs/production.md runs it in the pod).
    LocalKekFile(tmp_path / "keys" / KEK_FILE_NAME, create=True)
    (tmp_path / "kube").mkdir()
    (tmp_path / "kube" / "config").write_text(kubeconfig_text("http://127.0.0.1:9"))
    (tmp_path / "a-file").write_text("")
    config = tmp_path / "sealgate.yaml"
    config.write_text(config_text().replace("path: store", "path: a-file/store"))
    code, output = check(config)
    assert code == ExitCode.INVALID
    assert f"{config}: note: keys.dir: {tmp_path / 'keys'} holds no sealing keys" in output
    assert (
        f"{config}: store.path: {tmp_path / 'a-file' / 'store'} does not exist and cannot be "
        f"created ({tmp_path / 'a-file'} is not a writable directory)"
    ) in output
    assert "1 problem: the controller would not start" in output


def test_a_missing_store_is_a_note(installed: Installation, tmp_path: Path) -> None:
    installed.config.write_text(config_text().replace("path: store", "path: fresh-store"))
    code, output = check(installed.config)
    assert code == 0, output
    assert "note: store.path:" in output
    assert "the first start creates an empty store" in output
    assert not (tmp_path / "fresh-store").exists()  # --check creates nothing


def test_unknown_context_lists_the_known_ones(installed: Installation) -> None:
    installed.kubeconfig.write_text(kubeconfig_text("http://127.0.0.1:9", contexts=("a", "b")))
    installed.config.write_text(config_text(extra="    context: c\n"))
    code, output = check(installed.config)
    assert code == ExitCode.INVALID
    assert (
        f"clusters[0].context: cluster local: context c is not in {installed.kubeconfig}: "
        "use one of a, b"
    ) in output


def test_kubeconfig_naming_a_missing_certificate(installed: Installation) -> None:
    text = kubeconfig_text("https://127.0.0.1:9").replace(
        "    server: https://127.0.0.1:9\n",
        "    server: https://127.0.0.1:9\n    certificate-authority: ca.crt\n",
    )
    installed.kubeconfig.write_text(text)
    code, output = check(installed.config)
    assert code == ExitCode.INVALID
    assert (
        f"cluster local: cluster loopback names certificate-authority "
        f"{installed.kubeconfig.parent / 'ca.crt'}, which does not exist"
    ) in output


def test_app_key_that_is_not_a_key(installed: Installation) -> None:
    pem = "-----BEGIN RSA PRIVATE KEY-----\nMIIB\n-----END RSA PRIVATE KEY-----\n"
    (installed.root / "app.pem").write_text(pem)
    text = config_text().replace(
        "  token: {fromEnv: GH_TOKEN}\n",
        "  app: {appId: 1, installationId: 2, slug: sg, privateKey: {fromFile: app.pem}}\n",
    )
    installed.config.write_text(text)
    code, output = check(installed.config, env={"HOOK_SECRET": "hook-456"})
    assert code == ExitCode.INVALID
    assert "github.app.privateKey: file " in output
    assert "is not a readable unencrypted PEM private key" in output
    assert "MIIB" not in output


def test_json_output(installed: Installation) -> None:
    installed.kek_file.chmod(0o640)
    code, output = check(installed.config, "-o", "json")
    assert code == ExitCode.INVALID
    body = json.loads(output)
    assert body["ok"] is False
    assert [p["setting"] for p in body["problems"] if p["level"] == "error"] == ["keys.kek.file"]


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    stream = io.StringIO()
    try:
        yield stream
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in saved[0]:
            root.addHandler(handler)
        root.setLevel(saved[1])


def test_the_start_refuses_what_check_lists(installed: Installation, captured: io.StringIO) -> None:
    from controller.run import main as run_main

    installed.kubeconfig.unlink()
    installed.kek_file.chmod(0o644)
    code, output = check(installed.config)
    assert code == ExitCode.INVALID
    listed = [
        line.split(": ", 2)[1] for line in output.splitlines() if "would not start" not in line
    ]
    assert sorted(listed) == ["clusters[0].kubeconfig", "keys.kek.file"]
    setup_logging("info", "json", captured)
    outcome: list[int] = []
    config = load_config(installed.config, TOKEN_ENV)
    runner = threading.Thread(target=lambda: outcome.append(run_main(config)))
    runner.start()
    runner.join(30)
    assert outcome == [1]
    (record,) = [
        json.loads(line)
        for line in captured.getvalue().splitlines()
        if json.loads(line)["logger"] == "sealgate.run"
    ]
    assert str(record["message"]).startswith("cannot start: ")
    for setting in listed:
        assert f"{installed.config}: {setting}: " in str(record["message"])
