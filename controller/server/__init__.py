"""HTTP endpoints: webhooks, health, metrics and the request-status API."""
