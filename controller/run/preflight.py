"""What ``sealgate run`` needs before it starts, as one list of checks.

The start (:func:`require_startable`, called by ``wiring.build``) and ``sealgate run
--check`` run the same :func:`offline_checks`, so a configuration ``--check`` passes is one
the start accepts. Every check reports every problem it finds as one line naming the
setting and the fix; none creates anything (a missing store or checksum key is created by
the first start, so only whether it *can* be created is checked).

``--online`` adds :mod:`controller.run.preflight_online` (GitHub and every cluster).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from cryptography.hazmat.primitives.serialization import load_pem_private_key

from controller.config import ConfigError, ControllerConfig
from controller.errors import Problem, SealgateError
from controller.keyring import Keyring, LocalKekFile
from controller.keyring.layout import CHECKSUM_KEY_FILE
from controller.run.checksum_key import checksum_key
from controller.run.preflight_kube import kubeconfig_findings
from controller.store import Store

Level = Literal["error", "note"]


@dataclass(frozen=True, slots=True)
class Finding:
    """One line of the preflight: ``error`` stops the start, ``note`` says what was not
    (or could not be) checked."""

    setting: str
    message: str
    level: Level = "error"

    def __str__(self) -> str:
        return f"{self.setting}: {self.message}"


Check = Callable[[ControllerConfig], Iterator[Finding]]


def offline_checks(config: ControllerConfig) -> list[Finding]:
    """Everything the start refuses, checked without a network."""
    findings: list[Finding] = []
    for check in OFFLINE_CHECKS:
        findings.extend(check(config))
    return findings


def require_startable(config: ControllerConfig) -> None:
    """Raise ConfigError listing every offline problem; the start calls this first."""
    errors = [f for f in offline_checks(config) if f.level == "error"]
    if errors:
        raise ConfigError([Problem(config.source, f.setting, f.message) for f in errors])


# ---------------------------------------------------------------------- keys


def _keys(config: ControllerConfig) -> Iterator[Finding]:
    keys = config.keys
    if keys.kek_provider != "local":
        yield Finding("keys.kek.provider", f"{keys.kek_provider} is not supported: use local")
        return
    directory = keys.dir
    if not directory.exists():
        # Not an error: a first start may precede `keys init` (run in the pod, see
        # docs/production.md); but a controller without keys opens nothing, so say it.
        yield Finding(
            "keys.dir",
            f"{directory} does not exist: nothing sealed can be opened until keys are there; "
            "point keys.dir at the key directory (restore it from backup), or create keys "
            f"with `sealgate keys init --env <env> --key-dir {directory}`",
            "note",
        )
    elif not directory.is_dir():
        yield Finding("keys.dir", f"{directory} is not a directory: point keys.dir at one")
    try:
        kek = LocalKekFile(keys.kek_file)
    except (SealgateError, OSError) as exc:
        yield Finding("keys.kek.file", _why(exc))
        return
    if not directory.is_dir():
        if not directory.exists() and not _creatable(directory):
            yield Finding(
                "keys.dir",
                f"{directory} cannot be created: the first start writes the checksum key "
                "there; create the directory or fix keys.dir",
            )
        return
    keyring = Keyring(directory, kek)
    try:
        keyring.key_set()
        found = keyring.list_keys()
    except SealgateError as exc:
        yield Finding("keys.dir", _why(exc))
        return
    if not found:
        yield Finding(
            "keys.dir",
            f"{directory} holds no sealing keys: nothing sealed could be opened; create them "
            f"with `sealgate keys init --env <env> --key-dir {directory}` (or point keys.dir "
            "at the right directory)",
            "note",
        )
    if (directory / CHECKSUM_KEY_FILE).exists():
        try:
            checksum_key(directory, kek)
        except SealgateError as exc:
            yield Finding("keys.dir", _why(exc))
    elif not os.access(directory, os.W_OK):
        yield Finding(
            "keys.dir",
            f"{directory} is not writable and has no {CHECKSUM_KEY_FILE}: the first start "
            "creates it there; make the directory writable or copy the file from a replica",
        )


def _store(config: ControllerConfig) -> Iterator[Finding]:
    path = config.store.path
    if not path.exists():
        parent = _existing_parent(path)
        if not _creatable(path):
            yield Finding(
                "store.path",
                f"{path} does not exist and cannot be created ({parent} is not a writable "
                "directory): create it, or point store.path at the store",
            )
        else:
            yield Finding(
                "store.path",
                f"{path} does not exist: the first start creates an empty store there "
                "(restore it from its remote instead if this controller ran before)",
                "note",
            )
        return
    if not (path / "HEAD").is_file() or not (path / "objects").is_dir():
        yield Finding(
            "store.path",
            f"{path} exists but is not a bare git repository: point store.path at the "
            "store, or at a path that does not exist yet",
        )
        return
    if not os.access(path, os.W_OK):
        yield Finding("store.path", f"{path} is not writable: the controller writes the store")
    try:
        kek = LocalKekFile(config.keys.kek_file)
    except (SealgateError, OSError):
        return  # already reported under keys.kek.file
    try:
        with Store(path, kek, Keyring(config.keys.dir, kek)) as store:
            store.unwrap_data_keys()
    except SealgateError as exc:
        yield Finding("store.path", _why(exc))


# ---------------------------------------------------------------------- github, notify


def _github(config: ControllerConfig) -> Iterator[Finding]:
    app = config.github.app
    if app is None:
        return
    try:
        load_pem_private_key(app.private_key.reveal().encode(), password=None)
    except (ValueError, TypeError):
        # The loader's own message never includes key material.
        yield Finding(
            "github.app.privateKey",
            f"{app.private_key.source} is not a readable unencrypted PEM private key: use "
            "the .pem file downloaded from the App's settings",
        )


def _notify(config: ControllerConfig) -> Iterator[Finding]:
    smtp = config.notify.smtp
    if smtp is not None and smtp.ca_file is not None and not _readable_file(smtp.ca_file):
        yield Finding("notify.smtp.caFile", f"cannot read {smtp.ca_file}: mount it or fix the path")


def _clusters(config: ControllerConfig) -> Iterator[Finding]:
    for index, cluster in enumerate(config.clusters):
        yield from (
            Finding(f"clusters[{index}].{setting}", message)
            for setting, message in kubeconfig_findings(cluster)
        )


OFFLINE_CHECKS: tuple[Check, ...] = (_keys, _store, _github, _notify, _clusters)


# ---------------------------------------------------------------------- helpers


def _why(exc: BaseException) -> str:
    if isinstance(exc, OSError):
        return f"{exc.filename}: {exc.strerror or type(exc).__name__}"
    return str(exc)


def _existing_parent(path: Path) -> Path | None:
    for parent in path.parents:
        if parent.exists():
            return parent
    return None


def _creatable(path: Path) -> bool:
    parent = _existing_parent(path)
    return parent is not None and parent.is_dir() and os.access(parent, os.W_OK)


def _readable_file(path: Path) -> bool:
    try:
        return stat.S_ISREG(path.stat().st_mode) and os.access(path, os.R_OK)
    except OSError:
        return False
