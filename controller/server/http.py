"""Serve a WSGI application with werkzeug's threaded server, in a background thread.

werkzeug's ``make_server(threaded=True)`` handles each request on its own thread, which is
enough for this traffic (webhooks answer at once, the rest are small reads); it is the same
server the loopback test servers use. Request lines go to the ``sealgate.http`` logger at
DEBUG rather than to stderr.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

log = logging.getLogger("sealgate.http")


class _RequestHandler(WSGIRequestHandler):
    # A socket timeout per read: a client that stops sending (slowloris) frees its thread
    # instead of holding it forever. Generous, because webhook bodies can be megabytes.
    timeout = 30

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        log.debug("%s %s %s", self.command, self.path.split("?", 1)[0], code)

    def log_error(self, format: str, *args: Any) -> None:
        log.warning("http: " + format, *args)


class HttpServer:
    """Binds at construction (so the port is known, even for port 0); serves on ``start``."""

    def __init__(self, host: str, port: int, app: Any) -> None:
        self._server: BaseWSGIServer = make_server(
            host, port, app, threaded=True, request_handler=_RequestHandler
        )
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._server.server_port)

    @property
    def url(self) -> str:
        host = self._server.host
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{self.port}"

    def start(self) -> None:
        self._thread = threading.Thread(target=self._serve, name="http", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        # The poll interval bounds how long ``stop`` waits for the serving loop to notice.
        self._server.serve_forever(poll_interval=0.1)

    def stop(self) -> None:
        """Stop accepting connections; requests already being served finish on their own."""
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
            self._thread = None
        self._server.server_close()
