"""Pieces of ``sealgate run``: JSON log lines with request context, client loggers capped,
and a checksum key that stays the same across restarts and replicas."""

from __future__ import annotations

import io
import json
import logging
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from controller.errors import IntegrityError
from controller.keyring import LocalKekFile
from controller.logs import log_context, setup_logging
from controller.run.checksum_key import FILE_NAME, checksum_key


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    capped = {name: logging.getLogger(name).level for name in ("urllib3", "kubernetes")}
    stream = io.StringIO()
    try:
        yield stream
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in saved[0]:
            root.addHandler(handler)
        root.setLevel(saved[1])
        for name, level in capped.items():
            logging.getLogger(name).setLevel(level)


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_json_lines_carry_context(captured: io.StringIO) -> None:
    setup_logging("debug", "json", captured)
    log = logging.getLogger("sealgate.test")
    with log_context(repo="acme/requests", pr=7):
        log.info("handling %s", "it")
        log.info("applied", extra={"env": "production", "change_id": "production/pr-7"})
    log.warning("outside")
    first, second, third = lines(captured)
    assert first["message"] == "handling it"
    assert first["level"] == "info"
    assert first["logger"] == "sealgate.test"
    assert (first["repo"], first["pr"]) == ("acme/requests", 7)
    assert str(first["time"]).endswith("+00:00")
    assert (second["env"], second["change_id"]) == ("production", "production/pr-7")
    assert second["pr"] == 7
    assert "repo" not in third


def test_exceptions_are_one_line_with_their_type(captured: io.StringIO) -> None:
    setup_logging("info", "json", captured)
    try:
        raise ValueError("bad")
    except ValueError:
        logging.getLogger("sealgate.test").exception("failed")
    (record,) = lines(captured)
    assert record["error"] == "ValueError"
    assert "Traceback" in str(record["traceback"])


def test_client_loggers_are_capped_at_info(captured: io.StringIO) -> None:
    setup_logging("debug", "json", captured)
    logging.getLogger("urllib3.connectionpool").debug("GET /services/T000/B000/secret-path")
    logging.getLogger("kubernetes.client.rest").debug("response body: {...}")
    logging.getLogger("sealgate.test").debug("ours")
    assert [r["message"] for r in lines(captured)] == ["ours"]


def test_text_format(captured: io.StringIO) -> None:
    setup_logging("info", "text", captured)
    with log_context(repo="acme/requests", pr=3):
        logging.getLogger("sealgate.test").info("hello")
    assert captured.getvalue().rstrip().endswith("sealgate.test: hello repo=acme/requests pr=3")


def test_checksum_key_is_created_once_and_stable(tmp_path: Path) -> None:
    kek = LocalKekFile(tmp_path / "kek.key", create=True)
    first = checksum_key(tmp_path, kek)
    assert len(first) == 32
    assert (tmp_path / FILE_NAME).stat().st_mode & 0o077 == 0
    assert first.hex() not in (tmp_path / FILE_NAME).read_text()  # stored wrapped
    assert checksum_key(tmp_path, LocalKekFile(tmp_path / "kek.key")) == first


def test_checksum_key_refuses_another_kek(tmp_path: Path) -> None:
    checksum_key(tmp_path, LocalKekFile(tmp_path / "kek.key", create=True))
    other = LocalKekFile(tmp_path / "other" / "kek.key", create=True)
    with pytest.raises(IntegrityError):
        checksum_key(tmp_path, other)


def test_checksum_key_file_damaged(tmp_path: Path) -> None:
    (tmp_path / FILE_NAME).write_text("{not json")
    with pytest.raises(IntegrityError, match="checksum key file is unreadable or malformed"):
        checksum_key(tmp_path, LocalKekFile(tmp_path / "kek.key", create=True))


def test_start_fails_cleanly_without_the_kek(tmp_path: Path, captured: io.StringIO) -> None:
    from controller.config import load_config
    from controller.run import main
    from tests.unit.test_config import ENV, MINIMAL

    path = tmp_path / "sealgate.yaml"
    path.write_text(MINIMAL)
    config = load_config(path, ENV)
    setup_logging("info", "json", captured)
    outcome: list[int] = []
    # Off the main thread: main() installs signal handlers only on the main thread.
    runner = threading.Thread(target=lambda: outcome.append(main(config)))
    runner.start()
    runner.join(30)
    assert outcome == [1]
    (record,) = [r for r in lines(captured) if r["logger"] == "sealgate.run"]
    assert record["level"] == "error"
    assert "key-encryption key file is missing" in str(record["message"])
