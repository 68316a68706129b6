"""Loopback GitHub and Kubernetes API servers, used by the sandbox and the integration tests."""
