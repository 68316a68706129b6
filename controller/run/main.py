"""``sealgate run``'s process: build, start, wait for SIGTERM or SIGINT, shut down cleanly."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from types import FrameType

from controller.config import ControllerConfig
from controller.errors import SealgateError
from controller.run.wiring import build

log = logging.getLogger("sealgate.run")

LISTENING_PREFIX = "sealgate listening on "
"""Printed on stdout once the HTTP server is bound (``http://host:port``): with ``listen:
127.0.0.1:0`` this is how a supervisor or a test learns the port."""


def main(config: ControllerConfig, stop: threading.Event | None = None) -> int:
    """Run until ``stop`` is set or a signal arrives. 0 on a clean stop, 1 when the start
    failed or in-flight work did not finish within ``reconcile.shutdownTimeout``."""
    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():

        def on_signal(number: int, _frame: FrameType | None) -> None:
            name = signal.Signals(number).name
            if stop.is_set():
                # An operator asking twice wants out now, not after in-flight work.
                log.warning("received %s again: exiting without waiting", name)
                os._exit(1)
            log.info("received %s", name)
            stop.set()

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
    try:
        controller = build(config)
    except (SealgateError, OSError) as exc:
        # OSError: the listen address is taken or a path is unusable; the message says which.
        log.error("cannot start: %s", exc)  # the message names the fix; no traceback
        return 1
    controller.start()
    log.info(
        "started for %s on %s with %d worker(s)%s",
        config.github.repository,
        controller.url,
        config.reconcile.workers,
        ", contending for leadership" if controller.elector is not None else "",
    )
    sys.stdout.write(f"{LISTENING_PREFIX}{controller.url}\n")
    sys.stdout.flush()
    stop.wait()
    return 0 if controller.shutdown() else 1
