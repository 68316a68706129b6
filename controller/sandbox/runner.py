"""Run ``sealgate run`` as a separate process, the way it runs in production.

Its standard output and error are appended to ``<log dir>/controller.stdout.log`` and
``controller.stderr.log`` across restarts, so everything it ever printed can be read (and
scanned for canaries) afterwards. ``kill`` is SIGKILL: no cleanup, as an OOM kill or a
power cut would leave things.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

import requests

from controller.errors import SealgateError

READY_PATH = "/readyz"
_ENTRY = "import sys; from controller.cli import main; sys.exit(main())"
"""``python -c`` entry: the same ``sealgate`` command line, from this interpreter's packages."""


def sealgate_command(*args: str) -> list[str]:
    """The argv of ``sealgate ARGS...`` run as a child process of this interpreter."""
    return [sys.executable, "-c", _ENTRY, *args]


class ControllerNotReady(SealgateError):
    pass


class ControllerProcess:
    """Start, stop and kill one ``sealgate run --config FILE`` child process."""

    def __init__(
        self,
        config: Path,
        log_dir: Path,
        url: str,
        *,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.config = config
        self.log_dir = log_dir
        self.url = url
        self.env = dict(env or {})
        self.starts = 0
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def stdout_log(self) -> Path:
        return self.log_dir / "controller.stdout.log"

    @property
    def stderr_log(self) -> Path:
        return self.log_dir / "controller.stderr.log"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @property
    def alive(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self, *, crashpoint: str | None = None, wait_ready: float | None = 60.0) -> None:
        """Start the controller (``crashpoint``: a ``SEALGATE_CRASHPOINT`` for this run)."""
        if self.alive:
            raise RuntimeError("the controller is already running")
        self.log_dir.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, **self.env, "PYTHONUNBUFFERED": "1"}
        env.pop("SEALGATE_CRASHPOINT", None)
        if crashpoint is not None:
            env["SEALGATE_CRASHPOINT"] = crashpoint
        with self.stdout_log.open("ab") as out, self.stderr_log.open("ab") as err:
            self._process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
                sealgate_command("run", "--config", str(self.config)),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                env=env,
                start_new_session=True,
            )
        self.starts += 1
        if wait_ready is not None:
            self.wait_ready(wait_ready)

    def ready(self) -> bool:
        try:
            return requests.get(self.url + READY_PATH, timeout=2).status_code == 200
        except requests.RequestException:
            return False

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive:
                code = self._process.returncode if self._process is not None else None
                raise ControllerNotReady(
                    f"sealgate run exited with status {code} before it was ready; "
                    f"see {self.stderr_log}"
                )
            if self.ready():
                return
            time.sleep(0.05)
        raise ControllerNotReady(
            f"sealgate run was not ready within {timeout:.0f}s; see {self.stderr_log}"
        )

    def wait_exit(self, timeout: float) -> int | None:
        if self._process is None:
            return None
        try:
            return self._process.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def kill(self) -> None:
        """SIGKILL, then reap: the next start finds whatever the crash left."""
        if self._process is None:
            return
        if self._process.poll() is None:
            self._process.send_signal(signal.SIGKILL)
        self._process.wait()
        self._process = None

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM (graceful shutdown), SIGKILL if it does not end in time."""
        if self._process is None:
            return
        if self._process.poll() is None:
            self._process.send_signal(signal.SIGTERM)
            try:
                self._process.wait(timeout)
            except subprocess.TimeoutExpired:
                self._process.send_signal(signal.SIGKILL)
                self._process.wait()
        self._process = None

    def __enter__(self) -> ControllerProcess:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
