"""Composes the adapters: one pull request from facts to synced Secrets."""
