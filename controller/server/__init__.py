"""HTTP endpoints: webhooks, health, metrics and the request-status API.

- :mod:`~controller.server.app` — :class:`ControllerApp`, the one WSGI application routing
  ``/webhooks``, ``/healthz``, ``/readyz``, ``/metrics`` and ``/v1/requests/...``, and
  :class:`Readiness`, what ``/readyz`` reports;
- :mod:`~controller.server.webhook_app` — verify, de-duplicate and queue GitHub webhooks;
- :mod:`~controller.server.access_api` — :class:`OpenApi`, ``POST /v1/open`` (when enabled),
  with :mod:`~controller.server.ratelimit`'s token buckets;
- :mod:`~controller.server.http` — :class:`HttpServer`, werkzeug's threaded server in a
  background thread.
"""

from controller.server.access_api import OpenApi
from controller.server.app import ControllerApp, Readiness, StatusSource
from controller.server.http import HttpServer
from controller.server.webhook_app import WebhookApp

__all__ = ["ControllerApp", "HttpServer", "OpenApi", "Readiness", "StatusSource", "WebhookApp"]
